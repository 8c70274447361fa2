"""How the integration tests read findings: by the key the analytic is keyed on."""
from __future__ import annotations


def key_of(finding: dict) -> str:
    """The session for AN1348 findings, the principal for AN1328 findings."""
    actor = finding["actor"]
    return actor["session"]["uid"] if "session" in actor else actor["user"]["uid"]


def is_coverage(finding: dict) -> bool:
    """A coverage finding (an evidence stream turned off or silent), not a pattern's."""
    return finding["finding_info"]["analytic"]["uid"] == "CW-COVERAGE"


def group_by_key(findings) -> dict:
    found: dict = {}
    for finding in findings:
        found.setdefault(key_of(finding), []).append(finding)
    return found


def check_scenario(scenario, findings) -> None:
    """The scenario's finding count, and for each finding its class, analytic and cited events."""
    assert len(findings) == scenario.expect, [f["evidences"] for f in findings]
    for finding in findings:
        assert finding["class_uid"] == 2004
        assert finding["finding_info"]["analytic"]["uid"] == scenario.analytic
        related = {e["uid"] for e in finding["finding_info"]["related_events"]}
        assert set(scenario.must_cite) <= related
