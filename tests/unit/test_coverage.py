"""Blind spots: accounts missing an evidence stream (replay counts), and the coverage findings:
calls that turn an evidence stream off (not housekeeping), gaps while audit flows, their end."""
from __future__ import annotations

from pathlib import Path

from chainwatch.core.units import parse_timestamp_ms
from chainwatch.findings.coverage_finding import to_ocsf
from chainwatch.findings.ecs import to_ecs
from chainwatch.parsers import aws_cloudtrail
from chainwatch.parsers.catalogs import load_reference_lists
from chainwatch.steps.coverage_watch import Beats, CoverageWatch, beat_ms, blind_spots, describe, merge, observe
from tests.builders import at, call, user

REPO = Path(__file__).resolve().parents[2]
REFERENCE = load_reference_lists({"privileged_apis": str(REPO / "conf/aws/privileged_apis.yaml"),
                                  "creation_events": str(REPO / "conf/aws/creation_events.yaml"),
                                  "evidence_changes": str(REPO / "conf/aws/evidence_changes.yaml")})
ORG = "111122223333"
ALICE = user(ORG, "alice")
HOUR = 3600_000


def _event(kind, action="GetObject", account=ORG, success=True, service="s3.amazonaws.com"):
    return {"kind": kind, "cloud": "aws", "account": account, "service": service, "action": action,
            "success": success, "principal": "arn:aws:iam::111122223333:user/alice", "ts": 0, "id": f"id-{action}"}


def _parsed(name, source, params, minute=0, seed=None):
    record = call(at(1, minutes=minute), ALICE, source, name, "198.51.100.10", seed=seed or f"{name}-{minute}",
                  account=ORG, params=params)
    return aws_cloudtrail.parse(record, REFERENCE)[0]


def _beat(stream, ts):
    return {"kind": "beat", "id": f"beat-{stream}-{ts}", "ts": ts, "cloud": "aws", "account": ORG, "stream": stream}


def test_an_account_with_every_stream_has_no_blind_spot():
    coverage = {}
    for kind in ("api", "object_access", "flow"):
        observe(coverage, _event(kind))
    assert blind_spots(coverage) == []


def test_missing_object_access_and_flows_are_named_per_account():
    coverage, other = {}, {}
    observe(coverage, _event("api", "ListBuckets"))
    observe(other, _event("flow", account="444455556666"))
    merge(coverage, other)
    gaps = blind_spots(coverage)
    assert any(g.startswith("aws:111122223333: no object-access events") for g in gaps)
    assert any(g.startswith("aws:111122223333: no flow events") for g in gaps)
    assert any(g.startswith("aws:444455556666: no audit events") for g in gaps)


def test_stop_logging_is_a_change_at_once_and_a_redelivery_is_not_raised_again():
    watch, state = CoverageWatch(2 * HOUR), {}
    stop = _parsed("StopLogging", "cloudtrail.amazonaws.com", {"name": "org-trail"})
    (found,) = watch.process(state, stop)
    assert (found["kind"], found["streams"], found["event_ids"]) == ("change", ["audit"], [stop["id"]])
    assert watch.process(state, dict(stop)) == []
    failed = _parsed("DeleteTrail", "cloudtrail.amazonaws.com", {"name": "org-trail"}, minute=1)
    assert watch.process(state, dict(failed, success=False, evidence=None)) == []


