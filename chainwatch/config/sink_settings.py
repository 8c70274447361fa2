"""The `sinks:` section of the job config: where findings (and dead letters) go, in which format.

One sink system for every output: stdout, a folder of JSON Lines files, Splunk HEC, a Kafka topic.
A sink carries findings (`stream: findings`, the default) or dead letters (`stream:
dead_letters`: the records the job could not read and the findings a sink could not deliver, as
JSON {ref, reason, raw}; stdout, file or kafka). The 0.x keys `kafka.findings_topic`,
`kafka.dead_letter_topic` and `kafka.delivery_guarantee` still work for one release: they
become kafka sinks here (migrate_legacy_kafka), with a warning saying what to write instead.

Loaded by chainwatch/config/job_config.py with the same strict Section reader as every other section
(every problem names file, key and line). Kept apart from job_config.py because it is the sinks'
own vocabulary, and free of PyFlink so `chainwatch validate` stays light.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable
from urllib.parse import urlsplit

from chainwatch.core.schema import Section
from chainwatch.findings.render import FORMATS
from chainwatch.findings.splunk_hec import EVENT_FORMATS, HecFields
from chainwatch.sinks.secrets import SecretSource

STREAMS = ("findings", "dead_letters")
GUARANTEES = ("at-least-once", "exactly-once", "none")
_COMMON = ("name", "type", "stream", "format", "event_format")


@dataclass(frozen=True)
class SinkType:
    """A sink type, registered once: the keys it takes beyond the common ones, the streams it
    can carry, and how it reads its own settings. How a job attaches it is its entry in
    flink.sinks.ATTACH (a test checks every type has one)."""
    name: str
    keys: tuple[str, ...]
    streams: tuple[str, ...]
    options: Callable      # (item Section, resolve, default kafka guarantee) -> SinkConfig fields


def _no_options(item: Section, resolve, default_guarantee: str) -> dict:
    return {}


def _file_options(item: Section, resolve, default_guarantee: str) -> dict:
    return {"path": resolve(item.str("path"))}


def _kafka_options(item: Section, resolve, default_guarantee: str) -> dict:
    topic = item.str("topic")
    if topic is not None and not _TOPIC.match(topic):
        item._problem("topic", "a Kafka topic name is 1-249 letters, digits, '.', '_' or '-'")
    guarantee = item.str("delivery_guarantee", default_guarantee, choices=GUARANTEES)
    return {"topic": topic, "delivery_guarantee": guarantee or default_guarantee}


def _hec_options(item: Section, resolve, default_guarantee: str) -> dict:
    url = item.str("url")
    if url is not None:
        _check_url(item, url)
    token = _token(item, resolve)
    options = dict(
        url=url, token=token,
        index=item.str("index", None), sourcetype=item.str("sourcetype", None),
        source=item.str("source", "chainwatch"), host=item.str("host", None),
        batch_size=item.int("batch_size", 100, minimum=1),
        max_batch_bytes=_at_least(item, "max_batch_bytes", item.size("max_batch_bytes", "1MB"), 1024, "1KB"),
        flush_interval_ms=_at_least(item, "flush_interval", item.duration("flush_interval", "5s"), 10, "10ms"),
        max_retries=item.int("max_retries", 5, minimum=0),
        retry_backoff_ms=_at_least(item, "retry_backoff", item.duration("retry_backoff", "500ms"), 1, "1ms"),
        max_backoff_ms=_at_least(item, "max_backoff", item.duration("max_backoff", "30s"), 1, "1ms"),
        timeout_ms=_at_least(item, "timeout", item.duration("timeout", "10s"), 100, "100ms"),
        verify_tls=item.bool("verify_tls", True),
        ca_file=resolve(item.str("ca_file", None)),
    )
    if options["ca_file"] and options["verify_tls"] is False:
        item._problem("ca_file", "a CA bundle is only used with verify_tls: true")
    return {k: v for k, v in options.items() if v is not None or k in ("url", "token")}


SINK_TYPES = {kind.name: kind for kind in (
    SinkType("stdout", (), STREAMS, _no_options),
    SinkType("file", ("path",), STREAMS, _file_options),
    SinkType("hec", ("url", "token_env", "token_file", "index", "sourcetype", "source", "host", "batch_size",
                     "max_batch_bytes", "flush_interval", "max_retries", "retry_backoff", "max_backoff", "timeout",
                     "verify_tls", "ca_file"), ("findings",), _hec_options),
    SinkType("kafka", ("topic", "delivery_guarantee"), STREAMS, _kafka_options),
)}
DEAD_LETTER_TYPES = tuple(name for name, kind in SINK_TYPES.items() if "dead_letters" in kind.streams)
_ALL_KEYS = set(_COMMON).union(*(kind.keys for kind in SINK_TYPES.values()))
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


@dataclass(frozen=True)
class SinkConfig:
    name: str
    type: str
    stream: str = "findings"          # or dead_letters
    format: str = "ocsf"
    event_format: str = "ocsf"
    path: str | None = None
    url: str | None = None
    token: SecretSource | None = None
    index: str | None = None
    sourcetype: str | None = None
    source: str = "chainwatch"
    host: str | None = None
    batch_size: int = 100
    max_batch_bytes: int = 1_000_000
    flush_interval_ms: int = 5_000
    max_retries: int = 5
    retry_backoff_ms: int = 500
    max_backoff_ms: int = 30_000
    timeout_ms: int = 10_000
    verify_tls: bool = True
    ca_file: str | None = None
    topic: str | None = None          # kafka: findings keyed by finding uid, dead letters by ref
    delivery_guarantee: str = "at-least-once"   # kafka: or exactly-once (transactions), none

    @property
    def hec_fields(self) -> HecFields:
        return HecFields(self.host, self.source, self.sourcetype, self.index, self.event_format)


# Without a `sinks:` section findings go to stdout as OCSF, as before sinks were configurable.
DEFAULT_SINKS = (SinkConfig(name="findings", type="stdout"),)


def load_sinks(root: Section, resolve, default_guarantee: str = "at-least-once") -> tuple[SinkConfig, ...]:
    """resolve: the config's path resolver (relative to the config file's folder);
    default_guarantee: a kafka sink's delivery_guarantee when it sets none."""
    if root.raw("sinks", None) is None:
        return DEFAULT_SINKS
    items = root.sections("sinks")
    if not items and isinstance(root.data["sinks"], list):
        root._problem("sinks", "at least one sink is required (leave `sinks` out for OCSF on stdout)")
    sinks, names = [], set()
    for item in items:
        sink = _sink(item, resolve, default_guarantee)
        if sink is None:
            continue
        if sink.name in names:
            item._problem("name", f"another sink is already named {sink.name!r}")
        names.add(sink.name)
        sinks.append(sink)
    return tuple(sinks)


