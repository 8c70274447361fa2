"""Issue 2 acceptance: AN1328 and AN1348 positives and negatives through the real PyFlink job.

All scenarios use distinct identities, so one replay (one Flink job) runs them all; each test
then checks the findings of its own key. Parallelism 2 exercises the keyed shuffles.
"""
from __future__ import annotations

import dataclasses
import json
import random
from datetime import datetime, timezone

import pytest

from chainwatch.flink.replay_job import replay, summary_lines
from tests.builders import at, call, user, write_cloudtrail, write_flows
from tests.findings_by_key import check_scenario, group_by_key
from tests.scenarios import DAY, all_scenarios, suppression_scenarios
from tests.scenarios_federation import federation_scenarios

SCENARIOS = all_scenarios() + suppression_scenarios() + federation_scenarios()


def _write(directory, scenarios, *, chronological_names: bool, shuffle_seed=None):
    """One CloudTrail file and one flow-log file per hour of the scenarios' events.

    chronological_names=False numbers the files backwards, so the job reads the newest first.
    """
    records = sorted((r for s in scenarios for r in s.records), key=lambda r: r["eventTime"])
    flows = sorted((f for s in scenarios for f in s.flows), key=lambda f: int(f.split()[10]))
    if shuffle_seed is not None:
        records, flows = _shuffle_within(records, shuffle_seed), _shuffle_within(flows, shuffle_seed)
    hours: dict[str, tuple[list, list]] = {}
    for record in records:
        hours.setdefault(record["eventTime"][:13], ([], []))[0].append(record)
    for line in flows:
        hour = datetime.fromtimestamp(int(line.split()[10]), timezone.utc).strftime("%Y-%m-%dT%H")
        hours.setdefault(hour, ([], []))[1].append(line)
    for n, (hour, (cloudtrail, flow_lines)) in enumerate(sorted(hours.items())):
        name = hour if chronological_names else f"{9999 - n:04d}"
        if cloudtrail:
            write_cloudtrail(directory / f"{name}-cloudtrail.json.gz", cloudtrail)
        if flow_lines:
            write_flows(directory / f"{name}-vpcflow.log", flow_lines)


def _shuffle_within(items, seed, window=8):
    """Displace items only locally (a few positions ~ seconds-minutes), as delivery jitter does."""
    rng = random.Random(seed)
    items = list(items)
    for start in range(0, len(items), window):
        block = items[start:start + window]
        rng.shuffle(block)
        items[start:start + window] = block
    return items



@pytest.fixture(scope="module")
def result(tmp_path_factory, config, patterns):
    directory = tmp_path_factory.mktemp("scenarios")
    _write(directory, SCENARIOS, chronological_names=False)
    return replay(config, patterns, [directory])


@pytest.fixture(scope="module")
def by_key(result):
    return group_by_key(result.findings)


def test_every_record_normalised(result):
    total = sum(len(s.records) for s in SCENARIOS) + sum(len(s.flows) for s in SCENARIOS)
    assert result.counts["read"] == total
    assert result.counts["normalised"] == total, result.dead_letters[:3]


def test_no_finding_outside_the_scenarios(by_key):
    assert set(by_key) <= {s.key for s in SCENARIOS if s.expect}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(scenario, by_key):
    findings = by_key.get(scenario.key, [])
    check_scenario(scenario, findings)


def test_an1328_flow_finding_names_role_and_cites_all_three_steps(by_key):
    (finding,) = by_key["arn:aws:iam::111122223333:role/p1-svc-sync"]
    assert finding["actor"]["user"]["type"] == "Role"
    related = finding["finding_info"]["related_events"]
    kinds = {e["type"] for e in related}
    assert kinds == {"new_identity", "object_access_spike", "external_exfiltration"}
    assert any(e["uid"].startswith("vpcflow-") for e in related if e["type"] == "external_exfiltration")
    spike = next(e for e in finding["evidences"] if e["step"] == "object_access_spike")["details"]
    assert spike["reads"] >= 100 and spike["bucket_count"] == 3 and spike["baseline_basis"] == "peer_group"
    assert finding["dst_endpoints"][0]["ip"] == "45.155.205.17"
    assert finding["dst_endpoints"][0]["location"]["country"] == "RU"
    identity = finding["unmapped"]["chainwatch"]["identity"]
    assert identity["basis"] == "created" and identity["created_by"].endswith("user/alice")
    assert finding["finding_info"]["first_seen_time"] < finding["finding_info"]["last_seen_time"]


