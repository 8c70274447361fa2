"""The cases embedded in patterns/*.yaml pass through the real pipeline (as `chainwatch test`)."""
from __future__ import annotations

import pytest

from chainwatch.casetest import run_case
from chainwatch.config import load_config
from chainwatch.patterns.model import load_patterns
from tests.conftest import REPO

PATTERNS = load_patterns(REPO / "patterns")


@pytest.mark.parametrize("pattern, case", [(p, c) for p in PATTERNS for c in p.cases],
                         ids=lambda v: getattr(v, "id", None) or getattr(v, "name", ""))
def test_case(pattern, case, config):
    result = run_case(config, pattern, case)
    assert result.dead_letters == []
    assert len(result.findings) == case.expect_findings
    assert all(f["finding_info"]["analytic"]["uid"] == pattern.id for f in result.findings)


def test_each_pattern_has_a_positive_and_a_negative_case():
    for pattern in PATTERNS:
        assert {c.expect_findings > 0 for c in pattern.cases} == {True, False}, pattern.id


def test_shipped_config_validates():
    config = load_config(REPO / "conf" / "chainwatch.yaml")
    assert {p.id for p in load_patterns(config.patterns_dir)} == {"AN1328", "AN1348"}
