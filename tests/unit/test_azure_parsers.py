"""Azure records -> normalised events (chainwatch/parsers/azure_*.py), recognition and framing."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from chainwatch.core.event import ParseError
from chainwatch.parsers import PARSERS, azure_activity, azure_entra, azure_flow, azure_storage, parse_record
from chainwatch.parsers.catalogs import load_reference_lists
from chainwatch.sources.files import records_from_file, records_from_text
from chainwatch.steps.sessions import entry_reason
from tests.builders_azure import (ORG_TENANT, SUB, activity, activity_id, activity_la, add_service_principal, at,
                                  blob_read, blob_read_la, create_managed_identity, managed_identity, nsg_record,
                                  nsg_tuple, service_principal, signin, signin_la, user, vm_names, vnet_record,
                                  vnet_tuple, write_nic, write_vm)

REPO = Path(__file__).resolve().parents[2]
CORPORA = REPO / "tests" / "data" / "corpora"
OUTSIDER = "99999999-0000-1111-2222-333333333333"
PARTNER = "77777777-8888-9999-aaaa-bbbbbbbbbbbb"
ALICE = user("alice")
GUEST = user("mallory", home=OUTSIDER, domain="outsider.example")
ATTACKER_IP = "91.219.236.15"
ROLE_WRITE = "Microsoft.Authorization/roleAssignments/write"
RA = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/0a1b"


@pytest.fixture(scope="module")
def reference():
    return load_reference_lists({"privileged_apis": str(REPO / "conf/azure/privileged_apis.yaml"),
                                 "creation_events": str(REPO / "conf/azure/creation_events.yaml")})


def parse(record, reference):
    return parse_record(json.loads(json.dumps(record)), "json", reference)


def parse_one(record, reference):
    events = parse(record, reference)
    assert len(events) == 1, events
    return events[0]


# --- Activity Log ---------------------------------------------------------------------------

def test_activity_export_upper_case_operation_is_spelled_as_the_catalog(reference):
    record = activity(at(10), GUEST, ROLE_WRITE, RA, ATTACKER_IP, seed="ra")
    assert record["operationName"] == ROLE_WRITE.upper()
    event = parse_one(record, reference)
    assert (event["cloud"], event["source"], event["kind"]) == ("azure", "azure_activity", "api")
    assert (event["service"], event["action"]) == ("Microsoft.Authorization", "roleAssignments/write")
    assert reference.privileged_category("azure", event["service"], event["action"]) == "iam_policy_change"
    assert (event["account"], event["region"]) == (SUB, "global")
    assert event["principal"] == f"azure:{GUEST['oid']}" and event["principal_type"] == "user"
    assert event["principal_name"] == "mallory@outsider.example"      # the guest's home UPN claim
    assert event["session"] == f"azure-session:{GUEST['oid']}"
    assert (event["src_ip"], event["success"]) == (ATTACKER_IP, True)
    assert event["id"] == activity_id(record) and event["id"].startswith(record["correlationId"] + "/")
    assert event["ts"] == int(at(10).timestamp() * 1000)


def test_activity_start_and_failed_records_do_not_count_as_the_operation(reference):
    start = parse_one(activity(at(10), GUEST, ROLE_WRITE, RA, ATTACKER_IP, seed="ra", status="Start"), reference)
    assert start["action"] == "roleAssignments/write:start"
    assert reference.privileged_category("azure", start["service"], start["action"]) is None
    failed = parse_one(activity(at(10), GUEST, ROLE_WRITE, RA, ATTACKER_IP, seed="ra", status="Failure"), reference)
    assert (failed["action"], failed["success"]) == ("roleAssignments/write", False)


def test_activity_caller_types_from_claims(reference):
    sp = service_principal("deployer", OUTSIDER)
    mi = managed_identity("id-sync")
    for principal, kind in ((ALICE, "user"), (sp, "service_principal"), (mi, "managed_identity")):
        event = parse_one(activity(at(1), principal, ROLE_WRITE, RA, "198.51.100.10", seed=principal["oid"]),
                          reference)
        assert (event["principal"], event["principal_type"]) == (f"azure:{principal['oid']}", kind)


def test_activity_log_analytics_row_gives_the_same_identity(reference):
    row = activity_la(at(1), ALICE, "Microsoft.Compute/virtualMachines/start/action",
                      f"/subscriptions/{SUB}/resourceGroups/rg-apps/providers/Microsoft.Compute/virtualMachines/vm1",
                      "198.51.100.10", seed="la")
    event = parse_one(row, reference)
    export = parse_one(activity(at(1), ALICE, ROLE_WRITE, RA, "198.51.100.10", seed="x"), reference)
    assert event["principal"] == export["principal"] and event["session"] == export["session"]
    assert (event["id"], event["account"], event["action"]) == (row["EventDataId"], SUB, "VIRTUALMACHINES/START/ACTION")
    assert event["principal_name"] == ALICE["upn"]


def test_activity_rest_shape_with_value_objects(reference):
    record = {"eventTimestamp": "2026-10-11T06:01:00.1234567Z",
              "operationName": {"value": ROLE_WRITE.lower(), "localizedValue": "Create role assignment"},
              "status": {"value": "Succeeded"}, "category": {"value": "Administrative"}, "resourceId": RA,
              "caller": GUEST["oid"], "claims": {"oid": GUEST["oid"]}, "eventDataId": "e-1",
              "httpRequest": {"clientIpAddress": ATTACKER_IP, "method": "PUT"}, "subscriptionId": SUB}
    event = parse_one(record, reference)
    assert (event["action"], event["id"], event["src_ip"], event["success"]) == \
        ("roleAssignments/write", "e-1", ATTACKER_IP, True)
    assert event["principal"] == f"azure:{GUEST['oid']}"


def test_activity_authorization_evidence_names_the_caller_when_claims_do_not(reference):
    record = activity(at(1), ALICE, ROLE_WRITE, RA, "198.51.100.10", seed="ev")
    del record["identity"]["claims"]
    event = parse_one(record, reference)
    # ARM writes evidence.principalId as 32 bare hex digits: the key is the dashed form.
    assert event["principal"] == f"azure:{ALICE['oid']}" and event["principal_type"] == "user"


def test_activity_without_a_caller_is_normalised_without_a_principal(reference):
    record = {"time": "2026-10-11T06:01:00Z", "operationName": "Microsoft.Advisor/recommendations/available/action",
              "category": "Recommendation", "resultType": "Active", "resourceId": f"/subscriptions/{SUB}",
              "correlationId": "c-1"}
    event = parse_one(record, reference)
    assert (event["principal"], event["session"], event["account"]) == ("", "", SUB)


def test_activity_bad_input_names_the_field(reference):
    record = activity(at(1), ALICE, ROLE_WRITE, RA, "198.51.100.10", seed="bad")
    no_time = {k: v for k, v in record.items() if k != "time"}
    with pytest.raises(ParseError) as error:
        parse(no_time, reference)
    assert (error.value.field, error.value.problem) == ("time", "missing (no timegenerated, eventtimestamp either)")
    record["time"] = "yesterday"
    with pytest.raises(ParseError, match="not an ISO-8601 timestamp"):
        parse(record, reference)
    no_operation = {k: v for k, v in record.items() if k != "operationName"}
    with pytest.raises(ParseError, match="unrecognised record"):   # not an Activity Log record at all
        parse(no_operation, reference)
    with pytest.raises(ParseError) as error:                        # named in config as azure_activity
        azure_activity.parse(no_operation, reference)
    assert error.value.field == "operationName"


def test_managed_identity_creation_names_the_new_identity(reference):
    mi = managed_identity("id-new")
    event = parse_one(create_managed_identity(at(10), ALICE, mi, seed="mi"), reference)
    assert event["created"] == {"identity": f"azure:{mi['oid']}", "identity_type": "managed_identity",
                                "signal": "credential", "name": "id-new"}
    assert event["principal"] == f"azure:{ALICE['oid']}"
    started = create_managed_identity(at(10), ALICE, mi, seed="mi")
    started["resultType"] = "Start"
    assert "created" not in parse_one(started, reference)


def test_vm_and_nic_writes_bind_private_ip_to_vm_to_identity(reference):
    mi = managed_identity("id-vm")
    names = vm_names("web", 7)
    vm, *vm_bindings = parse(write_vm(at(10), ALICE, names, mi, seed="vm"), reference)
    assert "created" not in vm           # a user-assigned identity is created by its own write
    assert [b["binding"] for b in vm_bindings] == [
        {"instance": names["vm"].lower(), "principal": f"azure:{mi['oid']}", "principal_type": "managed_identity"},
        {"instance": names["nic"].lower(), "principal": f"azure:{mi['oid']}", "principal_type": "managed_identity"}]
    assert {b["kind"] for b in vm_bindings} == {"binding"} and vm_bindings[0]["id"] == f"{vm['id']}/binding/0"
    _nic, binding = parse(write_nic(at(10), ALICE, names, seed="nic"), reference)
    assert binding["binding"] == {"alias": f"ip:{SUB}:10.2.7.4", "instance": names["vm"].lower()}
    _nic, unattached = parse(write_nic(at(10), ALICE, names, seed="nic", attached=False), reference)
    assert unattached["binding"]["instance"] == names["nic"].lower()


def test_system_assigned_identity_is_created_with_its_vm(reference):
    record = write_vm(at(10), ALICE, vm_names("db", 8), managed_identity("unused"), seed="vm2")
    body = json.loads(record["properties"]["responseBody"])
    body["identity"] = {"type": "SystemAssigned", "principalId": "5B1E3E42-0000-4000-8000-00000000ABCD",
                        "tenantId": ORG_TENANT}
    record["properties"]["responseBody"] = json.dumps(body)
    event, *bindings = parse(record, reference)
    assert event["created"]["identity"] == "azure:5b1e3e42-0000-4000-8000-00000000abcd"
    assert event["created"]["name"] == "vm-db"
    assert bindings[0]["binding"]["principal"] == "azure:5b1e3e42-0000-4000-8000-00000000abcd"


# --- Entra ID -------------------------------------------------------------------------------

def test_guest_signin_is_an_entry_from_the_home_tenant(reference):
    event = parse_one(signin(at(10), GUEST, ATTACKER_IP, seed="g"), reference)
    assert (event["source"], event["account"], event["region"]) == ("azure_entra", ORG_TENANT, "global")
    assert (event["service"], event["action"], event["principal_type"]) == ("Microsoft.aadiam", "Sign-in activity",
                                                                             "user")
    assert event["assume"] == {
        "role": f"azure:{GUEST['oid']}", "session": f"azure-session:{GUEST['oid']}", "session_arn": event["id"],
        "session_name": "Azure Portal", "caller": f"azure:{GUEST['oid']}", "caller_type": "user",
        "caller_account": OUTSIDER, "method": "Guest", "external_id_used": False}
    # The session key is what the guest's later Activity Log calls carry.
    call = parse_one(activity(at(10, minutes=1), GUEST, ROLE_WRITE, RA, ATTACKER_IP, seed="c"), reference)
    assert call["session"] == event["assume"]["session"] and call["principal"] == event["assume"]["role"]
    assert entry_reason(event["assume"], event["account"], [ORG_TENANT], [PARTNER], []) == \
        f"principal of {OUTSIDER} outside the organisation"


def test_signin_log_analytics_row_gives_the_same_entry(reference):
    export = parse_one(signin(at(10), GUEST, ATTACKER_IP, seed="g"), reference)
    row = parse_one(signin_la(at(10), GUEST, ATTACKER_IP, seed="g"), reference)
    assert row["id"] == export["id"] and row["assume"] == export["assume"]
    assert (row["principal"], row["account"], row["src_ip"]) == (export["principal"], ORG_TENANT, ATTACKER_IP)


def test_member_signins_same_tenant_and_cross_tenant(reference):
    member = parse_one(signin(at(1), ALICE, "198.51.100.10", seed="a"), reference)
    assert (member["assume"]["method"], member["assume"]["caller_account"]) == ("SignIn", ORG_TENANT)
    assert entry_reason(member["assume"], member["account"], [ORG_TENANT], [], []) is None
    record = signin(at(1), user("eve", home=OUTSIDER, domain="lexcorp.example"), ATTACKER_IP, seed="e")
    record["properties"].update(userType="Member", crossTenantAccessType="none")   # B2B direct connect, synced
    cross = parse_one(record, reference)
    assert (cross["assume"]["method"], cross["assume"]["caller_account"]) == ("CrossTenant", OUTSIDER)
    partner = parse_one(signin(at(1), user("pat", home=PARTNER, domain="partner.example"), "81.2.69.10", seed="p"),
                        reference)
    assert entry_reason(partner["assume"], partner["account"], [ORG_TENANT], [PARTNER], []) is None


def test_guest_without_home_tenant_falls_back_to_the_upn_domain(reference):
    record = signin(at(1), GUEST, ATTACKER_IP, seed="g")
    del record["properties"]["homeTenantId"]
    assert parse_one(record, reference)["assume"]["caller_account"] == "outsider.example"


def test_service_principal_signin_of_another_tenants_app(reference):
    sp = service_principal("vendor-sync", OUTSIDER)
    event = parse_one(signin(at(1), sp, ATTACKER_IP, seed="sp"), reference)
    assert (event["principal"], event["principal_type"], event["principal_name"]) == \
        (f"azure:{sp['oid']}", "service_principal", "vendor-sync")
    assert (event["assume"]["method"], event["assume"]["caller_account"]) == ("ServicePrincipal", OUTSIDER)
    own = parse_one(signin(at(1), service_principal("ci", ORG_TENANT), "198.51.100.10", seed="ci"), reference)
    assert entry_reason(own["assume"], own["account"], [ORG_TENANT], [], []) is None


def test_managed_identity_and_failed_signins_are_no_entries(reference):
    record = signin(at(1), service_principal("mi", ORG_TENANT), "10.0.0.4", seed="mi")
    record["category"] = "ManagedIdentitySignInLogs"
    event = parse_one(record, reference)
    assert event["principal_type"] == "managed_identity" and "assume" not in event
    failed = parse_one(signin(at(1), GUEST, ATTACKER_IP, seed="f", error=50126), reference)
    assert failed["success"] is False and "assume" not in failed


def test_signin_naming_no_principal_is_dead_lettered(reference):
    record = signin(at(1), GUEST, ATTACKER_IP, seed="g")
    del record["properties"]["userId"]
    with pytest.raises(ParseError) as error:
        parse(record, reference)
    assert error.value.field == "userId"


def test_audit_add_service_principal_creates_it(reference):
    sp = service_principal("etl", ORG_TENANT)
    record = add_service_principal(at(10), ALICE, sp, seed="sp")
    event = parse_one(record, reference)
    assert event["id"] == record["properties"]["id"] and event["principal"] == f"azure:{ALICE['oid']}"
    assert event["created"] == {"identity": f"azure:{sp['oid']}", "identity_type": "service_principal",
                                "signal": "creation", "name": "etl"}
    assert reference.privileged_category("azure", event["service"], event["action"]) == "iam_identity_change"
    record["properties"]["result"] = "failure"
    assert "created" not in parse_one(record, reference)


def test_audit_log_analytics_rows_decode_json_columns(reference):
    """The OTRF Golden SAML rows: InitiatedBy/TargetResources are JSON strings, the name has an en dash."""
    path = CORPORA / "otrf-goldensaml-aad/AADAuditEvents.json"
    rows = [payload for _ref, payload, _f in records_from_file(str(path))]
    credential = parse_one(rows[0], reference)
    assert credential["action"] == "Update application – Certificates and secrets management"
    assert reference.privileged_category("azure", credential["service"], credential["action"]) == "credential_creation"
    assert credential["created"] == {"identity": "azure:11b49e19-2326-4be6-93cb-7f37439bbd81",
                                     "identity_type": "application", "signal": "credential", "name": "SimuLandApp"}
    assert credential["principal"] == "azure:aead923d-498b-4f64-a66c-2af91447a8b6"
    assert credential["principal_name"] == "pgustavo@simulandlabs.com"
    grant = parse_one(rows[3], reference)
    assert (grant["action"], grant["account"]) == ("Add delegated permission grant",
                                                   "00000000-0000-0000-0000-000000000000")


def test_audit_by_an_application(reference):
    record = add_service_principal(at(10), ALICE, service_principal("x", ORG_TENANT), seed="app")
    record["properties"]["initiatedBy"] = {"app": {"appId": "a-1", "displayName": "Provisioner",
                                                   "servicePrincipalId": "6F0C0000-0000-4000-8000-000000000001"}}
    event = parse_one(record, reference)
    assert (event["principal"], event["principal_type"]) == ("azure:6f0c0000-0000-4000-8000-000000000001",
                                                             "service_principal")


# --- storage --------------------------------------------------------------------------------

def test_blob_read_export_is_object_access(reference):
    mi = managed_identity("id-reader")
    record = blob_read(at(10), mi, "stacmedata", "fin-data", "exports/q3.parquet", 4_000_000, "10.2.1.9", seed="r")
    event = parse_one(record, reference)
    assert (event["source"], event["kind"], event["action"], event["service"]) == \
        ("azure_storage", "object_access", "GetBlob", "Microsoft.Storage")
    assert event["object"] == {"bucket": "stacmedata/fin-data", "key": "exports/q3.parquet", "bytes_out": 4_000_000}
    assert (event["principal"], event["principal_type"], event["session"]) == \
        (f"azure:{mi['oid']}", "service_principal", f"azure-session:{mi['oid']}")
    assert (event["src_ip"], event["account"], event["region"], event["id"]) == \
        ("10.2.1.9", SUB, "westeurope", record["correlationId"])
    assert record["identity"]["tokenHash"] not in json.dumps(event)


def test_blob_read_log_analytics_row_matches_the_export(reference):
    sp = service_principal("mig", ORG_TENANT)
    row = parse_one(blob_read_la(at(10), sp, "stacmedata", "hr-data", "a/b.csv", 6_000_000, "45.155.205.40",
                                 seed="la"), reference)
    export = parse_one(blob_read(at(10), sp, "stacmedata", "hr-data", "a/b.csv", 6_000_000, "45.155.205.40",
                                 seed="la"), reference)
    for key in ("id", "ts", "kind", "account", "principal", "session", "src_ip", "object", "action"):
        assert row[key] == export[key], key


def test_blob_reads_by_users_listings_failures_and_writes(reference):
    read = blob_read(at(1), ALICE, "stacmedata", "hr-data", "x.csv", 10, "10.0.0.1", seed="u")
    assert parse_one(read, reference)["principal_type"] == "user"
    listing = parse_one(blob_read(at(1), ALICE, "stacmedata", "hr-data", "", 900, "10.0.0.1", seed="l",
                                  operation="ListBlobs"), reference)
    assert listing["kind"] == "object_access" and listing["object"]["bucket"] == "stacmedata/hr-data"
    denied = copy.deepcopy(read)
    denied.update(statusCode=403, statusText="AuthorizationPermissionMismatch")
    event = parse_one(denied, reference)
    assert (event["success"], event["object"]["bytes_out"]) == (False, 0)
    write = copy.deepcopy(read)
    write.update(operationName="PutBlob", category="StorageWrite")
    assert parse_one(write, reference)["kind"] == "api"


def test_blob_read_with_sas_or_key_is_keyed_by_the_storage_account(reference):
    record = blob_read(at(1), ALICE, "stacmedata", "hr-data", "x.csv", 10, "[2001:db8::7]", seed="sas")
    record["identity"] = {"type": "SAS", "tokenHash": "key1(ABC),SasSignature(DEF)"}
    record["callerIpAddress"] = "[2001:db8::7]:50123"
    event = parse_one(record, reference)
    assert (event["principal"], event["principal_type"], event["session"]) == ("azure-storage-sas:stacmedata", "", "")
    assert event["src_ip"] == "2001:db8::7" and "SasSignature" not in json.dumps(event)


# --- flows ----------------------------------------------------------------------------------

def test_nsg_v2_tuples_are_flows(reference):
    nsg = "nsg-web"
    tuples = [nsg_tuple(at(10), "10.2.7.4", "45.155.205.17", 0, state="B"),
              nsg_tuple(at(10, minutes=1), "10.2.7.4", "45.155.205.17", 125_000_000, state="C"),
              nsg_tuple(at(10, minutes=1), "203.0.113.9", "10.2.7.4", 5000, direction="I", dport=22, decision="D",
                        state="E")]
    begin, cont, inbound = parse(nsg_record(at(10, minutes=1), nsg, "000D3A0A0B0C", tuples), reference)
    assert (begin["source"], begin["kind"], begin["account"], begin["ts"]) == \
        ("azure_nsgflow", "flow", SUB, int(at(10).timestamp() * 1000))
    assert begin["flow"]["bytes"] == 0 and begin["flow"]["status"] == "begin"
    assert cont["flow"] == {"src": "10.2.7.4", "dst": "45.155.205.17", "dst_port": 443, "protocol": 6,
                            "bytes": 125_000_000, "packets": 89285, "action": "ACCEPT", "status": "continuing",
                            "direction": "egress", "instance": "", "eni": ""}
    assert (inbound["flow"]["direction"], inbound["flow"]["action"], inbound["flow"]["dst_port"]) == \
        ("ingress", "REJECT", 22)
    assert len({begin["id"], cont["id"], inbound["id"]}) == 3 and cont["id"].startswith("azure_nsgflow-")
    again = parse(nsg_record(at(10, minutes=1), nsg, "000D3A0A0B0C", tuples), reference)
    assert [e["id"] for e in again] == [begin["id"], cont["id"], inbound["id"]]


def test_nsg_v1_tuple_has_no_counters(reference):
    record = nsg_record(at(1), "nsg-old", "000D3A000001", ["1790856000,10.0.0.4,8.8.8.8,50000,53,U,O,A"])
    record["properties"]["Version"] = 1
    (event,) = parse(record, reference)
    assert (event["flow"]["protocol"], event["flow"]["bytes"], event["flow"]["status"]) == (17, 0, "OK")


def test_vnet_flow_tuples_on_a_nic_name_the_nic(reference):
    names = vm_names("app", 9)
    tuples = [vnet_tuple(at(10), "10.2.9.4", "45.155.205.17", 90_000_000),
              vnet_tuple(at(10), "10.2.9.4", "45.155.205.18", 0, state="D")]
    allowed, denied = parse(vnet_record(at(10), names["nic"], "000D3A000009", tuples), reference)
    assert (allowed["source"], allowed["ts"], allowed["account"]) == ("azure_vnetflow", int(at(10).timestamp() * 1000),
                                                                      SUB)
    assert allowed["flow"]["instance"] == names["nic"].lower() and allowed["flow"]["bytes"] == 90_000_000
    assert (denied["flow"]["action"], denied["flow"]["status"]) == ("REJECT", "denied")


@pytest.mark.parametrize("bad,problem", [("1790856000,10.0.0.4,8.8.8.8,50000,53,T,O", "7 fields"),
                                         ("1790856000,10.0.0.4,not-an-ip,50000,53,T,O,A", "not an IP"),
                                         ("1790856000,10.0.0.4,8.8.8.8,50000,53,T,X,A", "direction"),
                                         ("1790856000,10.0.0.4,8.8.8.8,50000,53,T,O,Q", "decision")])
def test_malformed_tuple_dead_letters_the_record_naming_the_tuple(bad, problem, reference):
    record = nsg_record(at(1), "nsg", "000D3A000001", [nsg_tuple(at(1), "10.0.0.4", "8.8.8.8", 10), bad])
    with pytest.raises(ParseError) as error:
        parse(record, reference)
    assert error.value.field == "flowTuples[0][1]" and problem in error.value.problem


# --- recognition and framing ----------------------------------------------------------------

AZURE = (azure_activity, azure_entra, azure_storage, azure_flow)


def _samples():
    mi, names = managed_identity("id"), vm_names("s", 1)
    return {
        azure_activity: [activity(at(1), ALICE, ROLE_WRITE, RA, "1.2.3.4", seed="s"),
                         activity_la(at(1), ALICE, ROLE_WRITE, RA, "1.2.3.4", seed="s"),
                         write_nic(at(1), ALICE, names, seed="n")],
        azure_entra: [signin(at(1), GUEST, "1.2.3.4", seed="s"), signin_la(at(1), GUEST, "1.2.3.4", seed="s"),
                      add_service_principal(at(1), ALICE, service_principal("x", ORG_TENANT), seed="s")],
        azure_storage: [blob_read(at(1), mi, "acct", "c", "k", 1, "1.2.3.4", seed="s"),
                        blob_read_la(at(1), mi, "acct", "c", "k", 1, "1.2.3.4", seed="s")],
        azure_flow: [nsg_record(at(1), "nsg", "m", []), vnet_record(at(1), names["nic"], "m", [])],
    }


def test_each_azure_shape_is_claimed_by_exactly_its_parser():
    for parser, records in _samples().items():
        for record in records:
            claimed = [p.FORMAT for p in PARSERS if p.recognises(json.loads(json.dumps(record)))]
            assert claimed == [parser.FORMAT], (parser.FORMAT, claimed)


def test_azure_parsers_leave_aws_and_gcp_records_alone():
    others = []
    for name, n in (("aws_cloudtrail_rules_tests.ndjson", 60), ("aws_vpc_flow_rules_tests.ndjson", 10),
                    ("gcp_audit_rules_tests.ndjson", 60)):
        path = CORPORA / "panther-tests" / name
        if path.exists():
            lines = path.read_text().splitlines()[:n]
            others += [json.loads(line)["log"] for line in lines]
    assert len(others) >= 70
    for record in others:
        assert not [p.FORMAT for p in AZURE if p.recognises(record)], record


def test_format_named_in_config_restricts_the_parser(reference):
    record = signin(at(1), GUEST, "1.2.3.4", seed="s")
    assert parse_record(record, "json", reference, "azure_entra")
    with pytest.raises(ParseError, match="format 'azure_activity'"):
        parse_record(record, "json", reference, "azure_activity")


def test_lower_case_records_framing_yields_each_record():
    text = json.dumps({"records": [nsg_record(at(1), "nsg", "m", []), signin(at(1), GUEST, "1.2.3.4", seed="s")]})
    framed = list(records_from_text(text, "PT1H.json"))
    assert [(ref, framing) for ref, _p, framing in framed] == [("PT1H.json#0", "json"), ("PT1H.json#1", "json")]


# --- the real Azure corpora -----------------------------------------------------------------

AZURE_CORPORA = {"panther-tests/azure_activity_rules_tests.ndjson": 214,
                 "panther-tests/azure_signin_rules_tests.ndjson": 47,
                 "otrf-goldensaml-aad/AADAuditEvents.json": 4}


@pytest.mark.parametrize("name,records", AZURE_CORPORA.items(), ids=list(AZURE_CORPORA))
def test_azure_corpus_every_record_normalised_or_dead_lettered(name, records, reference):
    normalised, dead = 0, 0
    for _ref, payload, framing in records_from_file(str(CORPORA / name)):
        try:
            events = parse_record(payload, framing, reference)
        except ParseError as exc:
            assert str(exc)
            dead += 1
            continue
        normalised += 1
        for event in events:
            assert event["cloud"] == "azure" and event["region"] is not None and event["account"] is not None
            assert event["principal"] == "" or event["principal"].startswith(("azure:", "azure-storage-"))
    assert normalised + dead == records
    assert dead == 0   # measured: every Panther/OTRF Azure sample has what the parsers need


def test_panther_signins_entries_and_failures(reference):
    path = CORPORA / "panther-tests/azure_signin_rules_tests.ndjson"
    events = [e for _ref, payload, framing in records_from_file(str(path))
              for e in parse_record(payload, framing, reference) if e["action"] == "Sign-in activity"]
    assumes = [e["assume"] for e in events if "assume" in e]
    assert sorted({a["method"] for a in assumes}) == ["CrossTenant", "ServicePrincipal", "SignIn"]
    # Only the two Exchange Online sign-ins of a user whose home is another tenant come from outside.
    outside = [a for a in assumes if a["method"] == "CrossTenant"
               and a["caller_account"] != "fc66a38e-bcba-4fe9-b2de-c67918514cc5"]
    assert {a["caller_account"] for a in outside} == {"4328f0a8-06da-4457-b0d0-2c8e115e52cc"} and len(outside) == 2
    # An app with no owner tenant in the log is taken as this tenant's own: never an outside entry.
    apps = [e for e in events if e.get("assume", {}).get("method") == "ServicePrincipal"]
    assert apps and all(entry_reason(e["assume"], e["account"], [], [], []) is None for e in apps)
    failed = [e for e in events if not e["success"]]
    assert failed and not [e for e in failed if "assume" in e]
