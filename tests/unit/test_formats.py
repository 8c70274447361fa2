"""Findings in OCSF, ECS and the Splunk HEC envelope, from real findings of the shipped patterns.

Each finding is built by chainwatch.findings (build_finding, to_ocsf) from a pattern's positive
case run through the real parsers, enrichment and step logic (tests/finding_samples.py).
"""
from __future__ import annotations

import json
import socket

import pytest

from chainwatch.findings.attack import TACTICS, TECHNIQUES
from chainwatch.findings.ecs import to_ecs
from chainwatch.findings.finding import build_finding
from chainwatch.findings.ocsf import to_ocsf
from chainwatch.findings.render import render
from chainwatch.findings.splunk_hec import HecFields
from tests.finding_samples import case_matches


@pytest.fixture(scope="module")
def cases(config, patterns):
    """{analytic id: (finding model, OCSF JSON string)} for each shipped pattern's positive case."""
    result = {}
    for pattern in patterns:
        (match,) = case_matches(config, pattern)
        model = build_finding(pattern, match)
        result[pattern.id] = model, json.dumps(to_ocsf(model), separators=(",", ":"))
    return result


def ecs_of(cases, analytic):
    return json.loads(render(cases[analytic][1], "ecs"))


def test_ocsf_is_passed_through_unchanged(cases):
    for _model, ocsf in cases.values():
        assert render(ocsf, "ocsf") is ocsf


def test_ecs_alert_event_and_rule(cases):
    model, _ = cases["AN1328"]
    doc = ecs_of(cases, "AN1328")
    assert doc["event"]["kind"] == "alert"
    assert doc["event"]["category"] == ["intrusion_detection", "iam", "network"]
    assert doc["event"]["type"] == ["info"]
    assert doc["event"]["id"] == model["uid"] == doc["chainwatch"]["finding_uid"]
    assert doc["event"]["severity"] == 4 and doc["chainwatch"]["severity"] == "high"
    assert doc["@timestamp"] == "2026-11-05T10:20:00.000Z"  # the last step: the second 800 MB flow
    assert (doc["event"]["start"], doc["event"]["end"]) == ("2026-11-05T10:00:00.000Z", "2026-11-05T10:20:00.000Z")
    assert doc["event"]["duration"] == 20 * 60 * 10**9
    assert doc["rule"]["id"] == "AN1328" and doc["rule"]["name"] == model["analytic"]["name"]
    assert doc["rule"]["description"] == model["analytic"]["description"]
    assert doc["rule"]["ruleset"] == "chainwatch"
    assert doc["rule"]["reference"][0] == "https://attack.mitre.org/techniques/T1136/003/"
    assert doc["ecs"]["version"].startswith("8.")


def test_ecs_threat_is_mitre_attack_with_sub_techniques_under_their_parents(cases):
    threat = ecs_of(cases, "AN1328")["threat"]
    assert threat["framework"] == "MITRE ATT&CK"
    assert threat["technique"]["id"] == ["T1136", "T1530", "T1537", "T1567"]
    assert threat["technique"]["name"][0] == "Create Account"
    assert threat["technique"]["reference"][0] == "https://attack.mitre.org/techniques/T1136/"
    assert threat["technique"]["subtechnique"] == {
        "id": ["T1136.003"], "name": ["Cloud Account"],
        "reference": ["https://attack.mitre.org/techniques/T1136/003/"]}
    assert threat["tactic"] == {"id": ["TA0003", "TA0009", "TA0010"],
                                "name": ["Persistence", "Collection", "Exfiltration"],
                                "reference": ["https://attack.mitre.org/tactics/TA0003/",
                                              "https://attack.mitre.org/tactics/TA0009/",
                                              "https://attack.mitre.org/tactics/TA0010/"]}


def test_every_technique_and_tactic_of_the_shipped_patterns_has_a_name(patterns):
    missing = [(p.id, t) for p in patterns for t in p.techniques + tuple(t.split(".")[0] for t in p.techniques)
               if t not in TECHNIQUES]
    missing += [(p.id, t) for p in patterns for t in p.tactics if t not in TACTICS]
    assert missing == []


def test_ecs_user_cloud_and_destination_of_an_exfiltration(cases):
    doc = ecs_of(cases, "AN1328")
    assert doc["user"] == {"id": "arn:aws:iam::111122223333:role/etl-sync", "name": "etl-sync"}
    assert doc["cloud"] == {"provider": "aws", "account": {"id": "111122223333"}}  # the case has no region
    assert doc["destination"]["ip"] == "45.155.205.17"
    assert doc["destination"]["geo"]["country_iso_code"] and doc["destination"]["as"]["number"] > 0
    assert doc["destination"]["bytes"] >= 100_000_000
    assert "source" not in doc
    assert doc["related"]["ip"] == ["45.155.205.17"]
    assert "arn:aws:iam::111122223333:user/alice" in doc["related"]["user"]  # who created the identity
    identity = doc["chainwatch"]["identity"]
    assert identity["basis"] == "created" and identity["age_ms_at_first_step"] == 0