def _sink(item: Section, resolve, default_guarantee: str) -> SinkConfig | None:
    name = item.str("name")
    if name is not None and not _NAME.match(name):
        item._problem("name", f"use letters, digits, '.', '_' or '-' (it names operators and files), got {name!r}")
    kind = item.str("type", choices=tuple(SINK_TYPES))
    if kind is None:
        item.used.update(_ALL_KEYS | {"token"})  # the type is wrong: do not pile up follow-on problems
        return None
    if "token" in item.data:
        item.used.add("token")
        item._problem("token", "a secret never goes in the config file: set token_env (an environment "
                               "variable) or token_file (a file holding the token)")
    for key in item.data:
        if key in _ALL_KEYS and key not in _COMMON + SINK_TYPES[kind].keys:
            item.used.add(key)
            item._problem(key, f"not used by a {kind} sink")
    stream = item.str("stream", "findings", choices=STREAMS) or "findings"
    if stream == "dead_letters":
        if kind not in DEAD_LETTER_TYPES:
            item._problem("stream", f"a {kind} sink takes findings only: send dead letters to "
                                    f"{', '.join(DEAD_LETTER_TYPES)}")
        for key in ("format", "event_format"):
            if key in item.data:
                item.used.add(key)
                item._problem(key, "dead letters are written as they are (JSON {ref, reason, raw}): "
                                   "a format is for findings")
    fmt = item.str("format", "hec" if kind == "hec" else "ocsf", choices=FORMATS)
    if kind == "hec" and fmt not in (None, "hec"):
        item._problem("format", f"a hec sink sends HEC envelopes: use format hec, with event_format: {fmt} "
                                f"for {fmt.upper()} events inside them")
    if "event_format" in item.data and fmt != "hec" and stream == "findings":
        item._problem("event_format", "only used with format hec (the document inside the HEC envelope)")
    event_format = item.str("event_format", "ocsf", choices=EVENT_FORMATS)
    common = dict(name=name or "", type=kind, stream=stream, format=fmt or "ocsf", event_format=event_format or "ocsf")
    sink = SinkConfig(**common, **SINK_TYPES[kind].options(item, resolve, default_guarantee))
    item.reject_unknown()
    return sink


