"""Google Cloud records -> normalised events (chainwatch/parsers/gcp_audit.py, gcp_vpc_flow.py)."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chainwatch.core.event import ParseError
from chainwatch.enrich.normalise import Normaliser
from chainwatch.parsers import aws_cloudtrail, aws_vpc_flow, gcp_audit, gcp_vpc_flow, parse_record
from chainwatch.parsers.catalogs import load_reference_lists
from chainwatch.sources.files import records_from_file
from tests import builders_gcp as g
from tests.builders import at, call, user

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests/data/corpora/panther-tests/gcp_audit_rules_tests.ndjson"
P = "acme-prod"
SA = g.sa_email("etl-sync", P)
WHEN = datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def reference():
    return load_reference_lists({"privileged_apis": str(REPO / "conf/gcp/privileged_apis.yaml"),
                                 "creation_events": str(REPO / "conf/gcp/creation_events.yaml")})


def parse(record, reference):
    return parse_record(record, "json", reference)


def parse_one(record, reference):
    events = parse(record, reference)
    assert len(events) == 1, events
    return events[0]


def without(record: dict, *paths) -> dict:
    record = copy.deepcopy(record)
    for path in paths:
        *parents, last = path.split(".")
        node = record
        for part in parents:
            node = node[part]
        node.pop(last, None)
    return record


# --- recognition -------------------------------------------------------------------------------

def test_each_family_claims_only_its_own_records():
    audit = g.gcs_read(WHEN, SA, P, "fin", "a.csv", "10.128.0.5", seed="r")
    flow = g.vpc_flow(WHEN, P, "us-central1-a", "vm-1", "10.128.0.5", "45.155.205.17", 10, seed="f")
    trail = call(at(1), user("111122223333", "alice"), "s3.amazonaws.com", "GetObject", "1.2.3.4", seed="c")
    firewall = {"jsonPayload": {"connection": {"src_ip": "10.0.0.1", "dest_ip": "8.8.8.8"}, "disposition": "ALLOWED",
                                "rule_details": {"reference": "network:default/firewall:allow-egress"}},
                "logName": f"projects/{P}/logs/compute.googleapis.com%2Ffirewall"}
    assert gcp_audit.recognises(audit) and not gcp_vpc_flow.recognises(audit)
    assert gcp_vpc_flow.recognises(flow) and not gcp_audit.recognises(flow)
    for parser in (gcp_audit, gcp_vpc_flow):
        assert not parser.recognises(trail)
        assert not parser.recognises({"version": "2", "srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2"})
    for parser in (aws_cloudtrail, aws_vpc_flow):
        assert not parser.recognises(audit) and not parser.recognises(flow)
    assert not gcp_vpc_flow.recognises(firewall)  # firewall-rule logs carry no byte counts


def test_format_named_in_config_restricts_the_parser(reference):
    audit = g.gcs_read(WHEN, SA, P, "fin", "a.csv", "10.128.0.5", seed="r")
    assert parse_record(audit, "json", reference, "gcp_audit")
    with pytest.raises(ParseError, match="format 'gcp_vpcflow'"):
        parse_record(audit, "json", reference, "gcp_vpcflow")


def test_panther_shapes_at_sign_type_and_lower_cased_entry_keys(reference):
    record = g.gcs_read(WHEN, SA, P, "fin", "a.csv", "10.128.0.5", seed="r")
    payload = record.pop("protoPayload")
    payload["at_sign_type"] = payload.pop("@type")
    record["protopayload"] = payload
    record["insertid"] = record.pop("insertId")
    record["logname"] = record.pop("logName")
    event = parse_one({"p_log_type": "GCP.AuditLog", "log": record}, reference)  # Panther's envelope
    assert event["kind"] == "object_access" and event["id"] == record["insertid"] and event["account"] == P


# --- principals, project, region, time ------------------------------------------------------------

@pytest.mark.parametrize("auth, key, kind", [
    ({"principalEmail": "Alice@Acme.example"}, "user:alice@acme.example", "user"),
    ({"principalEmail": SA}, f"serviceAccount:{SA}", "service_account"),
    ({"principalEmail": "x@y.com", "principalSubject": "serviceAccount:x@y.com"}, "serviceAccount:x@y.com",
     "service_account"),
    ({"principalEmail": "service-123@gcp-sa-logging.iam.gserviceaccount.com"},
     "serviceAccount:service-123@gcp-sa-logging.iam.gserviceaccount.com", "service"),
    ({"principalSubject": "principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/gh/subject/r"},
     "principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/gh/subject/r", "federated"),
    ({}, "service:storage.googleapis.com", "service"),
])
def test_principal_keys_are_iam_members(auth, key, kind, reference):
    record = g.gcs_read(WHEN, SA, P, "fin", "a.csv", "10.128.0.5", seed="r")
    record["protoPayload"]["authenticationInfo"] = auth
    event = parse_one(record, reference)
    assert (event["principal"], event["principal_type"]) == (key, kind)
    assert event["cloud"] == "gcp" and event["source"] == "gcp_audit" and event["principal_arn"] == ""


def test_project_region_and_time_fallbacks(reference):
    record = g.create_service_account(WHEN, "alice@acme.example", P, "new-sa", seed="c")
    event = parse(record, reference)[0]
    assert event["account"] == P and event["region"] == "global"  # IAM has no location
    assert event["ts"] == int(WHEN.timestamp() * 1000) + int(record["timestamp"][20:23])
    no_label = without(record, "resource.labels.project_id")
    assert parse(no_label, reference)[0]["account"] == P  # from logName
    org = without(no_label, "logName")
    org["logName"] = "organizations/888888888888/logs/cloudaudit.googleapis.com%2Factivity"
    assert parse(org, reference)[0]["account"] == "organizations/888888888888"
    vm = g.instances_insert(WHEN, "alice@acme.example", P, "europe-west1-b", "vm", SA, seed="i")
    assert parse(vm, reference)[0]["region"] == "europe-west1"  # zone -> region
    with pytest.raises(ParseError, match="no project"):
        parse(without(no_label, "logName", "protoPayload.resourceName"), reference)
    with pytest.raises(ParseError, match="^timestamp: missing"):
        parse(without(record, "timestamp", "receiveTimestamp", "protoPayload.requestMetadata"), reference)
    with pytest.raises(ParseError, match="methodName"):
        parse(without(record, "protoPayload.methodName"), reference)


@pytest.mark.parametrize("ip, expected", [("203.0.113.9", "203.0.113.9"), ("private", ""), ("gce-internal-ip", ""),
                                          (None, ""), ("2001:db8::1", "2001:db8::1")])
def test_caller_ip_only_when_it_is_an_address(ip, expected, reference):
    assert parse_one(g.gcs_read(WHEN, SA, P, "b", "k", ip, seed="ip"), reference)["src_ip"] == expected


def test_failure_from_status_code_or_denied_authorization(reference):
    ok = g.call_as(WHEN, "alice@acme.example", P, "compute.googleapis.com", "v1.compute.firewalls.insert",
                   "203.0.113.9", seed="fw")
    denied = g.call_as(WHEN, "alice@acme.example", P, "compute.googleapis.com", "v1.compute.firewalls.insert",
                       "203.0.113.9", seed="fw2", status={"code": 7, "message": "PERMISSION_DENIED"})
    assert parse_one(ok, reference)["success"] is True
    assert parse_one(denied, reference)["success"] is False
    not_granted = copy.deepcopy(ok)
    not_granted["protoPayload"]["authorizationInfo"][0]["granted"] = False
    assert parse_one(not_granted, reference)["success"] is False
    assert parse_one(ok, reference)["action"] == "compute.firewalls.insert"  # API version dropped
    assert reference.privileged_category("gcp", "compute.googleapis.com", "compute.firewalls.insert") == "network_opening"


# --- object access ----------------------------------------------------------------------------------

def test_object_reads_name_bucket_key_and_bytes_when_logged(reference):
    get = parse_one(g.gcs_read(WHEN, SA, P, "fin-data", "exports/q3/part-1.parquet", "45.155.205.40", seed="o",
                               nbytes=6_000_000), reference)
    assert get["kind"] == "object_access"
    assert get["object"] == {"bucket": "fin-data", "key": "exports/q3/part-1.parquet", "bytes_out": 6_000_000}
    listing = parse_one(g.gcs_read(WHEN, SA, P, "fin-data", "", "10.1.1.1", seed="l", method="storage.objects.list"),
                        reference)
    assert listing["kind"] == "object_access" and listing["object"] == {"bucket": "fin-data", "key": "", "bytes_out": 0}
    write = parse_one(g.gcs_read(WHEN, SA, P, "fin-data", "x", "10.1.1.1", seed="w", method="storage.objects.create"),
                      reference)
    assert write["kind"] == "api" and "object" not in write


# --- creation -----------------------------------------------------------------------------------------

def test_create_service_account_gives_the_creator_its_call_and_the_new_identity_an_event(reference):
    creator, created = parse(g.create_service_account(WHEN, "alice@acme.example", P, "etl-sync", seed="c"), reference)
    assert creator["principal"] == "user:alice@acme.example" and "created" not in creator
    assert created["id"] == creator["id"] and created["principal"] == creator["principal"]
    assert created["created"] == {"identity": f"serviceAccount:{SA}", "identity_type": "service_account",
                                  "signal": "creation", "name": SA}
    assert reference.privileged_category("gcp", creator["service"], creator["action"]) == "iam_identity_change"


def test_create_service_account_named_from_account_id_when_response_is_missing(reference):
    record = without(g.create_service_account(WHEN, "alice@acme.example", P, "etl-sync", seed="c"),
                     "protoPayload.response", "protoPayload.request.service_account")
    assert parse(record, reference)[1]["created"]["identity"] == f"serviceAccount:{SA}"


def test_failed_creation_creates_nothing(reference):
    record = g.create_service_account(WHEN, "alice@acme.example", P, "etl-sync", seed="c")
    record["protoPayload"]["status"] = {"code": 7, "message": "PERMISSION_DENIED"}
    assert [e.get("created") for e in parse(record, reference)] == [None]


def test_service_account_key_is_a_credential_signal_and_never_copies_key_material(reference):
    record = g.create_service_account_key(WHEN, "alice@acme.example", P, SA, seed="k")
    record["protoPayload"]["response"]["private_key_data"] = "ZXhhbXBsZS1wcml2YXRlLWtleQ=="
    events = parse(record, reference)
    assert events[1]["created"] == {"identity": f"serviceAccount:{SA}", "identity_type": "service_account",
                                    "signal": "credential", "name": SA}
    assert "ZXhhbXBsZS1wcml2YXRlLWtleQ" not in json.dumps(events)
    # Named from the key's resource name when the resource labels are missing.
    events = parse(without(record, "resource.labels.email_id"), reference)
    assert events[1]["created"]["identity"] == f"serviceAccount:{SA}"
    # A service account creating a key for itself is not a new identity.
    assert len(parse(g.create_service_account_key(WHEN, SA, P, SA, seed="self"), reference)) == 1


def test_new_iam_binding_members_are_credential_signals_typed_by_prefix(reference):
    record = g.set_project_iam_policy(WHEN, "alice@acme.example", P, [
        ("ADD", "roles/storage.objectViewer", "user:Temp.Contractor@gmail.com"),
        ("ADD", "roles/viewer", f"serviceAccount:{SA}"),
        ("ADD", "roles/viewer", "group:ops@acme.example"),
        ("REMOVE", "roles/owner", "user:bob@acme.example")], seed="b")
    events = parse(record, reference)
    assert [e["created"]["identity"] for e in events[1:]] == ["user:temp.contractor@gmail.com",
                                                               f"serviceAccount:{SA}"]
    assert [e["created"]["identity_type"] for e in events[1:]] == ["user", "service_account"]
    assert {e["created"]["signal"] for e in events[1:]} == {"credential"}
    assert reference.privileged_category("gcp", events[0]["service"], events[0]["action"]) == "iam_policy_change"


# --- impersonation (AN1348 entry) --------------------------------------------------------------

def test_impersonation_by_an_outside_user_is_an_entry_and_later_calls_carry_its_session(reference):
    entry = parse_one(g.generate_access_token(WHEN, "mallory@evil.example", P, SA, "91.219.236.15", seed="t"),
                      reference)
    assert entry["principal"] == "user:mallory@evil.example"
    session = f"user:mallory@evil.example=>serviceAccount:{SA}"
    assert entry["assume"] == {"role": f"serviceAccount:{SA}", "session": session, "session_arn": "",
                               "session_name": "mallory@evil.example", "caller": "user:mallory@evil.example",
                               "caller_type": "user", "caller_account": "evil.example",
                               "method": "Impersonation", "external_id_used": False}
    later = parse_one(g.call_as(WHEN, SA, P, "cloudresourcemanager.googleapis.com", "SetIamPolicy", "91.219.236.15",
                                seed="c", delegation=["mallory@evil.example"]), reference)
    assert later["principal"] == f"serviceAccount:{SA}" and later["session"] == session
    direct = parse_one(g.call_as(WHEN, SA, P, "cloudresourcemanager.googleapis.com", "SetIamPolicy", "10.1.1.1",
                                 seed="d"), reference)
    assert direct["session"] == ""


def test_impersonation_target_found_without_resource_labels(reference):
    record = without(g.generate_access_token(WHEN, "mallory@evil.example", P, SA, None, seed="t"),
                     "resource.labels.email_id", "protoPayload.request")
    assert parse_one(record, reference)["assume"]["role"] == f"serviceAccount:{SA}"  # identityDelegationChain


@pytest.mark.parametrize("caller, home, method", [
    (g.sa_email("ops", "partner-ops"), "partner-ops", "Impersonation"),
    ("bob@acme.example", "acme.example", "Impersonation"),
    ("principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/subject/repo:x/y",
     "projects/123/locations/global/workloadIdentityPools/github", "WorkloadIdentityFederation"),
    ("principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/acme-prod.svc.id.goog"
     "/subject/ns/default/sa/app", "acme-prod", "GKEWorkloadIdentity"),
])
def test_entry_names_the_callers_home_and_method(caller, home, method, reference):
    entry = parse_one(g.generate_access_token(WHEN, caller, P, SA, "81.2.69.10", seed="t", method="SignJwt"),
                      reference)
    assert (entry["assume"]["caller_account"], entry["assume"]["method"]) == (home, method)


def test_service_account_signing_for_itself_or_failing_is_no_entry(reference):
    assert "assume" not in parse_one(g.generate_access_token(WHEN, SA, P, SA, "10.1.1.1", seed="s", method="SignJwt"),
                                     reference)
    failed = g.generate_access_token(WHEN, "mallory@evil.example", P, SA, "91.219.236.15", seed="f")
    failed["protoPayload"]["status"] = {"code": 7}
    assert "assume" not in parse_one(failed, reference)


# --- workloads: instance -> service account, and flows --------------------------------------------

def test_instance_insert_binds_the_vm_to_its_service_account_as_flows_name_it(reference):
    api, binding = parse(g.instances_insert(WHEN, "alice@acme.example", P, "us-central1-a", "etl-vm", SA, seed="i"),
                         reference)
    assert api["kind"] == "api" and binding["kind"] == "binding"
    assert binding["binding"] == {"instance": f"projects/{P}/zones/us-central1-a/instances/etl-vm",
                                  "principal": f"serviceAccount:{SA}", "principal_type": "service_account"}
    flow = parse_one(g.vpc_flow(WHEN, P, "us-central1-a", "etl-vm", "10.128.0.5", "45.155.205.17", 10, seed="f"),
                     reference)
    assert flow["flow"]["instance"] == binding["binding"]["instance"]


def test_src_reported_flow(reference):
    flow = parse_one(g.vpc_flow(WHEN, P, "us-central1-a", "etl-vm", "10.128.0.5", "45.155.205.17", 125_000_000,
                                seed="f", dport=8443), reference)
    assert flow["kind"] == "flow" and flow["cloud"] == "gcp" and flow["source"] == "gcp_vpcflow"
    assert flow["ts"] == int(WHEN.timestamp() * 1000)
    assert (flow["account"], flow["region"], flow["src_ip"]) == (P, "us-central1", "10.128.0.5")
    assert flow["flow"] == {"src": "10.128.0.5", "dst": "45.155.205.17", "dst_port": 8443, "protocol": 6,
                            "bytes": 125_000_000, "packets": 125_000_000 // 1400, "action": "ACCEPT", "status": "OK",
                            "direction": "egress", "instance": f"projects/{P}/zones/us-central1-a/instances/etl-vm",
                            "eni": ""}


def test_dest_reported_flow_is_ingress_so_egress_is_counted_once(reference, config):
    record = g.vpc_flow(WHEN, P, "us-central1-a", "web", "45.155.205.17", "10.128.0.9", 5000, seed="d",
                        reporter="DEST")
    event = parse_one(record, reference)
    assert event["flow"]["direction"] == "ingress"
    assert event["flow"]["instance"] == f"projects/{P}/zones/us-central1-a/instances/web"
    events, dead = Normaliser(config).normalise("ref", record, "json")
    assert dead is None and events[0]["egress"] is False
    src_events, _ = Normaliser(config).normalise("ref", g.vpc_flow(WHEN, P, "us-central1-a", "web", "10.128.0.9",
                                                                   "45.155.205.17", 5000, seed="s"), "json")
    assert src_events[0]["egress"] is True and src_events[0]["geo"]["country"] == "RU"


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r["jsonPayload"]["connection"].pop("src_ip"), "jsonPayload.connection.src_ip"),
    (lambda r: r["jsonPayload"]["connection"].update(dest_ip="not-an-ip"), "jsonPayload.connection.dest_ip"),
    (lambda r: r["jsonPayload"].update(bytes_sent="many"), "jsonPayload.bytes_sent"),
    (lambda r: (r["jsonPayload"].pop("start_time"), r.pop("timestamp")), "jsonPayload.start_time"),
])
def test_bad_flows_name_the_field(mutate, field, reference):
    record = g.vpc_flow(WHEN, P, "us-central1-a", "vm", "10.128.0.5", "45.155.205.17", 10, seed="b")
    mutate(record)
    with pytest.raises(ParseError) as caught:
        parse(record, reference)
    assert caught.value.field == field


# --- the real corpus ------------------------------------------------------------------------------

def test_panther_gcp_samples_are_all_accounted_for_with_reasons(config):
    """Every record normalised or dead-lettered with a ParseError reason (never a parser error)."""
    normaliser = Normaliser(config)
    normalised, dead = 0, []
    for ref, payload, framing in records_from_file(str(CORPUS)):
        events, dead_letter = normaliser.normalise(ref, payload, framing)
        if dead_letter:
            dead.append(dead_letter["reason"])
        else:
            normalised += 1
            assert events and all(e["cloud"] == "gcp" and e["account"] and e["region"] for e in events)
    assert normalised + len(dead) == 143
    assert not [r for r in dead if r.startswith("parser error")], dead
    assert normalised >= 125, dead
    assert all(r.startswith(("protoPayload.methodName", "unrecognised record", "resource.labels.project_id",
                             "timestamp")) for r in dead), dead
