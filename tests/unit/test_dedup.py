"""Duplicate delivery (steps.dedup) through the identity's steps: a copy counts once."""
from __future__ import annotations

import dataclasses

from chainwatch.config import load_config
from chainwatch.steps.dedup import is_duplicate
from chainwatch.steps.identity_steps import IdentitySteps

M = 60_000
ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/Deploy"


def test_a_copy_within_the_horizon_is_a_duplicate_and_old_ids_are_forgotten():
    state = {}
    assert not is_duplicate(state, {"id": "a", "ts": 0}, 10 * M)
    assert is_duplicate(state, {"id": "a", "ts": 0}, 10 * M)
    for n in range(200):                       # an hour of other events: "a" is pruned on the way
        assert not is_duplicate(state, {"id": f"e{n}", "ts": n * 20_000}, 10 * M)
    assert "a" not in state["seen"] and len(state["seen"]) <= 2 * 31 + 1


def _call(ts, eid, action, session="ASIAOUTSIDE", service="iam.amazonaws.com"):
    return {"kind": "api", "ts": ts, "id": eid, "cloud": "aws", "service": service, "action": action,
            "success": True, "principal": ROLE, "principal_type": "role", "session": session,
            "account": ACCT, "region": "us-east-1", "src_ip": "91.219.236.15"}


def test_a_burst_of_two_calls_with_one_delivered_twice_is_not_three_calls():
    config = load_config(None)
    config = dataclasses.replace(config, novelty=dataclasses.replace(config.novelty, history_start_ms=0))
    steps, state = IdentitySteps(config), {}
    entry = dict(_call(0, "assume-1", "AssumeRole"), assume={
        "role": ROLE, "session": "ASIAOUTSIDE", "session_arn": "arn:aws:sts::x", "session_name": "s",
        "method": "AssumeRole", "caller": "arn:aws:iam::999900001111:user/p", "caller_account": "999900001111"})
    rows = steps.process(ROLE, state, entry, 0)
    assert [r["step"] for r in rows] == ["cross_account_entry"]
    calls = [_call(1 * M, "c1", "AttachRolePolicy"), _call(2 * M, "c2", "CreateAccessKey"),
             _call(2 * M, "c2", "CreateAccessKey"), dict(entry)]
    assert [steps.process(ROLE, state, c, 0) for c in calls] == [[], [], [], []]
    third = steps.process(ROLE, state, _call(3 * M, "c3", "StopLogging", service="cloudtrail.amazonaws.com"), 0)
    assert "privileged_burst" in [r["step"] for r in third]
    burst = next(r for r in third if r["step"] == "privileged_burst")
    assert burst["event_ids"] == ["c1", "c2", "c3"]