def _check_url(item: Section, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        item._problem("url", f"expected http(s)://host[:port] of the HEC endpoint, got {url!r}")
    elif parts.username or parts.password:
        item._problem("url", "credentials do not belong in the URL: use token_env or token_file")
    elif parts.query or parts.fragment:
        item._problem("url", "expected no query or fragment: chainwatch adds /services/collector/event")


def _token(item: Section, resolve) -> SecretSource | None:
    env, file = item.str("token_env", None), item.str("token_file", None)
    if env and file:
        item._problem("token_file", "set token_env or token_file, not both")
        return None
    if env is None and file is None:
        if "token_env" not in item.data and "token_file" not in item.data:
            item._problem("token_env", "a hec sink needs its token: token_env (an environment variable) "
                                       "or token_file (a file holding the token)")
        return None
    if env is not None and not _ENV_NAME.match(env):
        # The value is not echoed: a token pasted here by mistake must not reach the terminal.
        item._problem("token_env", "expected the name of an environment variable (letters, digits, _), "
                                   "not the token itself")
        return None
    return SecretSource(env=env) if env else SecretSource(file=resolve(file))


def _at_least(item: Section, key: str, value, minimum: int, shown: str):
    if value is not None and value < minimum:
        item._problem(key, f"must be at least {shown}")
    return value


def migrate_legacy_kafka(legacy, sinks: tuple[SinkConfig, ...], sinks_configured: bool, problems: list,
                         warnings: list) -> tuple[SinkConfig, ...]:
    """The deprecated kafka.findings_topic / dead_letter_topic / delivery_guarantee as kafka sinks,
    exactly as the job used them (findings went to the topic and to the `sinks:`, stdout when
    there were none), with a warning at each key saying what to write instead. legacy:
    config.source_settings.LegacyKafkaOutputs."""
    guarantee = legacy.delivery_guarantee or "at-least-once"
    taken = {s.name for s in sinks}
    added = []
    for key, topic, stream, wanted in (("findings_topic", legacy.findings_topic, "findings", "kafka-findings"),
                                       ("dead_letter_topic", legacy.dead_letter_topic, "dead_letters",
                                        "kafka-dead-letters")):
        if not topic:
            continue
        where = legacy.where[key]
        if any(s.type == "kafka" and s.topic == topic and s.stream == stream for s in sinks):
            problems.append(replace(where, message=f"a kafka sink already sends {stream.replace('_', ' ')} to "
                                                   f"{topic!r}: remove this key (deprecated)"))
            continue
        name, n = wanted, 2
        while name in taken:
            name, n = f"{wanted}-{n}", n + 1
        taken.add(name)
        sink = SinkConfig(name=name, type="kafka", stream=stream, topic=topic, delivery_guarantee=guarantee)
        added.append(sink)
        entry = f"{{name: {name}, type: kafka, topic: {topic}"
        entry += ", stream: dead_letters" if stream == "dead_letters" else ", format: ocsf"
        entry += f", delivery_guarantee: {guarantee}}}" if legacy.delivery_guarantee else "}"
        also = "" if sinks_configured or stream == "dead_letters" else (
            " (there is no `sinks:` section, so findings also go to stdout as before: add "
            "{name: findings, type: stdout} to keep that)")
        warnings.append(replace(where, message=f"deprecated, and removed in the next release: Kafka is a sink "
                                               f"type now. Read as the sink {entry}; write that entry under "
                                               f"`sinks:` instead{also}"))
    if legacy.delivery_guarantee and "delivery_guarantee" in legacy.where:
        warnings.append(replace(legacy.where["delivery_guarantee"], message=(
            "deprecated, and removed in the next release: set delivery_guarantee on each kafka sink "
            f"(until then it is the default of kafka sinks that set none: {legacy.delivery_guarantee})")))
    if not added:
        return sinks
    return tuple(sinks) + tuple(added)
