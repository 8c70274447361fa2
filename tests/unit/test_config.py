"""Strict loading of the job config (config/job_config.py, core/yamlfile.py) and of patterns (patterns/pattern.py)."""
from __future__ import annotations

import copy
import ipaddress
from pathlib import Path

import pytest
import yaml

from chainwatch.config import DEFAULT_CONFIG, DEFAULTS_DIR, load_config
from chainwatch.core.errors import ChainwatchError
from chainwatch.core.yamlfile import load_yaml
from chainwatch.patterns.pattern import load_pattern, load_patterns

REPO = Path(__file__).resolve().parents[2]

MINIMAL = {
    "sources": [{"name": "local", "paths": ["inputs"]}],
    "patterns": str(REPO / "patterns"),
    "reference": {"privileged_apis": str(REPO / "conf/aws/privileged_apis.yaml"),
                  "creation_events": str(REPO / "conf/aws/creation_events.yaml")},
    "steps": {"novelty": {"max_age": "24h"}},
}


def config_data(**sections):
    data = copy.deepcopy(MINIMAL)
    data.update(sections)
    return data


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def config_error(path: Path) -> ChainwatchError:
    with pytest.raises(ChainwatchError) as info:
        load_config(path)
    return info.value


def by_key(error: ChainwatchError) -> dict:
    return {p.key: p for p in error.problems}


# --- the shipped files --------------------------------------------------------------------

def test_repo_config_is_the_packaged_default_and_loads():
    assert (REPO / "conf").resolve() == DEFAULTS_DIR / "conf" and (REPO / "patterns").resolve() == DEFAULTS_DIR / "patterns"
    config = load_config()
    assert config.path == str(DEFAULT_CONFIG)
    assert config.sources[0].paths == (str(DEFAULTS_DIR / "sample" / "aws"),)     # the packaged sample
    assert config.sources[0].format == "auto"
    assert config.patterns_dir == str(DEFAULTS_DIR / "patterns")
    assert config.geoip.city_db == str(DEFAULTS_DIR / "sample" / "geoip" / "chainwatch-City.mmdb")
    assert (config.novelty.max_age_ms, config.novelty.learning_period_ms) == (86_400_000, 86_400_000)
    assert config.novelty.history_start_ms is None
    assert config.spike.peer_baselines == {"role": 8.0, "user": 8.0, "service_account": 8.0,
                                           "service_principal": 8.0, "managed_identity": 8.0}
    assert (config.egress.window_ms, config.egress.min_bytes) == (3_600_000, 100_000_000)
    assert config.cross_account.org_accounts == ("111122223333", "444455556666")
    assert config.familiarity.expected_networks == {} and config.cross_account.trusted_accounts == ()
    partner, = config.allowlist.entries       # the partner moved from trusted_accounts into a narrow entry
    assert (partner.accounts, partner.networks) == (("777788889999",), (ipaddress.ip_network("81.2.69.0/24"),))
    assert partner.may_assume == ("arn:aws:iam::111122223333:role/PartnerAccess",)
    assert config.networks.org_cidrs == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("198.51.100.0/24"))
    assert config.reference.privileged_category("aws", "iam.amazonaws.com", "AttachRolePolicy") == "iam_policy_change"
    assert config.reference.privileged_category(
        "aws", "lambda.amazonaws.com", "UpdateFunctionCode20150331v2") == "compute_takeover"
    assert config.reference.privileged_category("aws", "s3.amazonaws.com", "GetObject") is None


def test_repo_patterns_load():
    patterns = {p.id: p for p in load_patterns(REPO / "patterns")}
    assert sorted(patterns) == ["AN1328", "AN1348"]
    assert [s.step for s in patterns["AN1328"].steps] == ["new_identity", "object_access_spike", "external_exfiltration"]
    assert [s.step for s in patterns["AN1348"].steps] == ["cross_account_entry", "privileged_burst", "unfamiliar_origin"]
    assert (patterns["AN1328"].key, patterns["AN1328"].window_ms) == ("principal", 7_200_000)
    assert (patterns["AN1348"].key, patterns["AN1348"].window_ms) == ("session", 3_600_000)
    assert [p.id for p in load_patterns(REPO / "patterns", only=["AN1348"])] == ["AN1348"]


