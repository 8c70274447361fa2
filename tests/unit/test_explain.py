"""chainwatch explain and the findings' message (findings/narrative.py, findings/explain.py) on
findings of the pattern cases, run through the plain-Python engine (the real pipeline's
findings are checked in tests/integration/test_acceptance_aws.py)."""
from __future__ import annotations

import json

import pytest

from chainwatch.case_runner import run_case
from chainwatch.cli import main
from chainwatch.core.wording import duration, size
from chainwatch.patterns.pattern import load_patterns
from tests.conftest import REPO


@pytest.fixture(scope="module")
def findings(config):
    return [f for p in load_patterns(REPO / "patterns") for c in p.cases for f in run_case(config, p, c).findings]


def test_durations_and_sizes_read_as_a_person_writes_them():
    assert [duration(ms) for ms in (0, 999, 40_000, 597_000, 3_900_000, 2 * 86_400_000 + 4 * 3_600_000 + 60_000)] == \
        ["0s", "0s", "40s", "9m 57s", "1h 5m", "2d 4h"]
    assert [size(n) for n in (0, 999, 1_500, 200_000_000, 1_500_000_000_000_000)] == \
        ["0 B", "999 B", "1.5 KB", "200.0 MB", "1500.0 TB"]


def test_the_message_of_an_an1348_finding_names_who_what_and_from_where(findings):
    (finding,) = [f for f in findings if f["actor"].get("session", {}).get("uid") == "ASIACASE1348000000001"]
    assert finding["message"] == (
        "AN1348: Deploy (Role, AWS account 111122223333) was entered by arn:aws:iam::999900001111:user/ext-ops "
        "of 999900001111 via AssumeRole from 91.219.236.15; 2m 30s later it made 3 privileged calls within 1m 30s "
        "in that session (credential_creation, iam_policy_change, logging_change: AttachRolePolicy, CreateAccessKey, "
        "StopLogging); and it was reached from 91.219.236.15 (RAINBOW-NET, AS48693, UA), a network and country new "
        "to it.")


def test_explain_a_file_with_one_finding(findings, tmp_path, capsys):
    path = tmp_path / "finding.json"
    path.write_text(json.dumps(findings[0], indent=2))          # pretty-printed, as a person saves one
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"AN1328  {findings[0]['finding_info']['title']}  [High]")
    assert "and 90 more object access spike events" in out          # the rest of the 100 reads, counted
    assert "3. exfiltration (" in out


def test_explain_reads_hec_envelopes_and_picks_the_uid(findings, tmp_path, capsys):
    path = tmp_path / "hec.jsonl"
    path.write_text("".join(json.dumps({"time": 1, "event": f}) + "\n" for f in findings))
    uid = findings[-1]["finding_info"]["uid"]
    assert main(["explain", uid, "--findings", str(tmp_path)]) == 0
    assert f"uid {uid}" in capsys.readouterr().out


@pytest.mark.parametrize("content, args, message", [
    (None, [], "no such file or folder"),
    ("{not json\n", [], ":1: not a JSON finding"),
    ('{"ecs": {"version": "8.11"}}\n', [], "an ECS document: explain reads OCSF Detection Findings"),
    ("two", [], "holds 3 findings; name one: chainwatch explain UID --findings"),
    ("two", ["--uid", "nope"], "no finding with uid nope among its 3 findings"),
])
def test_explain_says_what_is_wrong_with_its_input(findings, tmp_path, capsys, content, args, message):
    path = tmp_path / "findings.jsonl"
    if content == "two":
        path.write_text("".join(json.dumps(f) + "\n" for f in findings))
    elif content is not None:
        path.write_text(content)
    argv = ["explain", args[1], "--findings", str(path)] if args else ["explain", str(path)]
    assert main(argv) != 0
    assert message in capsys.readouterr().err
