"""Hostile records through the normaliser (chainwatch/enrich/normalise.py, core/event.py, core/units.py, parsers/*):
nothing raises, every reason is bounded and names fields, never their values; event times are
dates with a time of day within the configured bounds; nothing that would break the Flink
operators after the normaliser (lone surrogates, huge strings, numbers past a Java long) gets out.
"""
from __future__ import annotations

import dataclasses
import json

import pytest

from chainwatch.config import load_config
from chainwatch.core.dead_letters import dead_letter
from chainwatch.core.errors import ChainwatchError
from chainwatch.core.event import MAX_RAW_BYTES, MAX_RAW_CHARS, MAX_REASON_CHARS, ParseError, TimeBounds
from chainwatch.core.units import format_timestamp, parse_event_time_ms, parse_timestamp_ms
from chainwatch.enrich.normalise import MAX_FIELD_CHARS, Normaliser
from tests.builders import minimal_cloudtrail as cloudtrail

NOW = parse_timestamp_ms("2026-11-29T12:00:00Z")
SECRET = "hunter2-S3CR3T"
ACCT = "111122223333"


@pytest.fixture(scope="module")
def normaliser(config):
    return Normaliser(config, clock=lambda: NOW / 1000)


def flow_line(start="1793527200", nbytes="5000", src="10.0.1.5", status="OK"):
    return f"2 {ACCT} eni-0a1b2c3d4e5f60718 {src} 8.8.8.8 49152 443 6 12 {nbytes} {start} {start} ACCEPT {status}"


V2 = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
      "action log-status").split()


def dead(normaliser, payload, framing="json"):
    events, letter = normaliser.normalise("ref", payload, framing)
    assert letter is not None and events == [], events
    return letter


# --- event times ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, problem", [
    ("1999-12-31T23:59:59Z", "before 2000-01-01T00:00:00.000Z (time.earliest_event)"),
    ("1970-01-01T00:00:00Z", "before 2000-01-01T00:00:00.000Z (time.earliest_event)"),
    ("2026-12-01T12:00:01Z", "more than 1d after the current time (time.max_ahead)"),
    ("9999-12-31T23:59:59-23:59", "more than 1d after the current time (time.max_ahead)"),   # year 10000 in UTC
    ("0000-01-01T00:00:00Z", "not an ISO-8601 timestamp (no such date or time of day)"),
    ("2026-11-01", "not an ISO-8601 timestamp"),                     # a date without a time
    ("2026-W44-1", "not an ISO-8601 timestamp"),                     # an ISO week date
    ("2026-W44-1T10:00:00Z", "not an ISO-8601 timestamp"),
    ("2026-305T10:00:00Z", "not an ISO-8601 timestamp"),             # an ordinal date
    ("20261101T100000Z", "not an ISO-8601 timestamp"),               # the basic format
    ("2026-11-01T24:00:00Z", "not an ISO-8601 timestamp (no such date or time of day)"),
])
def test_implausible_or_incomplete_event_times_are_dead_letters_naming_the_field(normaliser, value, problem):
    letter = dead(normaliser, cloudtrail(eventTime=value))
    assert letter["reason"].startswith(f"eventTime: {problem}")
    assert value not in letter["reason"]


def test_plausible_event_times_pass_in_every_accepted_form(normaliser):
    for value in ("2026-11-01T10:00:00Z", "2026-11-01 10:00:00", "2026-11-01T12:00+02:00", "2026-11-01T10:00:00.5z",
                  "2000-01-01T00:00:00Z", "2026-11-30T11:59:59Z"):     # the last: 23h59m59s ahead of NOW
        events, letter = normaliser.normalise("ref", cloudtrail(eventTime=value), "json")
        assert letter is None and events[0]["ts"] == parse_event_time_ms(value)