def test_log_stream_and_group_housekeeping_is_not_a_change_but_deleting_a_trail_destination_is():
    watch, state = CoverageWatch(2 * HOUR), {}
    assert "evidence" not in _parsed("DeleteLogStream", "logs.amazonaws.com",
                                     {"logGroupName": "/aws/lambda/orders", "logStreamName": "2026/11/30/x"})
    app_group = _parsed("DeleteLogGroup", "logs.amazonaws.com", {"logGroupName": "/aws/lambda/orders"})
    assert watch.process(state, app_group) == []
    trail = _parsed("CreateTrail", "cloudtrail.amazonaws.com", {
        "name": "org-trail", "s3BucketName": "acme-cloudtrail",
        "cloudWatchLogsLogGroupArn": "arn:aws:logs:us-east-1:111122223333:log-group:org-trail-logs:*"}, minute=1)
    flows = _parsed("CreateFlowLogs", "ec2.amazonaws.com", {"CreateFlowLogsRequest": {
        "LogDestination": "arn:aws:s3:::acme-flow-logs/vpc/", "ResourceId": {"content": "vpc-1"}}}, minute=2)
    assert watch.process(state, trail) == [] and watch.process(state, flows) == []
    assert state["destinations"] == {"s3:acme-cloudtrail": "audit", "logs:org-trail-logs": "audit",
                                     "s3:acme-flow-logs": "flow"}
    (group,) = watch.process(state, _parsed("DeleteLogGroup", "logs.amazonaws.com",
                                            {"logGroupName": "org-trail-logs"}, minute=3))
    (bucket,) = watch.process(state, _parsed("DeleteBucket", "s3.amazonaws.com",
                                             {"bucketName": "acme-flow-logs"}, minute=4))
    assert (group["streams"], bucket["streams"]) == (["audit"], ["flow"])
    assert "(s3:acme-flow-logs)" in describe(bucket) and "turned off its flow evidence" in describe(bucket)