def test_ecs_cross_account_session_origin_and_outside_account(cases):
    model, _ = cases["AN1348"]
    doc = ecs_of(cases, "AN1348")
    assert doc["event"]["category"] == ["intrusion_detection", "authentication", "iam", "configuration"]
    assert doc["user"]["id"] == "arn:aws:iam::111122223333:role/Deploy"
    assert doc["source"]["ip"] == "91.219.236.15"
    assert doc["source"]["geo"]["country_iso_code"] and doc["source"]["as"]["number"] > 0
    assert doc["source"]["user"] == {"id": "arn:aws:iam::999900001111:user/ext-ops"}
    assert "user" not in doc["chainwatch"]["sources"][0]  # the ECS endpoint is a copy
    assert doc["cloud"]["origin"] == {"account": {"id": "999900001111"}}
    assert doc["chainwatch"]["session"] == model["session"]
    assert doc["chainwatch"]["key"] == {"name": "session", "value": "ASIACASE1348000000001"}
    assert "arn:aws:iam::999900001111:user/ext-ops" in doc["related"]["user"]


def test_ecs_carries_every_step_with_its_evidence_and_event_ids(cases):
    for analytic, (model, ocsf) in cases.items():
        doc = ecs_of(cases, analytic)
        steps = doc["chainwatch"]["steps"]
        assert [s["step"] for s in steps] == [s["step"] for s in model["steps"]]
        for step, source in zip(steps, model["steps"]):
            assert step["event_uids"] == source["event_ids"] and step["event_uids"]
            assert step["event_times"] == source["event_times"] and len(step["event_times"]) == len(step["event_uids"])
            assert step["time"] == source["time"]
            # every evidence value except the ones ECS already holds elsewhere (principal, cloud)
            assert {k: v for k, v in source["evidence"].items() if k in step["details"]} == step["details"]
            assert len(step["details"]) >= len(source["evidence"]) - 7
        assert doc["chainwatch"]["principal"] == model["principal"]
        assert doc["chainwatch"]["analytic"] == {"id": analytic, "window_ms": model["analytic"]["window_ms"]}
        assert json.loads(json.dumps(doc)) == doc


def test_ecs_for_a_gcp_finding_names_the_project():
    member = "serviceAccount:etl@acme-prod.iam.gserviceaccount.com"
    ocsf = to_ocsf({
        "uid": "u1", "analytic": {"id": "AN1328", "name": "n", "description": "d", "techniques": ["T1530"],
                                  "tactics": ["Collection"], "window_ms": 1000},
        "severity": "medium", "key": {"name": "principal", "value": member},
        "principal": {"uid": member, "type": "Service Account", "name": "etl"},
        "cloud": {"provider": "gcp", "account": "acme-prod", "region": "europe-west1"},
        "first_seen": 1000, "last_seen": 2000,
        "steps": [{"name": "s", "step": "object_access_spike", "time": 2000, "first_time": 1000,
                   "event_ids": ["e1"], "evidence": {"reads": 500}}]})
    doc = to_ecs(ocsf)
    assert doc["cloud"] == {"provider": "gcp", "account": {"id": "acme-prod"}, "project": {"id": "acme-prod"},
                            "region": "europe-west1"}
    assert doc["event"]["severity"] == 3
    assert doc["threat"]["technique"] == {"id": ["T1530"], "name": ["Data from Cloud Storage"],
                                          "reference": ["https://attack.mitre.org/techniques/T1530/"]}


def test_hec_envelope_around_ocsf(cases):
    _model, ocsf = cases["AN1348"]
    envelope = json.loads(render(ocsf, "hec", HecFields(host="detector-1", index="security")))
    assert list(envelope) == ["time", "host", "source", "sourcetype", "index", "event"]
    assert envelope["time"] == json.loads(ocsf)["time"] / 1000 == 1793905350.0
    assert (envelope["host"], envelope["source"], envelope["sourcetype"], envelope["index"]) == (
        "detector-1", "chainwatch", "chainwatch:ocsf", "security")
    assert envelope["event"] == json.loads(ocsf)


def test_hec_envelope_around_ecs_with_defaults(cases):
    _model, ocsf = cases["AN1328"]
    envelope = json.loads(render(ocsf, "hec", HecFields(event_format="ecs")))
    assert "index" not in envelope  # HEC then uses the token's default index
    assert envelope["host"] == socket.gethostname() and envelope["sourcetype"] == "chainwatch:ecs"
    assert envelope["event"] == ecs_of(cases, "AN1328")
    assert json.loads(render(ocsf, "hec"))["event"] == json.loads(ocsf)  # default: OCSF inside


def test_unknown_format_is_refused(cases):
    with pytest.raises(ValueError, match="ocsf, ecs, hec"):
        render(cases["AN1328"][1], "cef")