def test_time_bounds_come_from_the_config(config, tmp_path):
    tight = dataclasses.replace(config, time=dataclasses.replace(
        config.time, earliest_event_ms=parse_timestamp_ms("2026-11-01T00:00:00Z"), max_ahead_ms=0))
    normaliser = Normaliser(tight, clock=lambda: NOW / 1000)
    assert dead(normaliser, cloudtrail(eventTime="2026-10-31T23:59:59Z"))["reason"].startswith(
        "eventTime: before 2026-11-01T00:00:00.000Z")
    assert dead(normaliser, cloudtrail(eventTime="2026-11-29T12:00:01Z"))["reason"].startswith(
        "eventTime: more than 0ms after the current time")
    assert normaliser.normalise("r", cloudtrail(eventTime="2026-11-29T12:00:00Z"), "json")[1] is None

    conf = tmp_path / "c.yaml"
    conf.write_text(config.path and open(config.path).read().replace(
        "  idle_timeout: 1m\n", "  idle_timeout: 1m\n  earliest_event: 2020-01-01T00:00:00Z\n  max_ahead: 2h\n"))
    loaded = load_config(conf).time
    assert (loaded.earliest_event_ms, loaded.max_ahead_ms) == (parse_timestamp_ms("2020-01-01T00:00:00Z"), 7_200_000)
    conf.write_text(conf.read_text().replace("earliest_event: 2020-01-01T00:00:00Z", "earliest_event: soon"))
    with pytest.raises(ChainwatchError, match="earliest_event: expected an ISO-8601 timestamp"):
        load_config(conf)


def test_shipped_config_names_the_defaults(config):
    shipped = load_config()
    assert (shipped.time.earliest_event_ms, shipped.time.max_ahead_ms) == (946_684_800_000, 86_400_000)
    assert (config.time.earliest_event_ms, config.time.max_ahead_ms) == (946_684_800_000, 86_400_000)


@pytest.mark.parametrize("start", ["99999999999999999999", "9223372036854775808", "-5", "0999999999999999999",
                                   "100000000000000000", "946684799"])
def test_flow_start_out_of_range_is_a_dead_letter_naming_start(normaliser, start):
    letter = dead(normaliser, (tuple(V2), flow_line(start=start)), "flowtext")
    assert letter["reason"].startswith("start: ")
    assert len(start) < 4 or start not in letter["reason"]


def test_flow_counts_and_times_beyond_a_java_long_are_dead_letters_in_every_flow_family(normaliser):
    assert dead(normaliser, (tuple(V2), flow_line(nbytes="99999999999999999999")), "flowtext")["reason"].startswith(
        "bytes: out of range")
    json_flow = {"srcAddr": "10.0.1.5", "dstAddr": "8.8.8.8", "start": 10**30, "bytes": 1}
    assert dead(normaliser, json_flow)["reason"].startswith("start: out of range")
    assert dead(normaliser, dict(json_flow, start=1793527200, bytes=float("inf")))["reason"].startswith("bytes: ")
    azure = {"category": "NetworkSecurityGroupFlowEvent", "time": "2026-11-01T10:00:00Z",
             "resourceId": "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001/x",
             "properties": {"flows": [{"rule": "r", "flows": [{"flowTuples": [
                 "99999999999999999999,10.0.0.4,8.8.8.8,443,443,T,O,A,B,1,1,1,1"]}]}]}}
    assert dead(normaliser, azure)["reason"].startswith("flowTuples[0][0]: out of range")
    gcp = {"timestamp": "2026-11-01T10:00:00Z", "logName": "projects/p/logs/compute.googleapis.com%2Fvpc_flows",
           "jsonPayload": {"reporter": "SRC", "bytes_sent": "99999999999999999999",
                           "connection": {"src_ip": "10.0.0.4", "dest_ip": "8.8.8.8"}}}
    assert dead(normaliser, gcp)["reason"].startswith("jsonPayload.bytes_sent: out of range")


# --- reasons: bounded, never a value --------------------------------------------------------

def test_a_three_megabyte_event_time_gives_a_bounded_dead_letter(normaliser):
    huge = "2026-11-01T10:00:00Z" + "9" * 3_000_000
    letter = dead(normaliser, cloudtrail(eventTime=huge))
    assert letter["reason"].startswith("eventTime: not an ISO-8601 timestamp")
    assert len(letter["reason"]) <= MAX_REASON_CHARS and "999" not in letter["reason"]
    assert len(letter["raw"]) == MAX_RAW_CHARS and letter["raw_truncated"] is True
    assert len(json.dumps(letter)) < 2 * 1024 * 1024 // 4     # far below the collect sink's 2 MB per record


