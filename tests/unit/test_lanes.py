"""Which keyed step operator gets an event, under which key, and how events travel in batches."""
from __future__ import annotations

import os
import subprocess
import sys

from chainwatch.steps.lanes import (IDENTITY, IDENTITY_HOP, INSTANCE_HOP, batches, by_key, key_bucket, lanes)

ROLE = "arn:aws:iam::111122223333:role/app"
NEW_USER = "arn:aws:iam::111122223333:user/new"


def _api(ts, principal=ROLE, **extra):
    return {"kind": "api", "ts": ts, "principal": principal, **extra}


def _flow(ts, egress, eni="eni-1", instance=""):
    return {"kind": "flow", "ts": ts, "egress": egress, "account": "111122223333",
            "flow": {"instance": instance, "eni": eni, "src": "10.0.0.5"}}


def test_api_and_object_access_go_to_their_identity():
    assert [(lane, key) for lane, key, _ in lanes(_api(1))] == [(IDENTITY, ROLE)]
    access = {"kind": "object_access", "ts": 2, "principal": ROLE}
    assert [(lane, key) for lane, key, _ in lanes(access)] == [(IDENTITY, ROLE)]


def test_a_creation_goes_to_the_new_identity_and_its_creator():
    created = _api(3, created={"identity": NEW_USER, "identity_type": "user"})
    assert [(lane, key, e.get("route")) for lane, key, e in lanes(created)] == [
        (IDENTITY, NEW_USER, NEW_USER), (IDENTITY, ROLE, ROLE)]


def test_only_egress_flows_travel_keyed_by_instance_or_eni():
    assert list(lanes(_flow(4, egress=False))) == []
    assert [(lane, key) for lane, key, _ in lanes(_flow(5, egress=True))] == [(INSTANCE_HOP, "eni:eni-1")]
    assert [(lane, key) for lane, key, _ in lanes(_flow(6, True, instance="i-9"))] == [(INSTANCE_HOP, "instance:i-9")]


def test_a_binding_goes_to_each_hop_it_teaches():
    both = {"kind": "binding", "ts": 7, "binding": {"alias": "eni:eni-1", "instance": "i-9", "principal": ROLE}}
    assert [(lane, key) for lane, key, _ in lanes(both)] == [(INSTANCE_HOP, "eni:eni-1"), (IDENTITY_HOP, "i-9")]


def test_batches_group_by_lane_and_key_bucket_keeping_input_order():
    events = [_api(30), _api(10, principal=NEW_USER), _api(20), _flow(5, True)]
    grouped = batches((item for event in events for item in lanes(event)), 1000)
    role, new_user = key_bucket(ROLE, 1000), key_bucket(NEW_USER, 1000)
    assert role != new_user
    assert [(lane, bucket, [e["ts"] for e in batch]) for lane, bucket, batch, _time in grouped] == [
        (IDENTITY, role, [30, 20]), (IDENTITY, new_user, [10]), (INSTANCE_HOP, key_bucket("eni:eni-1", 1000), [5])]
    assert [time for _lane, _bucket, _events, time in grouped] == [20, 10, 5]
    # A reader may stamp every batch of a file with one time (the file's earliest event).
    assert [b[3] for b in batches((item for e in events for item in lanes(e)), 1000, time=5)] == [5, 5, 5]


def test_one_bucket_carries_many_keys_which_the_operator_tells_apart():
    events = [_api(30), _api(10, principal=NEW_USER), _api(20), _flow(5, True)]
    (identity, _, batch, when), (hop, _, flows, _) = batches((item for e in events for item in lanes(e)), 1)
    assert (identity, hop, when) == (IDENTITY, INSTANCE_HOP, 10)
    assert {key: [e["ts"] for e in keyed] for key, keyed in by_key(IDENTITY, batch).items()} == {
        ROLE: [30, 20], NEW_USER: [10]}
    assert list(by_key(INSTANCE_HOP, flows)) == ["eni:eni-1"]


def test_a_key_has_the_same_bucket_in_every_process():
    # Not Python's str hash, salted per process: a restored job must find a key's state again.
    code = f"from chainwatch.steps.lanes import key_bucket; print(key_bucket({ROLE!r}, 64))"
    seen = {subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED=str(seed)),
                           capture_output=True, text=True, check=True).stdout.strip() for seed in (1, 2)}
    assert seen == {str(key_bucket(ROLE, 64))}
