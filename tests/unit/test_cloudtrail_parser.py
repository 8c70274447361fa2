"""CloudTrail records -> normalised events (chainwatch/parsers/aws_cloudtrail.py, parsers/__init__.py)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from chainwatch.core.event import ParseError
from chainwatch.parsers import parse_record, unwrap
from chainwatch.parsers.catalogs import load_reference_lists

REPO = Path(__file__).resolve().parents[2]
ACCT = "123456789012"
OUTSIDE = "999988887777"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLESECRET"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"


@pytest.fixture(scope="module")
def reference():
    return load_reference_lists({"privileged_apis": str(REPO / "conf/aws/privileged_apis.yaml"),
                                 "creation_events": str(REPO / "conf/aws/creation_events.yaml")})


# --- builders: only the fields CloudTrail always carries and the ones under test -------------

def iam_user(name="alice", path="/", account=ACCT, key="AKIAIOSFODNN7EXAMPLE"):
    return {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": f"arn:aws:iam::{account}:user{path}{name}",
            "accountId": account, "accessKeyId": key, "userName": name}


def role_session(role="Deployer", session="alice", account=ACCT, key="ASIAEXAMPLESESSION01", role_path="/"):
    return {"type": "AssumedRole", "principalId": f"AROAEXAMPLE:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
            "accessKeyId": key,
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                                                 "arn": f"arn:aws:iam::{account}:role{role_path}{role}",
                                                 "accountId": account, "userName": role}}}


def record(identity, name="DescribeInstances", source="ec2.amazonaws.com", **fields):
    rec = {"eventVersion": "1.09", "userIdentity": identity, "eventTime": "2026-10-01T12:00:00Z",
           "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
           "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0",
           "eventID": "0b5e8c3a-1111-2222-3333-444455556666", "eventType": "AwsApiCall",
           "recipientAccountId": ACCT}
    rec.update(fields)
    return rec


def without(rec, *keys):
    return {k: v for k, v in rec.items() if k not in keys}


def get_object(nbytes, **fields):
    return record(iam_user(), "GetObject", "s3.amazonaws.com",
                  requestParameters={"bucketName": "finance-data", "key": "2026/q3.csv"},
                  additionalEventData={"bytesTransferredOut": nbytes, "bytesTransferredIn": 0}, **fields)


def assume_role(caller, role_arn=f"arn:aws:iam::{ACCT}:role/ops/Admin", key="ASIANEWSESSIONKEY001", **fields):
    role_name = role_arn.rsplit("/", 1)[-1]
    rec = record(caller, "AssumeRole", "sts.amazonaws.com",
                  requestParameters={"roleArn": role_arn, "roleSessionName": "partner-sync", "externalId": "x-42"},
                  responseElements={"credentials": {"accessKeyId": key, "secretAccessKey": SECRET,
                                                    "sessionToken": TOKEN, "expiration": "Oct 1, 2026, 1:00:00 PM"},
                                    "assumedRoleUser": {"assumedRoleId": "AROAEXAMPLE:partner-sync",
                                                        "arn": f"arn:aws:sts::{ACCT}:assumed-role/{role_name}/partner-sync"}})
    rec.update(fields)
    return rec


def parse(rec, reference):
    return parse_record(rec, "json", reference)


def parse_one(rec, reference):
    events = parse(rec, reference)
    assert len(events) == 1, events
    return events[0]


# --- principal resolution -----------------------------------------------------------------

def test_iam_user_with_path_resolves_to_canonical_user_arn(reference):
    event = parse_one(record(iam_user("alice", path="/engineering/platform/")), reference)
    assert event["principal"] == f"arn:aws:iam::{ACCT}:user/alice"
    assert event["principal_type"] == "user"
    assert event["principal_arn"] == f"arn:aws:iam::{ACCT}:user/engineering/platform/alice"
    assert event["session"] == ""  # long-term AKIA key: no session


def test_iam_user_with_temporary_key_keeps_the_key_as_session(reference):
    event = parse_one(record(iam_user(key="ASIATEMPORARYKEY0001")), reference)
    assert event["session"] == "ASIATEMPORARYKEY0001"


def test_assumed_role_resolves_to_issuer_role_and_session_key(reference):
    identity = role_session("Deployer", "alice", key="ASIASESSIONKEY000001", role_path="/service-role/")
    event = parse_one(record(identity), reference)
    assert event["principal"] == f"arn:aws:iam::{ACCT}:role/Deployer"
    assert event["principal_type"] == "role"
    assert event["principal_arn"] == f"arn:aws:sts::{ACCT}:assumed-role/Deployer/alice"
    assert event["session"] == "ASIASESSIONKEY000001"


def test_assumed_role_without_session_issuer_falls_back_to_the_session_arn(reference):
    identity = role_session("Deployer", "alice")
    del identity["sessionContext"]
    assert parse_one(record(identity), reference)["principal"] == f"arn:aws:iam::{ACCT}:role/Deployer"


def test_root(reference):
    identity = {"type": "Root", "principalId": ACCT, "arn": f"arn:aws:iam::{ACCT}:root", "accountId": ACCT,
                "accessKeyId": "AKIAROOTKEYEXAMPLE01"}
    event = parse_one(record(identity), reference)
    assert (event["principal"], event["principal_type"], event["session"]) == (f"arn:aws:iam::{ACCT}:root", "root", "")


def test_aws_service(reference):
    event = parse_one(record({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}), reference)
    assert (event["principal"], event["principal_type"]) == ("service:ec2.amazonaws.com", "service")


def test_aws_service_event_identity_without_type(reference):
    rec = record({"accountId": ACCT, "invokedBy": "cloudtrail.amazonaws.com"}, "CloudTrailEvent",
                 "cloudtrail.amazonaws.com", eventType="AwsServiceEvent")
    event = parse_one(rec, reference)
    assert (event["principal"], event["principal_type"]) == ("service:cloudtrail.amazonaws.com", "service")


@pytest.mark.parametrize("id_type", ["SAMLUser", "WebIdentityUser"])
def test_federated_users(id_type, reference):
    provider = f"arn:aws:iam::{ACCT}:saml-provider/Okta"
    identity = {"type": id_type, "principalId": f"{provider}:bob@example.com", "userName": "bob@example.com",
                "identityProvider": provider, "accountId": ACCT}
    event = parse_one(record(identity), reference)
    assert event["principal"] == f"{id_type}:{provider}:bob@example.com"
    assert event["principal_type"] == "federated"
    assert event["session"] == ""


def test_unresolvable_identity_names_user_identity(reference):
    with pytest.raises(ParseError) as info:
        parse(record({"type": "Unknown", "principalId": "x"}), reference)
    assert info.value.field == "userIdentity"


# --- object access --------------------------------------------------------------------------

@pytest.mark.parametrize("raw_bytes, expected", [(1048576, 1048576), ("1048576", 1048576), (1048576.0, 1048576),
                                                 ("2.5e3", 2500), ("n/a", 0), (None, 0)])
def test_s3_data_event_is_object_access_with_bytes_out(raw_bytes, expected, reference):
    event = parse_one(get_object(raw_bytes), reference)
    assert event["kind"] == "object_access"
    assert event["object"] == {"bucket": "finance-data", "key": "2026/q3.csv", "bytes_out": expected}


def test_listing_is_object_access_but_put_is_not(reference):
    listing = record(iam_user(), "ListObjectsV2", "s3.amazonaws.com", requestParameters={"bucketName": "b"})
    assert parse_one(listing, reference)["object"] == {"bucket": "b", "key": "", "bytes_out": 0}
    put = record(iam_user(), "PutObject", "s3.amazonaws.com", requestParameters={"bucketName": "b", "key": "k"})
    event = parse_one(put, reference)
    assert event["kind"] == "api" and "object" not in event


def test_common_fields(reference):
    event = parse_one(record(iam_user()), reference)
    assert event["id"] == "0b5e8c3a-1111-2222-3333-444455556666"
    assert event["ts"] == 1790856000000  # 2026-10-01T12:00:00Z
    assert (event["cloud"], event["source"], event["kind"]) == ("aws", "cloudtrail", "api")
    assert (event["account"], event["region"], event["src_ip"]) == (ACCT, "us-east-1", "203.0.113.7")
    assert (event["service"], event["action"], event["success"]) == ("ec2.amazonaws.com", "DescribeInstances", True)


# --- identity creation ----------------------------------------------------------------------

@pytest.mark.parametrize("name, params, response, identity, signal", [
    ("CreateRole", {"roleName": "etl", "path": "/data/"}, {"role": {"roleName": "etl", "path": "/data/"}},
     f"arn:aws:iam::{ACCT}:role/etl", "creation"),
    ("CreateUser", {"userName": "mallory"}, None, f"arn:aws:iam::{ACCT}:user/mallory", "creation"),
    ("CreateAccessKey", None, {"accessKey": {"userName": "bob", "accessKeyId": "AKIANEWKEY0000000001",
                                             "secretAccessKey": SECRET, "status": "Active"}},
     f"arn:aws:iam::{ACCT}:user/bob", "credential"),
])
def test_creation_events(name, params, response, identity, signal, reference):
    rec = record(iam_user("admin"), name, "iam.amazonaws.com", requestParameters=params, responseElements=response)
    event = parse_one(rec, reference)
    assert event["created"] == {"identity": identity, "identity_type": identity.split(":")[-1].split("/")[0],
                                "signal": signal}
    assert event["principal"] == f"arn:aws:iam::{ACCT}:user/admin"  # the actor stays the creator


def test_failed_creation_creates_nothing(reference):
    rec = record(iam_user("admin"), "CreateUser", "iam.amazonaws.com", requestParameters={"userName": "mallory"},
                 errorCode="AccessDenied", errorMessage="not authorized")
    event = parse_one(rec, reference)
    assert event["success"] is False
    assert "created" not in event


def test_created_identity_matches_its_own_later_principal_in_other_partitions(reference):
    admin = iam_user("admin")
    admin["arn"] = f"arn:aws-us-gov:iam::{ACCT}:user/admin"
    created = parse_one(record(admin, "CreateUser", "iam.amazonaws.com", awsRegion="us-gov-west-1",
                               requestParameters={"userName": "mallory"}), reference)["created"]["identity"]
    mallory = iam_user("mallory")
    mallory["arn"] = f"arn:aws-us-gov:iam::{ACCT}:user/mallory"
    later = parse_one(record(mallory, awsRegion="us-gov-west-1"), reference)["principal"]
    assert created == later


# --- role assumption ------------------------------------------------------------------------

def test_assume_role_records_the_new_session(reference):
    caller = iam_user("partner", account=OUTSIDE)
    event = parse_one(assume_role(caller), reference)
    assert event["principal"] == f"arn:aws:iam::{OUTSIDE}:user/partner"
    assert event["assume"] == {
        "role": f"arn:aws:iam::{ACCT}:role/Admin", "session": "ASIANEWSESSIONKEY001",
        "session_arn": f"arn:aws:sts::{ACCT}:assumed-role/Admin/partner-sync", "session_name": "partner-sync",
        "caller": f"arn:aws:iam::{OUTSIDE}:user/partner", "caller_type": "user", "caller_account": OUTSIDE,
        "method": "AssumeRole", "external_id_used": True}


def test_assume_role_with_saml_names_the_identity_provider(reference):
    provider = f"arn:aws:iam::{ACCT}:saml-provider/Okta"
    caller = {"type": "SAMLUser", "principalId": "x", "userName": "eve@example.com", "identityProvider": provider}
    rec = assume_role(caller)
    rec["eventName"] = "AssumeRoleWithSAML"
    assume = parse_one(rec, reference)["assume"]
    assert (assume["method"], assume["caller_account"], assume["caller_type"]) == ("SAML", provider, "federated")


@pytest.mark.parametrize("response", ["as logged: null", "kept"])
def test_failed_assume_role_has_no_session(response, reference):
    rec = assume_role(iam_user("partner", account=OUTSIDE), errorCode="AccessDenied")
    if response == "as logged: null":
        rec["responseElements"] = None
    event = parse_one(rec, reference)
    assert event["success"] is False
    assert "assume" not in event


def test_no_secret_from_response_elements_reaches_the_event(reference):
    records = [assume_role(iam_user("partner", account=OUTSIDE)),
               record(iam_user("admin"), "CreateAccessKey", "iam.amazonaws.com",
                      responseElements={"accessKey": {"userName": "bob", "secretAccessKey": SECRET,
                                                      "sessionToken": TOKEN}})]
    for rec in records:
        dumped = json.dumps(parse(rec, reference))
        assert SECRET not in dumped and TOKEN not in dumped
    # ... and the session key, which is not a secret, is kept
    assert "ASIANEWSESSIONKEY001" in json.dumps(parse(records[0], reference))


# --- workload bindings ----------------------------------------------------------------------

def test_run_instances_binds_eni_and_private_ip_to_the_instance(reference):
    items = [{"instanceId": "i-0abc1234def567890", "privateIpAddress": "10.0.1.5",
              "networkInterfaceSet": {"items": [{"networkInterfaceId": "eni-0a1b2c3d4e5f60718"}]}}]
    rec = record(iam_user(), "RunInstances", responseElements={"instancesSet": {"items": items}})
    api, *bindings = parse(rec, reference)
    assert api["kind"] == "api"
    assert [b["kind"] for b in bindings] == ["binding", "binding"]
    assert [b["binding"] for b in bindings] == [
        {"alias": f"ip:{ACCT}:10.0.1.5", "instance": "i-0abc1234def567890"},
        {"alias": "eni:eni-0a1b2c3d4e5f60718", "instance": "i-0abc1234def567890"}]
    assert [b["id"] for b in bindings] == [f"{api['id']}/binding/0", f"{api['id']}/binding/1"]
    assert all(b["ts"] == api["ts"] and b["account"] == ACCT for b in bindings)


def test_instance_role_session_binds_instance_to_role(reference):
    rec = record(role_session("WebServer", "i-0abc1234def567890", key="ASIAINSTANCEKEY00001"))
    api, binding = parse(rec, reference)
    assert binding["kind"] == "binding"
    assert binding["binding"] == {"instance": "i-0abc1234def567890", "principal": f"arn:aws:iam::{ACCT}:role/WebServer"}


def test_ordinary_role_session_binds_nothing(reference):
    assert len(parse(record(role_session("WebServer", "i-am-not-an-instance")), reference)) == 1


# --- ids and errors -------------------------------------------------------------------------

def test_missing_event_id_gets_a_stable_content_id(reference):
    rec = without(record(iam_user()), "eventID")
    first = parse_one(rec, reference)["id"]
    assert first.startswith("cloudtrail-")
    assert parse_one(copy.deepcopy(rec), reference)["id"] == first
    assert parse_one(dict(rec, eventTime="2026-10-01T12:00:01Z"), reference)["id"] != first


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", 1790856000, None])
def test_bad_event_time_names_event_time(value, reference):
    with pytest.raises(ParseError) as info:
        parse(record(iam_user(), eventTime=value), reference)
    assert info.value.field == "eventTime"
    assert "eventTime" in str(info.value)


def test_timestamp_with_offset_and_fraction(reference):
    event = parse_one(record(iam_user(), eventTime="2026-10-01T14:00:00.250+02:00"), reference)
    assert event["ts"] == 1790856000250


def test_missing_user_identity_names_user_identity(reference):
    with pytest.raises(ParseError) as info:
        parse(without(record(iam_user()), "userIdentity"), reference)
    assert info.value.field == "userIdentity"
    assert str(info.value).startswith("userIdentity:")


def test_non_object_and_unrecognised_records(reference):
    with pytest.raises(ParseError, match="expected a JSON object, got list"):
        parse_record([1, 2], "json", reference)
    with pytest.raises(ParseError, match="unrecognised record.*top-level keys: a, b"):
        parse_record({"b": 1, "a": 2}, "json", reference)
    with pytest.raises(ParseError, match="invalid JSON at column 3"):
        parse_record(("invalid JSON at column 3: x", "{x"), "text", reference)


def test_source_format_restricts_the_parser(reference):
    with pytest.raises(ParseError, match="unrecognised"):
        parse_record(record(iam_user()), "json", reference, source_format="vpcflow")


# --- envelopes ------------------------------------------------------------------------------

def test_eventbridge_envelope_is_unwrapped(reference):
    inner = record(iam_user())
    envelope = {"version": "0", "id": "e-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
                "account": ACCT, "time": "2026-10-01T12:00:00Z", "region": "us-east-1", "resources": [],
                "detail": inner}
    assert unwrap(envelope) is inner
    assert parse(envelope, reference) == parse(inner, reference)


def test_message_string_envelope_is_unwrapped(reference):
    inner = record(iam_user())
    envelope = {"@timestamp": "2026-10-01T12:00:05Z", "message": "  " + json.dumps(inner)}
    assert unwrap(envelope) == inner
    assert parse(envelope, reference) == parse(inner, reference)


def test_nested_envelopes_and_non_json_message(reference):
    inner = record(iam_user())
    assert unwrap({"log": {"_source": inner}}) == inner
    plain = {"message": "{not json", "other": 1}
    assert unwrap(plain) is plain