def test_every_reason_is_capped(normaliser):
    letter = dead_letter("r", "malformed", "x" * 10_000 + "\udc80", "raw")
    assert len(letter["reason"]) == MAX_REASON_CHARS and letter["reason"].endswith("...")
    assert dead_letter("r", "malformed", "bad \udc80 byte", "raw")["reason"] == "bad ? byte"     # valid Unicode


AZURE_SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/g/providers/x"


@pytest.mark.parametrize("payload, framing", [
    (cloudtrail(eventTime=SECRET), "json"),
    (cloudtrail(eventTime=f"2026-11-01T10:00:00Z{SECRET}"), "json"),
    (cloudtrail(eventTime=[SECRET]), "json"),
    (cloudtrail(eventSource={"password": SECRET}), "json"),
    (cloudtrail(userIdentity={"type": SECRET, "accountId": ACCT}), "json"),
    ((tuple(V2), flow_line(nbytes=SECRET)), "flowtext"),
    ((tuple(V2), flow_line(src=SECRET)), "flowtext"),
    ((tuple(V2), flow_line(start="-").replace(" OK", f" {SECRET}")), "flowtext"),
    ({"srcAddr": "10.0.1.5", "dstAddr": SECRET, "start": 1793527200}, "json"),
    ({"srcAddr": "10.0.1.5", "dstAddr": "8.8.8.8", "start": 1793527200, "packets": SECRET}, "json"),
    ({"category": "NetworkSecurityGroupFlowEvent", "resourceId": AZURE_SUB, "properties": {"flows": [
        {"rule": "r", "flows": [{"flowTuples": [f"1793527200,10.0.0.4,8.8.8.8,443,443,T,O,{SECRET},B,1,1,1,1"]}]}]}},
     "json"),
    ({"category": "NetworkSecurityGroupFlowEvent", "resourceId": AZURE_SUB, "properties": {"flows": [
        {"rule": "r", "flows": [{"flowTuples": [f"1793527200,10.0.0.4,8.8.8.8,443,443,T,{SECRET},A,B,1,1,1,1"]}]}]}},
     "json"),
    ({"category": "NetworkSecurityGroupFlowEvent", "resourceId": AZURE_SUB, "properties": {"flows": [
        {"rule": "r", "flows": [{"flowTuples": [{"secret": SECRET}]}]}]}}, "json"),
    ({"timestamp": "2026-11-01T10:00:00Z", "jsonPayload": {"reporter": "SRC", "bytes_sent": SECRET,
                                                           "connection": {"src_ip": "10.0.0.4", "dest_ip": "8.8.8.8"}}},
     "json"),
    ({"timestamp": "2026-11-01T10:00:00Z", "jsonPayload": {"reporter": "SRC",
                                                           "connection": {"src_ip": SECRET, "dest_ip": "8.8.8.8"}}},
     "json"),
    ({"protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "methodName": "x",
                       "serviceName": {"k": SECRET}}, "timestamp": "2026-11-01T10:00:00Z",
      "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity"}, "json"),
])
def test_reasons_never_quote_a_field_value(normaliser, payload, framing):
    letter = dead(normaliser, payload, framing)
    assert SECRET not in letter["reason"], letter["reason"]
    assert not letter["reason"].startswith("parser error"), letter["reason"]


def test_a_parser_bug_names_its_place_not_its_message(normaliser, monkeypatch):
    from chainwatch.parsers import aws_cloudtrail

    def broken(record, reference):
        raise ValueError(f"invalid literal: {record['userIdentity']['arn']} {SECRET}")
    monkeypatch.setattr(aws_cloudtrail, "parse", broken)
    letter = dead(normaliser, cloudtrail())
    assert letter["reason"].startswith("parser error ValueError at test_hostile_normalising.py:")
    assert SECRET not in letter["reason"] and "alice" not in letter["reason"]


