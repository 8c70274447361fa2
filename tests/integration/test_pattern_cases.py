"""The cases embedded in patterns/*.yaml through the real pipeline (as `chainwatch test --flink`:
one job, each case its own sub-pipeline), and the plain-Python engine (`chainwatch test`) gives
the very same findings for each."""
from __future__ import annotations

import pytest

from chainwatch.case_runner import run_case
from chainwatch.config import load_config
from chainwatch.flink.case_job import replay_cases
from chainwatch.patterns.pattern import load_patterns
from tests.conftest import REPO
from tests.finding_samples import creation_in_burst_case

PATTERNS = load_patterns(REPO / "patterns")
AN1348 = next(p for p in PATTERNS if p.id == "AN1348")
# Every shipped case, plus one where the engine's old copy and the job differed.
CASES = [(p, c) for p in PATTERNS for c in p.cases] + [(AN1348, creation_in_burst_case(AN1348))]


@pytest.fixture(scope="module")
def flink_results(config):
    return replay_cases(config, CASES)


@pytest.mark.parametrize("n", range(len(CASES)), ids=[f"{p.id}-{c.name}" for p, c in CASES])
def test_case_on_flink_and_the_engine(n, flink_results, config):
    pattern, case = CASES[n]
    flink, engine = flink_results[n], run_case(config, pattern, case)
    assert flink.dead_letters == [] and engine.dead_letters == []
    assert len(flink.findings) == case.expect_findings
    assert all(f["finding_info"]["analytic"]["uid"] == pattern.id for f in flink.findings)
    assert {f["metadata"]["uid"] for f in engine.findings} == {f["metadata"]["uid"] for f in flink.findings}
    assert engine.findings == flink.findings               # the same OCSF, field for field, same order
    assert (engine.counts, engine.unattributed_egress) == (flink.counts, flink.unattributed_egress)


def test_each_pattern_has_a_positive_and_a_negative_case():
    for pattern in PATTERNS:
        assert {c.expect_findings > 0 for c in pattern.cases} == {True, False}, pattern.id


def test_shipped_config_validates():
    config = load_config(REPO / "conf" / "chainwatch.yaml")
    assert {p.id for p in load_patterns(config.patterns_dir)} == {"AN1328", "AN1348"}
