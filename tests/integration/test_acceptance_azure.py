"""Azure acceptance: AN1328 and AN1348 positives and negatives through the real PyFlink job.

All scenarios use distinct identities, so one replay (one Flink job) runs them all, with the
everyday background from day 0; each test then checks the findings of its own key. The files
mix the shapes Azure delivers: diagnostic-export JSON lines (Activity Log, Entra, storage),
Log Analytics exports (JSON arrays) and flow logs as {"records": [...]}.
"""
from __future__ import annotations


import pytest

from chainwatch.flink.replay_job import replay
from tests.builders_azure import ORG_TENANT, SUB, write_array, write_json_lines, write_records
from tests.findings_by_key import check_scenario, group_by_key
from tests.scenarios_azure import EXFIL_IP, all_scenarios, background

SCENARIOS = all_scenarios()
BACKGROUND = background()


def _hour(record: dict) -> str:
    return (record.get("time") or record.get("TimeGenerated"))[:13]


def _write(directory, scenarios) -> None:
    """Per hour: one JSON-lines file, one Log Analytics export and one flow-log file."""
    files: dict[tuple[str, str], list] = {}
    for sc in scenarios:
        for kind, items in (("records", sc.records), ("tables", sc.tables), ("flows", sc.flows)):
            for item in items:
                files.setdefault((_hour(item), kind), []).append(item)
    writers = {"records": (write_json_lines, "PT1H.json"), "tables": (write_array, "la-export.json"),
               "flows": (write_records, "flowlogs.json")}
    for (hour, kind), items in files.items():
        writer, name = writers[kind]
        items.sort(key=lambda r: r.get("time") or r.get("TimeGenerated"))
        writer(directory / hour.replace(":", "") / name, items)


@pytest.fixture(scope="module")
def result(tmp_path_factory, config, patterns):
    directory = tmp_path_factory.mktemp("azure-scenarios")
    _write(directory, SCENARIOS + [BACKGROUND])
    return replay(config, patterns, [directory])


@pytest.fixture(scope="module")
def by_key(result):
    return group_by_key(result.findings)


def _one(by_key, name):
    (scenario,) = [s for s in SCENARIOS if s.name == name]
    (finding,) = by_key[scenario.key]
    return scenario, finding


def test_every_record_normalised(result):
    total = sum(len(s.records) + len(s.tables) + len(s.flows) for s in SCENARIOS + [BACKGROUND])
    assert result.counts["read"] == total
    assert result.counts["normalised"] == total, result.dead_letters[:3]
    assert result.unattributed_egress == 0


def test_no_finding_outside_the_scenarios(by_key):
    assert set(by_key) <= {s.key for s in SCENARIOS if s.expect}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(scenario, by_key):
    findings = by_key.get(scenario.key, [])
    check_scenario(scenario, findings)
    for finding in findings:
        assert finding["cloud"]["provider"] == "Azure"
        assert finding["cloud"]["account"]["uid"] and finding["cloud"]["region"]


def test_an1328_flow_finding_names_the_managed_identity_and_cites_all_three_steps(by_key):
    scenario, finding = _one(by_key, "p1-mi-sync")
    user = finding["actor"]["user"]
    assert (user["uid"], user["type"], user["name"]) == (scenario.key, "Managed Identity", "id-p1-mi-sync")
    assert finding["cloud"] == {"provider": "Azure", "account": {"uid": SUB}, "region": "westeurope"}
    related = finding["finding_info"]["related_events"]
    assert {e["type"] for e in related} == {"new_identity", "object_access_spike", "external_exfiltration"}
    assert all(e["uid"].startswith("azure_nsgflow-") for e in related if e["type"] == "external_exfiltration")
    spike = next(e for e in finding["evidences"] if e["step"] == "object_access_spike")["details"]
    assert spike["reads"] >= 100 and spike["bucket_count"] == 3 and spike["baseline_basis"] == "peer_group"
    assert spike["buckets"] == ["stacmedata/fin-data", "stacmedata/hr-data", "stacmedata/ml-data"]
    exfil = next(e for e in finding["evidences"] if e["step"] == "external_exfiltration")["details"]
    # Bound through the NIC's private IP to the VM (lower-case resource id), then to its identity.
    assert exfil["workloads"] == [f"/subscriptions/{SUB}/resourcegroups/rg-apps/providers/"
                                  "microsoft.compute/virtualmachines/vm-p1-mi-sync"]
    assert exfil["channels"] == ["network_flow"] and exfil["bytes"] >= 100_000_000
    assert finding["dst_endpoints"][0]["ip"] == EXFIL_IP
    assert finding["dst_endpoints"][0]["location"]["country"] == "RU"
    identity = finding["unmapped"]["chainwatch"]["identity"]
    assert identity["basis"] == "created" and identity["created_by"].startswith("azure:")