def test_nesting_too_deep_for_an_envelope_is_a_dead_letter(normaliser):
    deep = "[" * 10_000 + "]" * 10_000
    assert dead(normaliser, {"message": deep})["reason"].startswith("unrecognised record")
    assert dead(normaliser, {"properties": deep, "category": "Administrative"})   # Azure decodes JSON strings too


# --- what leaves the normaliser is safe for the JVM ------------------------------------------

def test_a_lone_surrogate_in_a_principal_is_a_dead_letter_and_always_the_same(normaliser):
    # As json.loads gives "arn:aws:iam::111122223333:user/ev\udc80il" (a record that reached the
    # normaliser without sources.files, e.g. from a parser decoding an envelope's JSON string).
    record = cloudtrail(userIdentity={"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/ev\udc80il"})
    first, second = dead(normaliser, record), dead(normaliser, json.loads(json.dumps(record)))
    assert first == second
    assert first["reason"].startswith("principal: not valid Unicode")
    assert first["raw"].isascii() and json.loads(first["raw"]) == record      # the record, JSON-escaped
    inner = json.dumps(record)      # an envelope whose message holds the \udc80 escape
    assert dead(normaliser, {"@timestamp": "2026-11-01T10:00:00Z", "message": inner})["reason"].startswith(
        "principal: not valid Unicode")


def test_a_field_longer_than_the_limit_is_a_dead_letter(normaliser):
    long_name = "a" * MAX_FIELD_CHARS
    letter = dead(normaliser, cloudtrail(userIdentity={"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/{long_name}"}))
    assert letter["reason"] == f"principal: longer than {MAX_FIELD_CHARS} characters"
    events, letter = normaliser.normalise("r", cloudtrail(userAgent="b" * 100_000), "json")   # cut to 200: fine
    assert letter is None and len(events[0]["user_agent"]) == 200


def test_fields_a_finding_repeats_have_tighter_limits(normaliser):
    """500 reads with 8000-character event ids made one 3.7 MB finding: past the 2 MB a replay
    collects, so the job stopped. Ids, addresses, operations and buckets have their own limits."""
    assert dead(normaliser, cloudtrail(eventID="e" * 257))["reason"] == "id: longer than 256 characters"
    assert dead(normaliser, cloudtrail(sourceIPAddress="1" * 257))["reason"] == "src_ip: longer than 256 characters"
    assert dead(normaliser, cloudtrail(eventName="L" * 513))["reason"] == "action: longer than 512 characters"
    read = cloudtrail(eventSource="s3.amazonaws.com", eventName="GetObject",
                      requestParameters={"bucketName": "b" * 513, "key": "k" * 8000})
    assert dead(normaliser, read)["reason"] == "object.bucket: longer than 512 characters"
    events, letter = normaliser.normalise("r", dict(read, requestParameters={"bucketName": "b" * 512}), "json")
    assert letter is None and len(events[0]["object"]["bucket"]) == 512


@pytest.mark.parametrize("field", ["userIdentity.type", "userIdentity.arn", "userIdentity.accessKeyId",
                                   "awsRegion", "sourceIPAddress", "recipientAccountId", "eventID"])
@pytest.mark.parametrize("value", [{"value": SECRET}, [SECRET], True])
def test_cloudtrail_fields_of_the_wrong_type_are_dead_letters_naming_them(normaliser, field, value):
    """They were parser errors (a TypeError in canonical_identity) or, worse, an object where the
    principal or session key belongs, which the job's keyed operators cannot take."""
    record = cloudtrail()
    container, name = (record["userIdentity"], field.split(".")[1]) if "." in field else (record, field)
    container[name] = value
    letter = dead(normaliser, record)
    assert letter["reason"].startswith(f"{field}: expected a string, got ") and SECRET not in letter["reason"]