def test_an1348_finding_carries_outside_account_session_calls_and_origin(by_key):
    (finding,) = [f for s in SCENARIOS if s.name == "p3-outside-burst" for f in by_key[s.key]]
    assert finding["actor"]["user"]["uid"] == "arn:aws:iam::111122223333:role/p3-Deploy"
    assert finding["actor"]["user"]["outside_account"]["uid"] == "999900001111"
    assert finding["actor"]["session"]["uid_alt"].endswith("assumed-role/p3-Deploy/p3-outside-burst")
    burst = next(e for e in finding["evidences"] if e["step"] == "privileged_burst")["details"]
    assert burst["call_count"] >= 3
    assert {c["action"] for c in burst["calls"]} <= {"AttachRolePolicy", "CreateAccessKey", "PutBucketPolicy",
                                                      "StopLogging"}
    origin = finding["src_endpoints"][0]
    assert origin["ip"] == "91.219.236.15"
    assert origin["autonomous_system"]["number"] == 48693 and origin["location"]["country"] == "UA"
    assert "sessionToken" not in str(finding) and "IQoJb3JpZ2luX2VjEXAMPLETOKEN" not in str(finding)


def test_an1328_message_tells_the_chain_with_its_numbers(by_key):
    (finding,) = by_key["arn:aws:iam::111122223333:role/p1-svc-sync"]
    spike = next(e for e in finding["evidences"] if e["step"] == "object_access_spike")["details"]
    message = finding["message"]
    assert message.startswith("AN1328: p1-svc-sync (Role, AWS account 111122223333) was created 2026-")
    assert "by arn:aws:iam::111122223333:user/alice; " in message
    assert f"later it read {spike['reads']:,} objects (" in message and "from 3 buckets (" in message
    assert f"the peer group's baseline of {spike['baseline']:g} reads per 10m" in message
    assert "later it sent " in message and "45.155.205.17 (XHOST-NET, AS208091, RU)" in message


def test_related_events_carry_their_own_times_and_techniques_their_own_tactics(by_key):
    from chainwatch.core.units import parse_timestamp_ms
    (scenario,) = [s for s in SCENARIOS if s.key == "arn:aws:iam::111122223333:role/p1-svc-sync"]
    record_times = {r["eventID"]: parse_timestamp_ms(r["eventTime"]) for r in scenario.records}
    (finding,) = by_key[scenario.key]
    related = [e for e in finding["finding_info"]["related_events"] if e["uid"] in record_times]
    assert len(related) > 3 and all(e["time"] == record_times[e["uid"]] for e in related)
    assert len({e["time"] for e in related}) > 3          # not the step's time for all of them
    tactics = {a["technique"]["uid"]: [t["name"] for t in a["tactics"]] for a in finding["finding_info"]["attacks"]}
    assert tactics == {"T1136.003": ["Persistence"], "T1530": ["Collection"], "T1537": ["Exfiltration"],
                       "T1567": ["Exfiltration"]}


