"""Blind spots: accounts missing an evidence stream, and logging changes, are reported."""
from __future__ import annotations

from pathlib import Path

from chainwatch.coverage import blind_spots, merge, observe
from chainwatch.reference import load_reference_lists

REPO = Path(__file__).resolve().parents[2]
REFERENCE = load_reference_lists({"privileged_apis": str(REPO / "conf/aws/privileged_apis.yaml"),
                                  "creation_events": str(REPO / "conf/aws/creation_events.yaml")})


def _event(kind, action="GetObject", account="111122223333", success=True, service="s3.amazonaws.com"):
    return {"kind": kind, "cloud": "aws", "account": account, "service": service, "action": action,
            "success": success, "principal": "arn:aws:iam::111122223333:user/alice", "ts": 0, "id": f"id-{action}"}


def test_an_account_with_every_stream_has_no_blind_spot():
    coverage = {}
    for kind in ("api", "object_access", "flow"):
        observe(coverage, _event(kind), REFERENCE)
    assert blind_spots(coverage) == []


def test_missing_object_access_and_flows_are_named_per_account():
    coverage, other = {}, {}
    observe(coverage, _event("api", "ListBuckets"), REFERENCE)
    observe(other, _event("flow", account="444455556666"), REFERENCE)
    merge(coverage, other)
    gaps = blind_spots(coverage)
    assert any(g.startswith("aws:111122223333: no object-access events") for g in gaps)
    assert any(g.startswith("aws:111122223333: no flow events") for g in gaps)
    assert any(g.startswith("aws:444455556666: no audit events") for g in gaps)


def test_a_successful_logging_change_is_reported_and_a_failed_one_is_not():
    coverage = {}
    for kind in ("object_access", "flow"):
        observe(coverage, _event(kind), REFERENCE)
    observe(coverage, _event("api", "StopLogging", service="cloudtrail.amazonaws.com"), REFERENCE)
    observe(coverage, _event("api", "DeleteTrail", service="cloudtrail.amazonaws.com", success=False), REFERENCE)
    (gap,) = blind_spots(coverage)
    assert "cloudtrail.amazonaws.com StopLogging by arn:aws:iam::111122223333:user/alice" in gap


def test_a_logging_change_dated_past_year_9999_does_not_crash_the_summary():
    """9999-12-31T23:59:59-23:59 is year 10000 in UTC: the summary still prints (the normaliser
    dead-letters such a time; a coverage record holding one must not stop the summary either)."""
    from chainwatch.units import parse_timestamp_ms
    coverage = {}
    event = dict(_event("api", "StopLogging", service="cloudtrail.amazonaws.com"),
                 ts=parse_timestamp_ms("9999-12-31T23:59:59-23:59"))
    observe(coverage, event, REFERENCE)
    (line,) = [gap for gap in blind_spots(coverage) if "StopLogging" in gap]
    assert "at 253402387139000 ms after 1970-01-01 (outside the calendar)" in line