def test_cloudtrail_numbers_where_logs_write_them_either_way(normaliser):
    events, letter = normaliser.normalise("r", cloudtrail(recipientAccountId=int(ACCT), eventID=7), "json")
    assert letter is None and (events[0]["account"], events[0]["id"]) == (ACCT, "7")
    run = cloudtrail(eventSource="ec2.amazonaws.com", eventName="RunInstances",
                     responseElements={"instancesSet": {"items": [{"instanceId": {"x": 1}}, "i-0abc", 5,
                                                                  {"instanceId": "i-0def", "privateIpAddress": 7,
                                                                   "networkInterfaceSet": {"items": 9}}]}})
    events, letter = normaliser.normalise("r", run, "json")
    assert letter is None and [e["binding"] for e in events[1:]] == []      # nothing of the shape AWS writes
    assume = cloudtrail(eventSource="sts.amazonaws.com", eventName="AssumeRole",
                        requestParameters={"roleArn": {"arn": "x"}, "roleSessionName": "s"},
                        responseElements={"credentials": {"accessKeyId": "ASIAX"}})
    assert dead(normaliser, assume)["reason"] == "requestParameters.roleArn: expected a string, got an object"


def test_a_value_outside_the_event_model_is_a_dead_letter(normaliser, monkeypatch):
    """Whatever a parser slips through (an object where a key belongs, a float, a number past a
    Java long) is stopped at the normaliser, naming the field, before it reaches a keyed operator."""
    from chainwatch.parsers import aws_cloudtrail
    real = aws_cloudtrail.parse
    for slip, reason in ((lambda e: e.update(session={"k": 1}), "session: an object where the event model has a "
                                                                 "string"),
                         (lambda e: e.update(principal=12345), "principal: a number where the event model has a "
                                                               "string"),
                         (lambda e: e.update(ts=1.5), "ts: a number (float), which the event model does not have"),
                         (lambda e: e.update(object={"bytes_out": 2**63}), "object.bytes_out: a number beyond a "
                                                                           "Java long"),
                         (lambda e: e.update(assume={"role": ["r"]}), "assume.role: an array (list), which the "
                                                                      "event model does not have"),
                         (lambda e: e.update(binding={"instance": 7}), "binding.instance: a number where the event "
                                                                       "model has a string"),
                         (lambda e: e.update(principal_name="zo\u00eb", flow="x"), "flow: a string where the event "
                                                                                    "model has an object")):
        def parse(record, reference, slip=slip):
            events = real(record, reference)
            slip(events[0])
            return events
        monkeypatch.setattr(aws_cloudtrail, "parse", parse)
        assert dead(normaliser, cloudtrail())["reason"] == reason


def test_non_ascii_but_valid_unicode_passes(normaliser):
    events, letter = normaliser.normalise("r", cloudtrail(
        userIdentity={"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/zoë😀"}), "json")
    assert letter is None and events[0]["principal"].endswith("zoë😀")


# --- dead letters carry bytes, bounded -------------------------------------------------------

def test_bytes_and_undecodable_text_are_carried_as_base64_capped():
    import base64
    data = bytes(range(256)) * 1000
    letter = dead_letter("f", "unreadable", "cannot read file", ("cannot read file", data))
    assert letter["raw_encoding"] == "base64" and letter["raw_truncated"] is True
    assert base64.b64decode(letter["raw"]) == data[:MAX_RAW_BYTES] and len(letter["raw"]) == MAX_RAW_CHARS
    line = b"2 bad \xff\xfe line".decode("utf-8", "surrogateescape")     # as sources.files decodes it
    letter = dead_letter("f:3", "invalid_unicode", "not valid Unicode", ("not valid Unicode", line))
    assert base64.b64decode(letter["raw"]) == b"2 bad \xff\xfe line" and letter["raw_truncated"] is False
    assert "raw_encoding" not in dead_letter("f:4", "malformed", "r", ("r", "plain text"))


def test_format_timestamp_never_raises():
    assert format_timestamp(parse_timestamp_ms("2026-11-01T10:00:00Z")) == "2026-11-01T10:00:00.000Z"
    assert format_timestamp(253_402_387_139_000) == "253402387139000 ms after 1970-01-01 (outside the calendar)"
    assert "outside the calendar" in format_timestamp(-10**20)
    assert "outside the calendar" in format_timestamp(10**30)


def test_time_bounds_check_names_the_field():
    bounds = TimeBounds(clock=lambda: NOW / 1000)
    with pytest.raises(ParseError) as info:
        bounds.check("jsonPayload.start_time", 0)
    assert info.value.field == "jsonPayload.start_time"
