"""The step registry (steps/registry.py): what is derived from it stays in step with it, and a
pattern's steps are checked against it (key, params)."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from chainwatch.config import load_config
from chainwatch.core.errors import ChainwatchError
from chainwatch.findings.ecs import to_ecs
from chainwatch.patterns.pattern import load_pattern
from chainwatch.steps.registry import BY_NAME, STEPS, markdown_rows, markdown_steps, with_params
from tests.conftest import REPO


def test_every_step_kind_is_registered_once():
    assert len(BY_NAME) == len(STEPS)


def test_the_dispatcher_runs_a_handler_of_each_step_kind_in_the_registrys_order():
    from chainwatch.steps.identity_steps import HANDLERS, IdentitySteps
    assert HANDLERS == ("new_identity", "object_access_spike", "external_exfiltration", "cross_account_entry",
                        "session_call")
    assert all(callable(getattr(IdentitySteps, kind.handler or kind.name)) for kind in STEPS)


def test_the_config_reference_lists_every_step_and_parameter_as_the_registry_prints_them():
    page = (REPO / "docs" / "reference" / "configuration.md").read_text()
    missing = [row for row in markdown_steps() + markdown_rows() if row not in page]
    assert missing == [], ("docs/reference/configuration.md is behind steps/registry.py: "
                           "python -m chainwatch.steps.registry")


def _config_file(tmp_path, steps: dict):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "sources": [{"name": "x", "paths": ["in"]}], "patterns": str(REPO / "patterns"), "steps": steps,
        "reference": {"privileged_apis": str(REPO / "conf/aws/privileged_apis.yaml"),
                      "creation_events": str(REPO / "conf/aws/creation_events.yaml")}}))
    return path


def test_the_config_defaults_are_the_registrys(tmp_path):
    """A config with no steps.* values: every parameter at the registry's default."""
    config = load_config(_config_file(tmp_path, {}))
    assert (config.burst.span_ms, config.burst.min_calls, config.spike.multiplier) == (300_000, 3, 10.0)
    assert (config.egress.min_bytes, config.novelty.learning_period_ms) == (100_000_000, 7 * 86_400_000)


def test_an_unknown_step_parameter_in_the_config_is_named(tmp_path):
    with pytest.raises(ChainwatchError) as raised:
        load_config(_config_file(tmp_path, {"privileged_burst": {"min_calls": 3, "max_calls": 9}}))
    assert "steps.privileged_burst.max_calls: unknown key" in str(raised.value)


def _write(tmp_path, change):
    data = yaml.safe_load((REPO / "patterns" / "AN1348.yaml").read_text())
    data.pop("cases")
    change(data)
    path = tmp_path / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_pattern_keyed_by_session_with_a_principal_step_is_refused(tmp_path):
    def change(data):
        data["steps"][1] = {"name": "spike", "step": "object_access_spike"}
    with pytest.raises(ChainwatchError) as raised:
        load_pattern(_write(tmp_path, change))
    (problem,) = raised.value.problems
    assert problem.key == "steps[1].step" and problem.file.endswith("AN1348.yaml")
    assert "object_access_spike is computed per principal; this pattern is keyed by session" in problem.message


def test_step_params_are_converted_and_become_the_patterns_variant(tmp_path, config):
    def change(data):
        data["steps"][1]["params"] = {"min_calls": 5, "span": "2m"}
    pattern = load_pattern(_write(tmp_path, change))
    assert pattern.overrides == {"privileged_burst": {"min_calls": 5, "span": 120_000}}
    assert pattern.variant == "AN1348"
    own = with_params(config, pattern.overrides)
    assert (own.burst.min_calls, own.burst.span_ms) == (5, 120_000)
    assert own.burst.session_ttl_ms == config.burst.session_ttl_ms
    assert config.burst.min_calls == 3          # the job's own config is unchanged


@pytest.mark.parametrize("params, message", [
    ({"max_calls": 5}, "max_calls: is not a parameter of it; a pattern may set span, min_calls, session_ttl"),
    ({"min_calls": 0}, "min_calls: must be at least 1"),
    ({"span": "soon"}, "span:"),
])
def test_bad_step_params_are_named(tmp_path, params, message):
    def change(data):
        data["steps"][1]["params"] = params
    with pytest.raises(ChainwatchError) as raised:
        load_pattern(_write(tmp_path, change))
    assert any(message in f"{p.key.rsplit('.', 1)[-1]}: {p.message}" and p.key.startswith("steps[1].params")
               for p in raised.value.problems), raised.value.problems


def test_a_job_parameter_is_not_a_patterns(tmp_path):
    data = yaml.safe_load((REPO / "patterns" / "AN1328.yaml").read_text())
    data.pop("cases")
    data["steps"][1]["params"] = {"peer_baselines": {"role": 2}}
    path = tmp_path / "AN1328.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ChainwatchError) as raised:
        load_pattern(path)
    assert "peer_baselines: is the job's (set it in the config)" in str(raised.value)


def test_ecs_categories_come_from_the_registry():
    ocsf = {"class_uid": 2004, "time": 0, "message": "", "severity_id": 4, "severity": "High",
            "metadata": {"uid": "u", "product": {"version": "1"}},
            "finding_info": {"uid": "u", "title": "t", "analytic": {"uid": "A", "name": "n"},
                             "first_seen_time": 0, "last_seen_time": 0,
                             "types": ["privileged_burst", "unfamiliar_origin"]},
            "actor": {"user": {"uid": "r", "name": "r", "type": "Role"}},
            "cloud": {"provider": "AWS", "account": {"uid": "1"}}, "evidences": []}
    assert to_ecs(ocsf)["event"]["category"] == ["intrusion_detection", "iam", "configuration", "authentication"]
    assert BY_NAME["privileged_burst"].ecs_categories == ("iam", "configuration")
    assert dataclasses.is_dataclass(STEPS[0])


def test_the_evidence_a_step_kind_declares_is_what_its_rows_carry(config):
    """Over the shipped patterns' cases (the engine's MATCH_RECOGNIZE rows): every field the
    registry names for a kind appears in that kind's evidence."""
    import json
    from chainwatch.case_runner import run_case
    from chainwatch.patterns.pattern import load_patterns
    carried: dict = {}
    for pattern in load_patterns(REPO / "patterns"):
        for case in pattern.cases:
            for match in run_case(config, pattern, case).matches:
                for n, step in enumerate(pattern.steps, start=1):
                    carried.setdefault(step.step, set()).update(json.loads(match[f"s{n}_evidence"]))
    assert set(carried) == set(BY_NAME)
    assert {kind.name: sorted(set(kind.evidence) - carried[kind.name]) for kind in STEPS} == \
        {kind.name: [] for kind in STEPS}
