"""The `sinks:` section of the job config: where findings go and in which format.

Loaded by chainwatch/config.py with the same strict Section reader as every other section
(every problem names file, key and line). Kept apart from config.py because it is the sinks'
own vocabulary, and free of PyFlink so `chainwatch validate` stays light.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from chainwatch.findings.render import FORMATS
from chainwatch.findings.splunk_hec import EVENT_FORMATS, HecFields
from chainwatch.schema import Section
from chainwatch.sinks.secrets import SecretSource

TYPES = ("stdout", "file", "hec")
_COMMON = ("name", "type", "format", "event_format")
_KEYS_BY_TYPE = {
    "stdout": _COMMON,
    "file": _COMMON + ("path",),
    "hec": _COMMON + ("url", "token_env", "token_file", "index", "sourcetype", "source", "host", "batch_size",
                      "max_batch_bytes", "flush_interval", "max_retries", "retry_backoff", "max_backoff", "timeout",
                      "verify_tls", "ca_file"),
}
_ALL_KEYS = set().union(*_KEYS_BY_TYPE.values())
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SinkConfig:
    name: str
    type: str
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

    @property
    def hec_fields(self) -> HecFields:
        return HecFields(self.host, self.source, self.sourcetype, self.index, self.event_format)


# Without a `sinks:` section findings go to stdout as OCSF, as before sinks were configurable.
DEFAULT_SINKS = (SinkConfig(name="findings", type="stdout"),)


def load_sinks(root: Section, resolve) -> tuple[SinkConfig, ...]:
    """resolve: the config's path resolver (relative to the config file's folder)."""
    if root.raw("sinks", None) is None:
        return DEFAULT_SINKS
    items = root.sections("sinks")
    if not items and isinstance(root.data["sinks"], list):
        root._problem("sinks", "at least one sink is required (leave `sinks` out for OCSF on stdout)")
    sinks, names = [], set()
    for item in items:
        sink = _sink(item, resolve)
        if sink is None:
            continue
        if sink.name in names:
            item._problem("name", f"another sink is already named {sink.name!r}")
        names.add(sink.name)
        sinks.append(sink)
    return tuple(sinks)


def _sink(item: Section, resolve) -> SinkConfig | None:
    name = item.str("name")
    if name is not None and not _NAME.match(name):
        item._problem("name", f"use letters, digits, '.', '_' or '-' (it names operators and files), got {name!r}")
    kind = item.str("type", choices=TYPES)
    if kind is None:
        item.used.update(_ALL_KEYS | {"token"})  # the type is wrong: do not pile up follow-on problems
        return None
    if "token" in item.data:
        item.used.add("token")
        item._problem("token", "a secret never goes in the config file: set token_env (an environment "
                               "variable) or token_file (a file holding the token)")
    for key in item.data:
        if key in _ALL_KEYS and key not in _KEYS_BY_TYPE[kind]:
            item.used.add(key)
            item._problem(key, f"not used by a {kind} sink")
    fmt = item.str("format", "hec" if kind == "hec" else "ocsf", choices=FORMATS)
    if kind == "hec" and fmt not in (None, "hec"):
        item._problem("format", f"a hec sink sends HEC envelopes: use format hec, with event_format: {fmt} "
                                f"for {fmt.upper()} events inside them")
    if "event_format" in item.data and fmt != "hec":
        item._problem("event_format", "only used with format hec (the document inside the HEC envelope)")
    event_format = item.str("event_format", "ocsf", choices=EVENT_FORMATS)
    common = dict(name=name or "", type=kind, format=fmt or "ocsf", event_format=event_format or "ocsf")
    if kind == "stdout":
        item.reject_unknown()
        return SinkConfig(**common)
    if kind == "file":
        path = resolve(item.str("path"))
        item.reject_unknown()
        return SinkConfig(**common, path=path)
    sink = SinkConfig(**common, **_hec_options(item, resolve))
    item.reject_unknown()
    return sink


def _hec_options(item: Section, resolve) -> dict:
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
