"""Google Cloud acceptance: AN1328 and AN1348 positives and negatives through the real PyFlink job.

The same patterns, steps and findings as AWS; only the parsers and conf/gcp differ. All scenarios
use distinct identities, so one replay (one Flink job) runs them all; each test then checks the
findings of its own key. Inputs are laid out as a Cloud Storage log sink writes them.
"""
from __future__ import annotations

import pytest

from chainwatch.flink.replay_job import replay
from tests.builders_gcp import write_sink_files
from tests.findings_by_key import check_scenario, group_by_key
from tests.scenarios_gcp import ATTACKER_IP, EXFIL_IP, OUTSIDER, PROJECT, all_scenarios, background, sa

SCENARIOS = all_scenarios()
BACKGROUND = background()



@pytest.fixture(scope="module")
def result(tmp_path_factory, config, patterns):
    directory = tmp_path_factory.mktemp("gcp-scenarios")
    assert write_sink_files(directory, BACKGROUND + [e for s in SCENARIOS for e in s.entries]) > 20
    return replay(config, patterns, [directory])


@pytest.fixture(scope="module")
def by_key(result):
    return group_by_key(result.findings)


def test_every_record_normalised(result):
    total = len(BACKGROUND) + sum(len(s.entries) for s in SCENARIOS)
    assert result.counts["read"] == total
    assert result.counts["normalised"] == total, result.dead_letters[:3]


def test_no_finding_outside_the_scenarios(by_key):
    assert set(by_key) <= {s.key for s in SCENARIOS if s.expect}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(scenario, by_key):
    findings = by_key.get(scenario.key, [])
    check_scenario(scenario, findings)
    for finding in findings:
        assert finding["cloud"] == {"provider": "GCP", "account": {"uid": PROJECT}, "region": "global"}


def test_an1328_flow_finding_names_the_service_account_and_cites_all_three_steps(by_key):
    email = sa("g-p1-etl-sync")
    (finding,) = by_key[f"serviceAccount:{email}"]
    assert finding["actor"]["user"] == {"uid": f"serviceAccount:{email}", "name": email, "type": "Service Account",
                                        "account": {"uid": PROJECT}}
    related = finding["finding_info"]["related_events"]
    assert {e["type"] for e in related} == {"new_identity", "object_access_spike", "external_exfiltration"}
    exfil = next(e for e in finding["evidences"] if e["step"] == "external_exfiltration")["details"]
    assert exfil["channels"] == ["network_flow"] and exfil["bytes"] >= 100_000_000
    assert exfil["workloads"] == [f"projects/{PROJECT}/zones/us-central1-a/instances/g-p1-etl-sync-vm"]
    spike = next(e for e in finding["evidences"] if e["step"] == "object_access_spike")["details"]
    assert spike["reads"] >= 100 and spike["bucket_count"] == 3 and spike["baseline_basis"] == "peer_group"
    assert spike["actions"] == ["storage.objects.get", "storage.objects.list"]
    assert finding["dst_endpoints"][0]["ip"] == EXFIL_IP
    assert finding["dst_endpoints"][0]["location"]["country"] == "RU"
    identity = finding["unmapped"]["chainwatch"]["identity"]
    assert identity["basis"] == "created" and identity["created_by"] == "user:alice@acme.example"


def test_an1328_download_finding_for_a_new_member_counts_bytes_out(by_key):
    (finding,) = by_key["user:g-p2-temp.migration@gmail.com"]
    assert finding["actor"]["user"]["type"] == "User"
    exfil = next(e for e in finding["evidences"] if e["step"] == "external_exfiltration")["details"]
    assert exfil["channels"] == ["object_download"]
    assert finding["dst_endpoints"][0]["ip"] == "45.155.205.40"
    assert finding["unmapped"]["chainwatch"]["identity"]["basis"] == "created"


def test_an1348_finding_carries_outside_domain_session_calls_and_origin(by_key):
    session = f"user:{OUTSIDER}=>serviceAccount:{sa('g-p3-deployer')}"
    (finding,) = by_key[session]
    assert finding["actor"]["user"]["uid"] == f"serviceAccount:{sa('g-p3-deployer')}"
    assert finding["actor"]["user"]["type"] == "Service Account"
    assert finding["actor"]["user"]["name"] == sa("g-p3-deployer")
    assert finding["actor"]["user"]["outside_account"]["uid"] == "evil.example"
    assert finding["actor"]["user"]["outside_principal"] == f"user:{OUTSIDER}"
    assert finding["actor"]["session"]["uid"] == session
    entry = next(e for e in finding["evidences"] if e["step"] == "cross_account_entry")["details"]
    assert entry["method"] == "Impersonation" and "evil.example" in entry["reason"]
    burst = next(e for e in finding["evidences"] if e["step"] == "privileged_burst")["details"]
    assert burst["call_count"] >= 3
    assert {c["action"] for c in burst["calls"]} <= {"SetIamPolicy", "google.iam.admin.v1.CreateServiceAccountKey",
                                                      "compute.firewalls.insert",
                                                      "google.logging.v2.ConfigServiceV2.DeleteSink"}
    assert {"iam_policy_change", "credential_creation"} <= set(burst["categories"])
    origin = finding["src_endpoints"][0]
    assert origin["ip"] == ATTACKER_IP
    assert origin["autonomous_system"]["number"] == 48693 and origin["location"]["country"] == "UA"


def test_an1348_workload_identity_federation_is_a_third_party_entry(by_key):
    (finding,) = [f for key, found in by_key.items() if key.startswith("principal://") and "/github/" in key
                  for f in found]
    entry = next(e for e in finding["evidences"] if e["step"] == "cross_account_entry")["details"]
    assert entry["method"] == "WorkloadIdentityFederation"
    assert finding["actor"]["user"]["outside_account"]["uid"] == \
        "projects/914400112233/locations/global/workloadIdentityPools/github"


@pytest.mark.parametrize("name, entry", [("g-p12-partner-domain-stolen", "gcp-partner-domain"),
                                         ("g-p13-partner-pool-stolen", "gcp-partner-pool")])
def test_an1348_a_partner_domain_or_pool_from_elsewhere_names_its_entry(by_key, name, entry):
    (finding,) = [f for s in SCENARIOS if s.name == name for f in by_key[s.key]]
    details = next(e for e in finding["evidences"] if e["step"] == "cross_account_entry")["details"]
    (outside,) = details["allowlist"]
    assert outside["id"] == entry and outside["outside"][-1].startswith(f"{ATTACKER_IP} (AS48693) is not in its")


def test_an1348_stolen_partner_finding_names_the_allowlist_entry_it_fell_outside_of(by_key):
    session = f"serviceAccount:{sa('nightly', 'partner-ops')}=>serviceAccount:{sa('g-p11-partner-stolen')}"
    (finding,) = by_key[session]
    entry = next(e for e in finding["evidences"] if e["step"] == "cross_account_entry")["details"]
    (outside,) = entry["allowlist"]
    assert outside["id"] == "gcp-partner-ops"
    assert outside["outside"] == [f"{ATTACKER_IP} (AS48693) is not in its networks"]
    assert "outside allowlist entry gcp-partner-ops" in entry["reason"]
