"""The job configuration: strict loading of conf/*.yaml into frozen dataclasses.

Relative paths in a config file are resolved against that file's folder, so the
job behaves the same whatever the working directory.
"""
from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from dataclasses import dataclass
from pathlib import Path

from chainwatch.config.sink_settings import DEFAULT_SINKS, SinkConfig, load_sinks, migrate_legacy_kafka
from chainwatch.config.source_settings import KafkaConfig, SourceConfig, load_kafka, load_sources
from chainwatch.core.errors import ChainwatchError, Problem
from chainwatch.core.event import DEFAULT_MAX_AHEAD_MS, EARLIEST_EVENT_MS
from chainwatch.core.providers import CLOUDS
from chainwatch.core.schema import Section
from chainwatch.core.yamlfile import load_yaml
from chainwatch.parsers.catalogs import ReferenceLists, load_reference_lists
from chainwatch.steps.allowlist import Allowlist, load_allowlist
from chainwatch.steps.registry import SECTION_TYPES, STEPS

# Shipped with the package (package data), so every command works from any folder with no --conf;
# `chainwatch init DIR` writes an editable copy. In a checkout, conf/ and patterns/ link here.
DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "defaults"
DEFAULT_CONFIG = DEFAULTS_DIR / "conf" / "chainwatch.yaml"


@dataclass(frozen=True)
class TimeConfig:
    watermark_delay_ms: int
    idle_timeout_ms: int
    resume_hold_ms: int = 60_000                  # after an idle input resumes, it holds event time this long
    earliest_event_ms: int = EARLIEST_EVENT_MS    # an event time before this is a dead letter
    max_ahead_ms: int = DEFAULT_MAX_AHEAD_MS      # ... and one later than the wall clock plus this
    quiet_flush_ms: int = 15 * 60_000             # quiet this long, an input's latest event time goes out (run)


@dataclass(frozen=True)
class NetworkConfig:
    org_cidrs: tuple = ()
    egress_allowlist: tuple = ()


@dataclass(frozen=True)
class GeoIPConfig:
    city_db: str | None = None
    asn_db: str | None = None


@dataclass(frozen=True)
class JobConfig:
    parallelism: int
    python_execution_mode: str
    state_ttl_ms: int
    checkpoint_interval_ms: int
    max_event_ids_per_step: int
    checkpoint_dir: str | None = None      # file:// or object-store URI; None: Flink's default (in memory)
    key_buckets: int = 64                  # what Flink keys the step operators by (steps.lanes)


@dataclass(frozen=True)
class InventoryConfig:
    """Asset inventory exports (enrich.asset_inventory): loaded at start, again when a file changes."""
    files: tuple = ()
    refresh_ms: int = 60_000


@dataclass(frozen=True)
class CoverageConfig:
    """Evidence stream coverage (steps.coverage_watch): how long an account's object-access or flow
    stream may be silent while its audit stream flows before that is a coverage finding."""
    silence_ms: int = 2 * 3600_000


@dataclass(frozen=True)
class _JobSettings:
    path: str
    sources: tuple[SourceConfig, ...]
    kafka: KafkaConfig
    patterns_dir: str
    time: TimeConfig
    networks: NetworkConfig
    geoip: GeoIPConfig
    job: JobConfig
    reference: ReferenceLists
    sinks: tuple[SinkConfig, ...] = DEFAULT_SINKS
    allowlist: Allowlist = Allowlist()
    # Deprecated keys still honoured, each saying how to migrate (`chainwatch validate` prints them,
    # the job logs them).
    warnings: tuple[Problem, ...] = ()
    coverage: CoverageConfig = CoverageConfig()
    inventory: InventoryConfig = InventoryConfig()


# The job config: the settings above plus one section per step kind (config.novelty, config.spike,
# ...), each the dataclass steps.registry makes from the kind's parameters, so a new step kind
# brings its section with it. Named in this module, so it pickles by reference into the job.
Config = dataclasses.make_dataclass(
    "Config", [(attr, section, dataclasses.field(kw_only=True)) for attr, section in SECTION_TYPES.items()],
    bases=(_JobSettings,), frozen=True, namespace={"__module__": __name__})


def _resolve(base: Path, value: str | None) -> str | None:
    if value is None:
        return None
    expanded = os.path.expandvars(os.path.expanduser(value))
    return str((base / expanded).resolve()) if not os.path.isabs(expanded) else expanded


def _expected_networks(section: Section) -> dict:
    """principal ARN, role ARN or account id -> tuple of CIDR networks and 'AS<n>' strings."""
    result = {}
    for owner in section.data:
        entries = []
        for text in section.str_list(owner):
            if text.upper().startswith("AS") and text[2:].isdigit():
                entries.append(f"AS{int(text[2:])}")
            else:
                networks = Section({owner: [text]}, section.file, section.path, section.problems,
                                   section._line(owner)).cidr_list(owner)
                entries.extend(networks)
        result[str(owner)] = tuple(entries)
    return result