def test_explain_prints_the_timeline_of_a_finding_the_job_wrote(tmp_path, by_key, result, capsys):
    from chainwatch.cli import main
    findings = tmp_path / "findings.jsonl"
    findings.write_text("".join(json.dumps(f) + "\n" for f in result.findings))
    (finding,) = [f for s in SCENARIOS if s.name == "p11-stolen-partner" for f in by_key[s.key]]
    assert main(["explain", finding["finding_info"]["uid"], "--findings", str(findings)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("AN1348  ")
    assert "outside allowlist entry aws-partner-automation" in out
    rows = [line for line in out.splitlines() if line[:4] == "2026"]          # the timeline table
    times = [row[:20] for row in rows]
    assert len(rows) >= 5 and times == sorted(times)
    assert any("cross-account entry" in r for r in rows) and any("privileged burst" in r for r in rows)


def test_an1328_a_principal_repeating_the_chain_three_times_in_a_day_is_one_finding_counted_three_times(by_key):
    (scenario,) = suppression_scenarios()
    records = sorted(by_key[scenario.key], key=lambda f: f["count"])
    assert [f["count"] for f in records] == [1, 2, 3]
    assert len({f["finding_info"]["uid"] for f in records}) == 1 == len({f["metadata"]["uid"] for f in records})
    assert [f["activity_name"] for f in records] == ["Create", "Update", "Update"]
    matches = [f["unmapped"]["chainwatch"]["suppression"]["match_uid"] for f in records]
    assert len(set(matches)) == 3 and matches[0] == records[0]["finding_info"]["uid"]
    first, last = records[0], records[-1]
    creations = [r["eventID"] for r in scenario.records if r["eventName"] == "CreateUser"]
    assert [e["uid"] for e in first["finding_info"]["related_events"] if e["type"] == "new_identity"] == creations[:1]
    assert [e["uid"] for e in last["finding_info"]["related_events"] if e["type"] == "new_identity"] == creations[2:]
    assert last["finding_info"]["first_seen_time"] == first["finding_info"]["first_seen_time"]
    assert last["message"].startswith("Seen 3 times since ")
    assert last["unmapped"]["chainwatch"]["suppression"]["group"] == {"principal": scenario.key}


def test_the_replay_counts_the_sessions_each_allowlist_entry_let_in(result, config):
    """n6: 10 days of history and its day-10 entry, p11: its 10 days of history (not the theft),
    p12: its entry from the office (not the calls from elsewhere)."""
    assert dict(result.allowlist_uses) == {"aws-partner-automation": 22}
    assert not any(d.get("allowlist_use") for d in result.dead_letters)
    lines = summary_lines(result, config.allowlist)
    assert "allowlist entries:     5, sessions let in: aws-partner-automation 22, gcp-partner-ops 0, " \
           "gcp-partner-domain 0, gcp-partner-pool 0, azure-partner-tenant 0" in lines
    assert "  gcp-partner-ops (owner partners@acme.example) let nothing in: still needed?" in lines


def test_the_replay_summary_lists_the_first_party_provider_it_learned(result, config):
    """n13's cluster issuer, learned from CreateOpenIDConnectProvider; the vendor's issuer is not."""
    lines = summary_lines(result, config.allowlist)
    learned = [line.strip() for line in lines[lines.index(next(x for x in lines if x.startswith("first-party"))):]
               if "oidc-provider/" in line]
    assert len(learned) == 1 and "oidc.eks.us-east-1.amazonaws.com/id/" in learned[0], lines
    assert "iam:CreateOpenIDConnectProvider" in learned[0]


def test_an1348_outside_identity_providers_are_named_in_the_entry(by_key):
    reasons = {name: _entry_step(by_key, name)["details"]["reason"] for name in
               ("p14-vendor-oidc", "p15-outside-saml-idp", "p17-github-outside-repo")}
    assert all("federated third-party identity" in reason for reason in reasons.values()), reasons
    assert "oidc.vendor-ci.example.net" in reasons["p14-vendor-oidc"]


def test_the_replay_summary_counts_the_updates(result):
    assert "(2 of them updates of an earlier one" in "\n".join(summary_lines(result))


def _entry_step(by_key, name: str) -> dict:
    (finding,) = [f for s in SCENARIOS if s.name == name for f in by_key[s.key]]
    return next(e for e in finding["evidences"] if e["step"] == "cross_account_entry")


def test_an1348_stolen_partner_finding_names_the_allowlist_entry_it_fell_outside_of(by_key):
    entry = _entry_step(by_key, "p11-stolen-partner")
    (outside,) = entry["details"]["allowlist"]
    assert (outside["id"], outside["owner"]) == ("aws-partner-automation", "partners@acme.example")
    assert outside["outside"] == ["91.219.236.15 (AS48693) is not in its networks"]
    assert entry["details"]["reason"] == ("principal of 777788889999 outside the organisation; outside allowlist "
                                          "entry aws-partner-automation (owner partners@acme.example): "
                                          "91.219.236.15 (AS48693) is not in its networks")


def test_an1348_partner_session_let_in_then_used_elsewhere_becomes_an_entry_at_that_call(by_key):
    (scenario,) = [s for s in SCENARIOS if s.name == "p12-partner-session-used-elsewhere"]
    assume, first_call = scenario.records[0], scenario.records[1]
    entry = _entry_step(by_key, scenario.name)
    assert entry["event_uids"] == [assume["eventID"], first_call["eventID"]]
    assert entry["details"]["src_ip"] == "81.2.69.10"           # let in from the office ...
    (outside,) = entry["details"]["allowlist"]                  # ... until a call came from elsewhere
    assert outside["id"] == "aws-partner-automation"
    assert outside["outside"] == ["45.155.205.99 (AS208091) is not in its networks"]


def test_shuffled_within_watermark_delay_gives_same_findings(tmp_path, config, patterns, result):
    """Files read by start time, records displaced locally (within time.watermark_delay): the
    same findings as the replay that holds everything until the end of input."""
    _write(tmp_path, SCENARIOS, chronological_names=True, shuffle_seed=11)
    shuffled = replay(config, patterns, [tmp_path])
    assert shuffled.counts["late"] == 0
    assert sorted(f["metadata"]["uid"] for f in shuffled.findings) == \
        sorted(f["metadata"]["uid"] for f in result.findings)
    assert len(shuffled.findings) == sum(s.expect for s in SCENARIOS)


def test_a_record_far_behind_the_files_read_before_it_is_counted_late(tmp_path, config, patterns):
    """Event time advances file group by file group (files starting within time.watermark_delay
    of each other are read together); a record more than time.watermark_delay older than the
    files read before it is reported as late (whether it is then missed depends on timing), and
    --hold-all, which keeps everything until the end of input, still finds the chain."""
    (scenario,) = [s for s in SCENARIOS if s.name == "p2-s3-download"]
    creation, reads = scenario.records[0], scenario.records[1:]
    bystander = user("111122223333", "late-bystander")
    # ~40 KB: the creation is beyond the 16 KB peeked; b at 6h, c at 7h: not one group
    filler = [call(at(DAY, hours=6 if n == 0 else 7, seconds=n), bystander, "ec2.amazonaws.com", "DescribeInstances",
                   "10.0.0.9", seed=f"filler-{n}") for n in range(60)]
    write_cloudtrail(tmp_path / "a.json.gz", reads)
    write_cloudtrail(tmp_path / "b.json.gz", filler[:1])          # 6h: moves event time on
    write_cloudtrail(tmp_path / "c.json.gz", filler[1:] + [creation])
    # One reader: lateness is counted per reader, against the files that reader read before.
    config = dataclasses.replace(config, job=dataclasses.replace(config.job, parallelism=1))
    ordered = replay(config, patterns, [tmp_path])
    assert ordered.counts["late"] == 1
    assert "late:" in "\n".join(summary_lines(ordered))
    held = replay(config, patterns, [tmp_path], hold_all=True)
    assert held.counts["late"] == 0
    check_scenario(scenario, group_by_key(held.findings).get(scenario.key, []))


def test_every_record_delivered_twice_gives_the_same_findings(tmp_path, config, patterns, result):
    """At-least-once delivery: each CloudTrail record and flow line arrives twice, in another file
    (as a Kafka redelivery or a CloudTrail duplicate would). Each counts once in every step."""
    _write(tmp_path / "first", SCENARIOS, chronological_names=False)
    _write(tmp_path / "again", SCENARIOS, chronological_names=True)
    twice = replay(config, patterns, [tmp_path])
    assert twice.counts["read"] == 2 * result.counts["read"]
    assert sorted(f["metadata"]["uid"] for f in twice.findings) == sorted(f["metadata"]["uid"] for f in result.findings)
    for scenario in SCENARIOS:
        check_scenario(scenario, group_by_key(twice.findings).get(scenario.key, []))
