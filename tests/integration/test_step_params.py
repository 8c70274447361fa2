"""Issue 11: two patterns using one step kind with different parameters, in one job, each fire on
exactly their own threshold. AN1348 as shipped (privileged_burst: 3 calls in 5m, the job's)
and AN1348S, the same chain with `params: {min_calls: 5, span: 2m}` (its own step variant),
through the real PyFlink job; the plain-Python engine gives the same findings."""
from __future__ import annotations

import dataclasses

import yaml

from chainwatch.engine import run as run_engine
from chainwatch.flink.replay_job import replay
from chainwatch.patterns.pattern import load_patterns
from tests.builders import assume_role, at, call, role_session, session_key, user, write_cloudtrail
from tests.conftest import REPO
from tests.findings_by_key import key_of

ORG, OUTSIDE, ATTACKER_IP, DAY = "111122223333", "999900001111", "91.219.236.15", 10
CALLS = (("iam.amazonaws.com", "AttachRolePolicy"), ("iam.amazonaws.com", "CreateAccessKey"),
         ("s3.amazonaws.com", "PutBucketPolicy"), ("cloudtrail.amazonaws.com", "StopLogging"),
         ("iam.amazonaws.com", "PutRolePolicy"))
# session name -> (privileged calls, seconds between them, hour of day 10)
SESSIONS = {"four-fast": (4, 20, 6), "five-fast": (5, 20, 7), "five-slow": (5, 50, 8)}
EXPECTED = {("AN1348", "four-fast"), ("AN1348", "five-fast"), ("AN1348", "five-slow"), ("AN1348S", "five-fast")}


def _records() -> list[dict]:
    records = []
    for name, (n, every, hour) in SESSIONS.items():
        role, key = f"arn:aws:iam::{ORG}:role/{name}-Deploy", session_key(name)
        records.append(assume_role(at(DAY, hours=hour), user(OUTSIDE, f"{name}-ops"), role, name, key, ATTACKER_IP,
                                   seed=f"{name}-assume"))
        session = role_session(ORG, f"{name}-Deploy", name, key)
        records += [call(at(DAY, hours=hour, minutes=1, seconds=every * i), session, *CALLS[i % len(CALLS)],
                         ATTACKER_IP, seed=f"{name}-call-{i}", account=ORG) for i in range(n)]
    return records


def _patterns(folder):
    folder.mkdir()
    (folder / "AN1348.yaml").write_text((REPO / "patterns" / "AN1348.yaml").read_text())
    strict = yaml.safe_load((REPO / "patterns" / "AN1348.yaml").read_text())
    strict["id"], strict["name"] = "AN1348S", "AN1348, stricter burst: 5 privileged calls within 2 minutes"
    strict["steps"][1]["params"] = {"min_calls": 5, "span": "2m"}
    strict.pop("cases")
    (folder / "AN1348S.yaml").write_text(yaml.safe_dump(strict))
    return load_patterns(folder)


def _found(findings) -> set:
    sessions = {session_key(name): name for name in SESSIONS}
    return {(f["finding_info"]["analytic"]["uid"], sessions[key_of(f)]) for f in findings}


def test_two_patterns_with_their_own_burst_thresholds_in_one_job(tmp_path, config):
    # history from day 0, so the learning periods are over on day 10 (without it each subtask
    # would start its history at the first event it sees)
    history = dataclasses.replace(config.novelty, history_start_ms=int(at(0).timestamp() * 1000))
    config = dataclasses.replace(config, novelty=history)
    patterns = _patterns(tmp_path / "patterns")
    assert [p.variant for p in patterns] == ["", "AN1348S"]
    write_cloudtrail(tmp_path / "in" / "cloudtrail.json.gz", _records())
    result = replay(config, patterns, [tmp_path / "in"])
    assert _found(result.findings) == EXPECTED and len(result.findings) == len(EXPECTED)
    (strict,) = [f for f in result.findings if f["finding_info"]["analytic"]["uid"] == "AN1348S"]
    burst = next(e for e in strict["evidences"] if e["step"] == "privileged_burst")["details"]
    assert (burst["call_count"], burst["min_calls"], burst["span_ms"], burst["variant"]) == (5, 5, 120_000, "AN1348S")
    shipped = [f for f in result.findings if f["finding_info"]["analytic"]["uid"] == "AN1348"]
    assert {next(e for e in f["evidences"] if e["step"] == "privileged_burst")["details"]["call_count"]
            for f in shipped} == {3}
    engine = run_engine(config, patterns, [tmp_path / "in"])
    assert sorted(f["metadata"]["uid"] for f in engine.findings) == \
        sorted(f["metadata"]["uid"] for f in result.findings)