def _peer_baselines(section: Section) -> dict:
    return {str(group): section.float(group, minimum=0) for group in section.data}


def config_file(path: str | Path | None = None) -> Path:
    """The config a command uses: the one given, else $CHAINWATCH_CONF, else the packaged default."""
    return Path(path or os.environ.get("CHAINWATCH_CONF") or DEFAULT_CONFIG).resolve()


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a config file; raises ChainwatchError listing every problem."""
    path = config_file(path)
    base = path.parent
    problems: list[Problem] = []
    data, files = _with_include(load_yaml(path), path, problems)
    root = Section(data, str(path), "", problems, files=files)

    sources = load_sources(root, lambda p: _resolve(base, p), problems, str(path))
    warnings: list[Problem] = []
    kafka, legacy_kafka = load_kafka(root)

    time_s = root.section("time")
    earliest = time_s.raw("earliest_event", None)
    if hasattr(earliest, "isoformat"):  # YAML reads an unquoted timestamp (or date) as a datetime (date)
        earliest = earliest.isoformat()
    earliest_ms = _timestamp(time_s, "earliest_event", earliest)
    time_cfg = TimeConfig(time_s.duration("watermark_delay", "15m"), time_s.duration("idle_timeout", "1m"),
                          time_s.duration("resume_hold", "1m"),
                          EARLIEST_EVENT_MS if earliest_ms is None else earliest_ms,
                          time_s.duration("max_ahead", "1d"))
    flush = time_s.duration("quiet_flush", None)    # unset: the watermark delay, the same bound on lateness
    time_cfg = dataclasses.replace(time_cfg, quiet_flush_ms=time_cfg.watermark_delay_ms if flush is None else flush)
    time_s.reject_unknown()

    enrich = root.section("enrichment")
    nets = enrich.section("networks")
    networks = NetworkConfig(nets.cidr_list("org_cidrs"), nets.cidr_list("egress_allowlist"))
    nets.reject_unknown()
    geo = enrich.section("geoip")
    geoip = GeoIPConfig(_resolve(base, geo.str("city_db", None)), _resolve(base, geo.str("asn_db", None)))
    geo.reject_unknown()
    assets_s = enrich.section("inventory")
    asset_files = tuple(_resolve(base, f) for f in assets_s.str_list("files"))
    inventory = InventoryConfig(asset_files, assets_s.duration("refresh", "1m"))
    assets_s.reject_unknown()
    enrich.reject_unknown()

    steps = root.section("steps", required=True)
    sections = _step_sections(steps, base)      # derived from steps.registry
    steps.reject_unknown()
    warnings += _legacy_trust(steps.section("cross_account_entry"), sections["cross_account"])

    job_s = root.section("job")
    job = JobConfig(
        parallelism=job_s.int("parallelism", 1, minimum=1),
        python_execution_mode=job_s.str("python_execution_mode", "process", choices=("process", "thread")),
        state_ttl_ms=job_s.duration("state_ttl", "30d"),
        checkpoint_interval_ms=job_s.duration("checkpoint_interval", "1m"),
        max_event_ids_per_step=job_s.int("max_event_ids_per_step", 500, minimum=1),
        checkpoint_dir=_storage_uri(base, job_s.str("checkpoint_dir", None)),
        key_buckets=job_s.int("key_buckets", 64, minimum=1),
    )
    job_s.reject_unknown()

    patterns_dir = _resolve(base, root.str("patterns", "../patterns"))
    ref_files = root.section("reference")
    reference_paths = {name: _reference_files(base, ref_files, name) for name in ("privileged_apis", "creation_events")}
    # optional: the shipped lists, as a job written before they existed has none
    reference_paths["evidence_changes"] = _reference_files(base, ref_files, "evidence_changes", False) or [
        str(DEFAULTS_DIR / "conf" / cloud / "evidence_changes.yaml") for cloud in CLOUDS]
    ref_files.reject_unknown()
    coverage_s = root.section("coverage")
    coverage = CoverageConfig(silence_ms=coverage_s.duration("silence", "2h"))
    coverage_s.reject_unknown()
    sinks = load_sinks(root, lambda value: _resolve(base, value), legacy_kafka.delivery_guarantee or "at-least-once")
    sinks = migrate_legacy_kafka(legacy_kafka, sinks, root.data.get("sinks") is not None, problems, warnings)
    allowlist_path = _resolve(base, root.str("allowlist", None))
    root.reject_unknown()

    if problems:
        raise ChainwatchError(problems)
    reference = load_reference_lists(reference_paths)
    if inventory.files:       # checked here, so `validate` and every command name a bad export
        from chainwatch.enrich.asset_inventory import load_assets
        load_assets(inventory.files)
    return Config(str(path), sources, kafka, patterns_dir, time_cfg, networks, geoip, job, reference, sinks,
                  load_allowlist(allowlist_path), tuple(warnings), coverage, inventory, **sections)


def _param(section: Section, param, base: Path):
    """One step parameter (steps.registry.Param) from its config section, by its kind."""
    if param.kind in ("duration", "size", "str_list"):
        return getattr(section, param.kind)(param.name, param.default)
    if param.kind in ("int", "float"):
        return getattr(section, param.kind)(param.name, param.default, minimum=param.minimum)
    if param.kind == "timestamp":
        value = section.raw(param.name, None)
        if isinstance(value, datetime):  # YAML reads an unquoted timestamp as a datetime
            value = value.isoformat()
        return _timestamp(section, param.name, value)
    if param.kind == "path":
        return _resolve(base, section.str(param.name, None))
    if param.kind == "float_map":
        return _peer_baselines(section.section(param.name))
    if param.kind == "provider_list":
        return _providers(section, param.name)
    return _expected_networks(section.section(param.name))      # network_map


def _providers(section: Section, key: str) -> tuple:
    """first_party_providers: each a provider (string) or {provider, subjects}: ((pattern, subjects), ...)."""
    value = section.raw(key, [])
    if not isinstance(value, list):
        section._problem(key, "expected a list of providers")
        return ()
    providers = []
    for n, item in enumerate(value):
        if isinstance(item, str) and item:
            providers.append((item, ()))
            continue
        entry = Section(item, section._file(key), f"{section._key(key)}[{n}]", section.problems, section._line(key))
        provider, subjects = entry.str("provider"), entry.str_list("subjects")
        entry.reject_unknown()
        if provider:
            providers.append((provider, subjects))
    return tuple(providers)


def _step_sections(steps: Section, base: Path) -> dict:
    """{Config attribute: its dataclass} for every step kind of the registry."""
    result = {}
    for kind in STEPS:
        section = steps.section(kind.section)
        result[kind.config_attr] = SECTION_TYPES[kind.config_attr](
            **{param.field: _param(section, param, base) for param in kind.params})
        section.reject_unknown()
    return result


def _legacy_trust(section: Section, cross) -> list[Problem]:
    """trusted_accounts / trusted_principals trust a caller from anywhere to assume any role: still
    honoured, with a warning that shows the narrow allowlist entry to write instead."""
    warnings = []
    for key, who, names in (("trusted_accounts", "accounts", cross.trusted_accounts),
                            ("trusted_principals", "principals", cross.trusted_principals)):
        for name in names:
            warnings.append(Problem(
                section._file(key), section._key(key),
                f"{name} is trusted from any network to assume any role, so a theft of its credentials goes "
                f"unseen; move it to the allowlist file (top-level `allowlist:`) as a narrow entry: "
                f"{{id: ..., who: {{{who}: [{name!r}]}}, may_assume: [<role ARNs>], from: {{cidrs: [...], "
                f"asns: [...]}}, owner: ..., reason: ..., expires: <date>}}, with its networks from "
                f"steps.unfamiliar_origin.expected_networks if listed there",
                section._line(key)))
    return warnings


def _with_include(data, path: Path, problems: list[Problem]):
    """`include: other.yaml` (same folder): its top-level keys, overridden by this file's.

    Lets a variant (conf/kafka.yaml) change only its sources without copying the rest; each
    problem still names the file its key came from."""
    if not isinstance(data, dict) or "include" not in data:
        return data, {}
    name = data["include"]
    included = path.parent / str(name)
    if not isinstance(name, str) or included.parent.resolve() != path.parent or not included.exists():
        problems.append(Problem(str(path), "include", f"expected a config file in the same folder, got {name!r}"))
        return {k: v for k, v in data.items() if k != "include"}, {}
    base = load_yaml(included)
    own = {k: v for k, v in data.items() if k != "include"}
    files = {key: str(included) for key in base if key not in own}
    merged = type(data)(base if isinstance(base, dict) else {})
    merged.update(own)
    merged.lines = {**getattr(base, "lines", {}), **{k: v for k, v in getattr(data, "lines", {}).items() if k in own}}
    return merged, files


def _storage_uri(base: Path, value: str | None) -> str | None:
    """A plain path becomes a file:// URI (resolved against the config's folder); URIs stay."""
    if value is None or "://" in value:
        return value
    return Path(_resolve(base, value)).as_uri()


def _reference_files(base: Path, section: Section, name: str, required: bool = True) -> list[str]:
    """One file or a list of files (a file per cloud), resolved against the config's folder."""
    value = section.raw(name) if required else section.raw(name, None)
    files = section.str_list(name) if not isinstance(value, str) else (value,)
    if value is not None and not files:
        section._problem(name, "at least one file is required")
    return [_resolve(base, f) for f in files]


def _timestamp(section: Section, key: str, value):
    if value is None:
        return None
    from chainwatch.core.units import parse_timestamp_ms
    try:
        return parse_timestamp_ms(value)
    except (ValueError, AttributeError):   # AttributeError: not a string (a bare number)
        section._problem(key, f"expected an ISO-8601 timestamp, got {value!r}")
        return None