# --- a minimal config -----------------------------------------------------------------------

def test_minimal_config_defaults_and_relative_paths(tmp_path):
    config = load_config(write_yaml(tmp_path / "job.yaml", config_data()))
    assert config.sources[0].paths == (str(tmp_path.resolve() / "inputs"),)
    assert (config.time.watermark_delay_ms, config.time.idle_timeout_ms) == (900_000, 60_000)
    assert (config.job.parallelism, config.job.python_execution_mode) == (1, "process")
    assert (config.spike.floor_reads, config.spike.multiplier, config.spike.min_history_windows) == (100, 10.0, 6)
    assert config.burst.session_ttl_ms == 12 * 3_600_000


def test_expected_networks_accept_cidrs_and_asns(tmp_path):
    role = "arn:aws:iam::123456789012:role/Admin"
    data = config_data(steps={"unfamiliar_origin": {"expected_networks": {role: ["as64496", "203.0.113.0/24"]}}})
    config = load_config(write_yaml(tmp_path / "job.yaml", data))
    assert config.familiarity.expected_networks == {role: ("AS64496", ipaddress.ip_network("203.0.113.0/24"))}


def test_quoted_history_start(tmp_path):
    data = config_data(steps={"novelty": {"history_start": "2026-10-01T12:00:00Z"}})
    assert load_config(write_yaml(tmp_path / "job.yaml", data)).novelty.history_start_ms == 1790856000000


def test_unquoted_history_start_as_in_the_shipped_comment(tmp_path):
    path = write_yaml(tmp_path / "job.yaml", config_data(steps={"novelty": {"history_start": "HISTORY"}}))
    path.write_text(path.read_text().replace("HISTORY", "2026-11-01T00:00:00Z"))
    assert load_config(path).novelty.history_start_ms == 1793491200000


def test_unquoted_account_id_with_leading_zero_is_not_silently_changed(tmp_path):
    path = write_yaml(tmp_path / "job.yaml", config_data(steps={"cross_account_entry": {"org_accounts": ["ACCOUNT"]}}))
    path.write_text(path.read_text().replace("ACCOUNT", "001122334455"))
    try:
        config = load_config(path)
    except ChainwatchError:
        return  # rejecting it is fine too
    assert config.cross_account.org_accounts == ("001122334455",)


# --- strictness -----------------------------------------------------------------------------

def test_duplicate_key_names_file_and_line(tmp_path):
    path = write_yaml(tmp_path / "job.yaml", config_data(time={"watermark_delay": "15m"}))
    text = path.read_text().replace("  watermark_delay: 15m\n", "  watermark_delay: 15m\n  watermark_delay: 5m\n")
    path.write_text(text)
    line = text.splitlines().index("  watermark_delay: 5m") + 1
    (problem,) = config_error(path).problems
    assert (problem.file, problem.key, problem.line, problem.message) == (str(path), "watermark_delay", line,
                                                                          "duplicate key")
    assert f"{path}:{line}: watermark_delay: duplicate key" in str(config_error(path))


def test_duplicate_key_in_any_yaml_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b: 1\n  c:\n    d: 1\n    d: 2\n")
    with pytest.raises(ChainwatchError) as info:
        load_yaml(path)
    assert [(p.file, p.key, p.line) for p in info.value.problems] == [(str(path), "d", 5)]


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(ChainwatchError, match="invalid YAML") as info:
        load_yaml(path)
    assert info.value.problems[0].file == str(path) and info.value.problems[0].line is not None