def test_an1328_vnet_flows_bind_through_the_nic(by_key):
    _scenario, finding = _one(by_key, "p1b-mi-vnet")
    exfil = next(e for e in finding["evidences"] if e["step"] == "external_exfiltration")["details"]
    assert exfil["workloads"] == [f"/subscriptions/{SUB}/resourcegroups/rg-apps/providers/"
                                  "microsoft.network/networkinterfaces/nic-p1b-mi-vnet"]


def test_an1328_download_finding_is_the_new_service_principal_in_its_tenant(by_key):
    scenario, finding = _one(by_key, "p2-blob-download")
    assert finding["actor"]["user"]["type"] == "Service Principal"
    assert finding["actor"]["user"]["name"] == "p2-tmp-migration"
    assert finding["cloud"] == {"provider": "Azure", "account": {"uid": ORG_TENANT}, "region": "global"}
    exfil = next(e for e in finding["evidences"] if e["step"] == "external_exfiltration")["details"]
    assert exfil["channels"] == ["object_download"]
    assert finding["dst_endpoints"][0]["ip"] == "45.155.205.40"


def test_an1348_guest_finding_carries_outside_tenant_session_calls_and_origin(by_key):
    scenario, finding = _one(by_key, "p3-guest-burst")
    user = finding["actor"]["user"]
    assert user["uid"] == scenario.key.replace("azure-session:", "azure:") and user["type"] == "User"
    assert user["name"].endswith("#EXT#@acme.onmicrosoft.com")
    assert user["outside_account"]["uid"] == "99999999-0000-1111-2222-333333333333"
    session = finding["actor"]["session"]
    assert session["uid"] == scenario.key and session["uid_alt"] == scenario.must_cite[0]
    assert session["name"] == "Azure Portal"
    assert finding["unmapped"]["chainwatch"]["session"]["method"] == "Guest"
    assert finding["cloud"] == {"provider": "Azure", "account": {"uid": ORG_TENANT}, "region": "global"}
    evidence = next(e for e in finding["evidences"] if e["step"] == "privileged_burst")
    burst = evidence["details"]
    # Each call is logged Start then Success: only the final records count, so 3 calls, not 3 records.
    assert burst["call_count"] == 3 and evidence["event_uids"] == scenario.must_cite[1:]
    assert [(c["service"], c["action"]) for c in burst["calls"]] == [
        ("Microsoft.Authorization", "roleAssignments/write"), ("Microsoft.KeyVault", "vaults/accessPolicies/write"),
        ("Microsoft.Insights", "diagnosticSettings/delete")]
    assert burst["categories"] == ["iam_policy_change", "key_management", "logging_change"]
    origin = finding["src_endpoints"][0]
    assert origin["ip"] == "91.219.236.15"
    assert origin["autonomous_system"]["number"] == 48693 and origin["location"]["country"] == "UA"


def test_an1348_outside_app_finding_names_the_app_owner_tenant(by_key):
    _scenario, finding = _one(by_key, "p4-outside-app-burst")
    assert finding["actor"]["user"]["type"] == "Service Principal"
    assert finding["unmapped"]["chainwatch"]["session"]["method"] == "ServicePrincipal"
    assert finding["actor"]["user"]["outside_account"]["uid"] == "99999999-0000-1111-2222-333333333333"


def test_an1348_stolen_partner_finding_names_the_allowlist_entry_it_fell_outside_of(by_key):
    (finding,) = [f for s in SCENARIOS if s.name == "p11-stolen-partner" for f in by_key[s.key]]
    entry = next(e for e in finding["evidences"] if e["step"] == "cross_account_entry")["details"]
    (outside,) = entry["allowlist"]
    assert outside["id"] == "azure-partner-tenant"
    assert outside["outside"] == ["91.219.236.15 (AS48693) is not in its networks",
                                  "country UA is not among its countries"]
    assert "outside allowlist entry azure-partner-tenant" in entry["reason"]


def test_no_token_material_in_findings(result):
    """Storage logs carry token hashes and the Activity Log token ids (uti): neither reaches a finding."""
    text = str(result.findings)
    hashes = {r["identity"]["tokenHash"] for s in SCENARIOS for r in s.records if "tokenHash" in r.get("identity", {})}
    utis = {r["identity"]["claims"]["uti"] for s in SCENARIOS for r in s.records if "claims" in r.get("identity", {})}
    assert hashes and utis
    assert not [h for h in hashes | utis if h in text]
