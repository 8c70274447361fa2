"""The `sources:` and `kafka:` sections of the job config: where telemetry comes from.

A source is a folder of files watched continuously, or a Kafka topic (one per telemetry type
is the usual layout). Kafka connection settings are shared by every Kafka source and sink
(findings and dead letters go to Kafka through `type: kafka` sinks, sinks/settings.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from chainwatch.core.errors import Problem
from chainwatch.core.schema import Section
from chainwatch.core.units import parse_timestamp_ms
from chainwatch.parsers import FORMATS

SOURCE_TYPES = ("files", "kafka")
START_POSITIONS = ("earliest", "latest", "committed")
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    group_id: str = "chainwatch"
    # Passed to the Kafka clients as is (security.protocol, sasl.*, ...); values may name
    # environment variables (${VAR}) so that secrets stay out of the file.
    properties: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LegacyKafkaOutputs:
    """kafka.findings_topic, kafka.dead_letter_topic and kafka.delivery_guarantee: deprecated, read
    as kafka sinks for one release (config.sink_settings.migrate_legacy_kafka)."""
    findings_topic: str = ""
    dead_letter_topic: str = ""
    delivery_guarantee: str | None = None      # None: not set
    where: dict = field(default_factory=dict)  # key -> Problem (file, dotted key, line) to warn at


@dataclass(frozen=True)
class SourceConfig:
    name: str
    type: str
    paths: tuple[str, ...] = ()
    format: str = "auto"
    monitor_interval_ms: int = 10_000
    topic: str = ""
    start: str = "committed"          # earliest | latest | committed (earliest when nothing committed)
    start_timestamp_ms: int | None = None   # start: <ISO timestamp> (backfill from a point in time)
    group_id: str = ""


def load_kafka(root: Section) -> tuple[KafkaConfig, LegacyKafkaOutputs]:
    section = root.section("kafka")
    # The environment wins over the file: the same config runs against a test broker or a real cluster.
    # The file's value is read (and checked) either way, or it would be reported as an unknown key.
    from_file = section.str("bootstrap_servers", DEFAULT_BOOTSTRAP)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or from_file
    properties = section.section("properties")
    props = {str(k): os.path.expandvars(str(v)) for k, v in properties.data.items()}
    properties.used.update(properties.data)
    kafka = KafkaConfig(bootstrap, section.str("group_id", "chainwatch"), props)
    legacy_keys = ("findings_topic", "dead_letter_topic", "delivery_guarantee")
    legacy = LegacyKafkaOutputs(
        section.str("findings_topic", ""), section.str("dead_letter_topic", ""),
        section.str("delivery_guarantee", None, choices=("at-least-once", "exactly-once", "none")),
        {key: Problem(section._file(key), section._key(key), "", section._line(key))
         for key in legacy_keys if key in section.data})
    section.reject_unknown()
    return kafka, legacy


def load_sources(root: Section, resolve, problems: list[Problem], file: str) -> tuple[SourceConfig, ...]:
    sources = []
    for src in root.sections("sources", required=True):
        kind = src.str("type", "files", choices=SOURCE_TYPES)
        common = dict(name=src.str("name"), type=kind, format=src.str("format", "auto", choices=FORMATS))
        if kind == "kafka":
            start, start_ts = _start_position(src)
            sources.append(SourceConfig(**common, topic=src.str("topic"), start=start, start_timestamp_ms=start_ts,
                                        group_id=src.str("group_id", "")))
        else:
            sources.append(SourceConfig(**common, paths=tuple(resolve(p) for p in src.str_list("paths")),
                                        monitor_interval_ms=src.duration("monitor_interval", "10s")))
            if not sources[-1].paths:
                src._problem("paths", "at least one file or folder is required")
        src.reject_unknown()
    if not sources and not [p for p in problems if p.key == "sources"]:
        problems.append(Problem(file, "sources", "at least one source is required"))
    names = [s.name for s in sources]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(Problem(file, "sources", f"source name {name!r} is used twice"))
    return tuple(sources)


def _start_position(src: Section) -> tuple[str, int | None]:
    value = src.raw("start", "committed")
    if hasattr(value, "isoformat"):       # YAML reads an unquoted timestamp as a datetime
        value = value.isoformat()
    if not isinstance(value, str):
        src._problem("start", f"expected earliest, latest, committed or an ISO-8601 timestamp, got {value!r}")
        return "committed", None
    if value in START_POSITIONS:
        return value, None
    try:
        return "timestamp", parse_timestamp_ms(value)
    except ValueError:
        src._problem("start", f"expected earliest, latest, committed or an ISO-8601 timestamp, got {value!r}")
        return "committed", None