def test_unknown_keys_are_named_with_their_dotted_path(tmp_path):
    data = config_data(pattern="../patterns", steps={"novelty": {"maxage": "24h"}})
    data["sources"][0]["path"] = ["x"]
    problems = by_key(config_error(write_yaml(tmp_path / "job.yaml", data)))
    assert set(problems) == {"pattern", "steps.novelty.maxage", "sources[0].path"}
    assert all(p.message == "unknown key" and p.file == str(tmp_path / "job.yaml") for p in problems.values())
    text = (tmp_path / "job.yaml").read_text().splitlines()
    assert text[problems["steps.novelty.maxage"].line - 1].strip().startswith("maxage:")


def test_kafka_bootstrap_from_the_environment_wins_and_the_file_key_is_still_known(tmp_path, monkeypatch):
    """Issue 10, item 6: with KAFKA_BOOTSTRAP set, the file's bootstrap_servers was never read, so
    the strict loader called it an unknown key and the shipped conf/kafka.yaml did not load."""
    path = write_yaml(tmp_path / "job.yaml", config_data(kafka={"bootstrap_servers": "broker.example:9092"}))
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    assert load_config(path).kafka.bootstrap_servers == "broker.example:9092"
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:9999")
    assert load_config(path).kafka.bootstrap_servers == "127.0.0.1:9999"
    assert load_config(DEFAULTS_DIR / "conf" / "kafka.yaml").kafka.bootstrap_servers == "127.0.0.1:9999"
    # The file's value is still checked when the environment overrides it.
    problems = by_key(config_error(write_yaml(tmp_path / "bad.yaml", config_data(kafka={"bootstrap_servers": 9092}))))
    assert set(problems) == {"kafka.bootstrap_servers"} and "expected a string" in problems["kafka.bootstrap_servers"].message


def test_several_problems_are_reported_together(tmp_path):
    data = config_data(time={"watermark_delay": "10 minutes"},
                       enrichment={"networks": {"org_cidrs": ["10.0.0.0/8", "10.0.0.0/33"]}},
                       job={"python_execution_mode": "threads", "parallelism": 0})
    error = config_error(write_yaml(tmp_path / "job.yaml", data))
    problems = by_key(error)
    assert set(problems) == {"time.watermark_delay", "enrichment.networks.org_cidrs", "job.python_execution_mode",
                             "job.parallelism"}
    assert "'10 minutes'" in problems["time.watermark_delay"].message
    assert "'10.0.0.0/33'" in problems["enrichment.networks.org_cidrs"].message
    assert "must be one of process, thread" in problems["job.python_execution_mode"].message
    assert "at least 1" in problems["job.parallelism"].message
    assert len(str(error).splitlines()) == 4


def test_bare_number_duration_and_bad_size(tmp_path):
    data = config_data(steps={"exfiltration": {"window": 3600, "min_bytes": "lots"}})
    problems = by_key(config_error(write_yaml(tmp_path / "job.yaml", data)))
    assert "bare number is ambiguous" in problems["steps.exfiltration.window"].message
    assert "'lots'" in problems["steps.exfiltration.min_bytes"].message


def test_missing_required_sections(tmp_path):
    data = {k: v for k, v in config_data().items() if k not in ("sources", "steps")}
    problems = by_key(config_error(write_yaml(tmp_path / "job.yaml", data)))
    assert {k: p.message for k, p in problems.items()} == {"sources": "required key is missing",
                                                           "steps": "required key is missing"}


def test_bad_reference_file_is_reported(tmp_path):
    data = config_data(reference={"privileged_apis": str(tmp_path / "missing.yaml"),
                                  "creation_events": MINIMAL["reference"]["creation_events"]})
    error = config_error(write_yaml(tmp_path / "job.yaml", data))
    assert error.problems[0].file == str(tmp_path / "missing.yaml") and "cannot read" in str(error)


# --- patterns -------------------------------------------------------------------------------