def test_event_selectors_that_drop_data_events_are_a_change_and_ones_that_keep_them_are_not():
    dropped = _parsed("PutEventSelectors", "cloudtrail.amazonaws.com", {"trailName": "t", "eventSelectors": [
        {"readWriteType": "All", "includeManagementEvents": True, "dataResources": []}]})
    kept = _parsed("PutEventSelectors", "cloudtrail.amazonaws.com", {"trailName": "t", "eventSelectors": [
        {"readWriteType": "All", "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]},
        minute=1)
    advanced = _parsed("PutAdvancedEventSelectors", "cloudtrail.amazonaws.com", {"trailName": "t",
                       "advancedEventSelectors": [{"fieldSelectors": [{"field": "eventCategory",
                                                                        "equals": ["Management"]}]}]}, minute=2)
    assert dropped["evidence"]["stream"] == "object_access" and advanced["evidence"]["stream"] == "object_access"
    assert "evidence" not in kept


def _run(flowing) -> list[dict]:
    """Audit beats every 5 minutes for 10 hours; flow beats at the minutes `flowing` says."""
    watch, state, found = CoverageWatch(2 * HOUR), {}, []
    for minute in range(0, 10 * 60, 5):
        found += watch.process(state, _beat("audit", minute * 60_000))
        if flowing(minute):
            found += watch.process(state, _beat("flow", minute * 60_000))
    return found


def test_a_flow_gap_while_audit_flows_is_raised_once_and_closed_when_flows_return():
    gap, end = _run(lambda minute: minute < 4 * 60 or minute >= 7 * 60)     # flows stop for three hours
    assert (gap["kind"], gap["streams"], gap["since"]) == ("gap", ["flow"], 235 * 60_000 + 15 * 60_000)
    assert gap["ts"] == 235 * 60_000 + 2 * HOUR
    assert (end["kind"], end["uid"], end["until"]) == ("gap_end", gap["uid"], 7 * HOUR)
    assert "no flow events since" in describe(gap) and "AN1328 step 3" in describe(gap)


def test_a_stream_that_only_comes_now_and_then_has_pauses_not_gaps():
    assert _run(lambda minute: minute < 60 or 5 * 60 <= minute < 5 * 60 + 30) == []
    assert _run(lambda minute: minute % 120 < 10) == []        # ten minutes every two hours


def test_a_stream_never_seen_is_no_gap_and_beats_come_once_a_span():
    watch, state = CoverageWatch(HOUR), {}
    assert [watch.process(state, _beat("audit", m * 60_000)) for m in range(0, 300, 10)] == [[]] * 30
    beats = Beats(beat_ms(2 * HOUR))
    events = [dict(_event("flow"), ts=ts) for ts in (0, 10_000, 899_999, 900_000, 5_000)]
    assert [b["ts"] for e in events if (b := beats.observe(e))] == [0, 900_000]      # one per 15 minutes
    assert (beat_ms(5 * 60_000), beat_ms(30 * HOUR)) == (60_000, HOUR)


def test_a_coverage_finding_is_ocsf_and_converts_to_ecs():
    stop = _parsed("StopLogging", "cloudtrail.amazonaws.com", {"name": "org-trail"})
    (found,) = CoverageWatch(HOUR).process({}, stop)
    ocsf = to_ocsf(found)
    assert ocsf["finding_info"]["analytic"]["uid"] == "CW-COVERAGE"
    assert ocsf["finding_info"]["attacks"][0]["technique"]["uid"] == "T1562.008"
    assert ocsf["finding_info"]["related_events"][0]["uid"] == stop["id"]
    ecs = to_ecs(ocsf)
    assert ecs["rule"]["id"] == "CW-COVERAGE" and ecs["cloud"]["account"]["id"] == ORG


def test_a_change_dated_past_year_9999_still_describes():
    """9999-12-31T23:59:59-23:59 is year 10000 in UTC: the line still prints."""
    stop = dict(_parsed("StopLogging", "cloudtrail.amazonaws.com", {"name": "t"}),
                ts=parse_timestamp_ms("9999-12-31T23:59:59-23:59"))
    (found,) = CoverageWatch(HOUR).process({}, stop)
    assert "at 253402387139000 ms after 1970-01-01 (outside the calendar)" in describe(found)


def test_gcp_sink_deletion_and_audit_config_removal_are_changes_and_a_plain_policy_change_is_not(config):
    from chainwatch.parsers import gcp_audit
    from tests import builders_gcp as g

    def parsed(method, service, **kwargs):
        entry = g.call_as(at(1), "alice@acme.example", "acme-prod", service, method, "198.51.100.10",
                          seed=method + str(kwargs), **kwargs)
        return gcp_audit.parse(entry, config.reference)[0]
    sink = parsed("google.logging.v2.ConfigServiceV2.DeleteSink", "logging.googleapis.com")
    removed = parsed("SetIamPolicy", "cloudresourcemanager.googleapis.com", service_data={
        "@type": "type.googleapis.com/google.iam.v1.logging.AuditData", "policyDelta": {"auditConfigDeltas": [
            {"action": "REMOVE", "service": "allServices", "logType": "DATA_READ"}]}})
    granted = parsed("SetIamPolicy", "cloudresourcemanager.googleapis.com", service_data={
        "policyDelta": {"bindingDeltas": [{"action": "ADD", "role": "roles/viewer", "member": "user:b@acme.example"}]}})
    assert (sink["evidence"]["stream"], removed["evidence"]["stream"]) == ("audit", "object_access")
    assert "evidence" not in granted


def test_azure_diagnostic_settings_deletion_is_a_change_in_any_case(config):
    from chainwatch.parsers import azure_activity
    from tests.builders_azure import SUB, activity, user as azure_user
    record = activity(at(1), azure_user("alice"), "Microsoft.Insights/diagnosticSettings/delete",
                      f"/subscriptions/{SUB}/providers/microsoft.insights/diagnosticSettings/to-siem", "198.51.100.10",
                      seed="diag-delete")
    (event,) = [e for e in azure_activity.parse(record, config.reference) if e["kind"] == "api"]
    assert event["evidence"]["stream"] == "audit"
    (found,) = CoverageWatch(HOUR).process({}, event)
    assert found["account"] == SUB and found["streams"] == ["audit"]


def test_hostile_selector_shapes_are_no_change_and_no_parser_error():
    """A record whose selectors hold numbers where lists belong still parses (no dead letter)."""
    event = _parsed("PutAdvancedEventSelectors", "cloudtrail.amazonaws.com", {"trailName": "t", "advancedEventSelectors": [
        {"fieldSelectors": [{"field": "eventCategory", "equals": 5}]}, {"fieldSelectors": 7}]})
    assert event["evidence"]["stream"] == "object_access"        # no selector logs data events any more
    kept = _parsed("PutAdvancedEventSelectors", "cloudtrail.amazonaws.com", {"trailName": "t", "advancedEventSelectors": [
        {"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}, {"fieldSelectors": 7}]}, minute=1)
    assert "evidence" not in kept