def pattern_data(pattern_id="AN9999", **overrides):
    data = {"id": pattern_id, "name": "test chain", "mitre": {"techniques": ["T1530", "T1098.001"],
                                                            "tactics": ["Collection"]},
            "key": "principal", "window": "90m", "severity": "medium",
            "steps": [{"name": "first", "step": "new_identity"}, {"name": "second", "step": "object_access_spike"}]}
    data.update(overrides)
    return data


def write_pattern(directory: Path, data, file_name=None) -> Path:
    return write_yaml(directory / f"{file_name or data['id']}.yaml", data)


def pattern_error(path: Path) -> ChainwatchError:
    with pytest.raises(ChainwatchError) as info:
        load_pattern(path)
    return info.value


def test_valid_pattern(tmp_path):
    pattern = load_pattern(write_pattern(tmp_path, pattern_data()))
    assert (pattern.id, pattern.key, pattern.window_ms, pattern.severity) == ("AN9999", "principal", 5_400_000, "medium")
    assert pattern.techniques == ("T1530", "T1098.001")
    assert [(s.name, s.step) for s in pattern.steps] == [("first", "new_identity"), ("second", "object_access_spike")]


def test_unknown_step_name(tmp_path):
    data = pattern_data()
    data["steps"][1]["step"] = "data_theft"
    path = write_pattern(tmp_path, data)
    (problem,) = pattern_error(path).problems
    assert (problem.file, problem.key) == (str(path), "steps[1].step")
    assert "must be one of" in problem.message and "'data_theft'" in problem.message


def test_bad_technique_id(tmp_path):
    path = write_pattern(tmp_path, pattern_data(mitre={"techniques": ["T1530", "T15"], "tactics": []}))
    (problem,) = pattern_error(path).problems
    assert (problem.file, problem.key) == (str(path), "mitre.techniques")
    assert "'T15'" in problem.message


def test_file_name_must_match_id(tmp_path):
    path = write_pattern(tmp_path, pattern_data(), file_name="chain")
    (problem,) = pattern_error(path).problems
    assert (problem.file, problem.key) == (str(path), "id")
    assert "AN9999.yaml" in problem.message


def test_pattern_problems_are_collected(tmp_path):
    data = pattern_data(key="account", window="an hour", surprise=True,
                        steps=[{"name": "only", "step": "new_identity", "where": "x"}])
    path = write_pattern(tmp_path, data)
    problems = by_key(pattern_error(path))
    assert set(problems) == {"key", "window", "surprise", "steps", "steps[0].where"}
    assert "at least two steps" in problems["steps"].message
    assert all(p.file == str(path) for p in problems.values())


def test_duplicate_key_in_pattern(tmp_path):
    path = write_pattern(tmp_path, pattern_data())
    path.write_text(path.read_text().replace("window: 90m\n", "window: 90m\nwindow: 2h\n"))
    (problem,) = pattern_error(path).problems
    assert (problem.file, problem.key, problem.message) == (str(path), "window", "duplicate key")
    assert path.read_text().splitlines()[problem.line - 1] == "window: 2h"


def test_load_patterns_reports_every_file(tmp_path):
    write_pattern(tmp_path, pattern_data("AN0001"))
    write_pattern(tmp_path, pattern_data("AN0002", severity="urgent"))
    write_pattern(tmp_path, pattern_data("AN0003", key="user"))
    with pytest.raises(ChainwatchError) as info:
        load_patterns(tmp_path)
    assert sorted((Path(p.file).name, p.key) for p in info.value.problems) == [("AN0002.yaml", "severity"),
                                                                               ("AN0003.yaml", "key")]


def test_load_patterns_empty_folder_and_unknown_only(tmp_path):
    with pytest.raises(ChainwatchError, match="no \\*.yaml pattern files"):
        load_patterns(tmp_path)
    write_pattern(tmp_path, pattern_data("AN0001"))
    with pytest.raises(ChainwatchError, match="no pattern named AN4242"):
        load_patterns(tmp_path, only=["AN4242"])
