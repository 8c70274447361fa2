"""Which keyed step operator an event goes to, and under which key: its lanes. No PyFlink.

  identity       API calls and object access, keyed by identity (a creation goes to both the
                 new identity and its creator), and egress flows once bound to an identity
  instance-hop   egress flows and the bindings that name their instance, keyed by ENI / IP
  identity-hop   flows with their instance, and the bindings instance -> identity
  unattributed   egress flows the hops bound to no identity (no keyed step uses them)
  coverage       beats of each evidence stream and the calls that turn one off, keyed by
                 account (steps.coverage_watch)

A lane's key is a function of the event (LANE_KEYS), so an operator can tell a batch's events
apart by key without the key travelling with each event.

Events travel between operators as batches, one per lane and key bucket and per input unit (a
group of files in a replay, a line or record in a stream): (lane, bucket, [events], time), where
time is what the batch tells the watermark: its earliest event's time unless the reader says
otherwise. In PyFlink each element that crosses an operator boundary or touches keyed state
costs tens of microseconds whatever its size, so a batch of ten events costs about what one
event did (bench/README.md). Flink keys the operators by bucket (`job.key_buckets` of them,
key_bucket): an enterprise has thousands of principals, so batches per principal would hold
one event or two; a bucket holds the principals whose key hashes to it, and the operators keep
each principal's state apart within it (flink.step_operators).
"""
from __future__ import annotations

import zlib

from chainwatch.steps.coverage_watch import account_key
from chainwatch.steps.first_party import FACTS_KEY
from chainwatch.steps.identity_steps import identity_key, route_to_identities
from chainwatch.steps.workload_binding import workload_alias, workload_instance

IDENTITY, INSTANCE_HOP, IDENTITY_HOP, UNATTRIBUTED = "identity", "instance-hop", "identity-hop", "unattributed"
COVERAGE = "coverage"
LANE_KEYS = {IDENTITY: identity_key, INSTANCE_HOP: workload_alias, IDENTITY_HOP: workload_instance,
             COVERAGE: account_key}


def lanes(event: dict):
    """(lane, key, event) for every lane the event goes to; none for what no step uses. The key is
    LANE_KEYS[lane] of the event, the same function the operators tell a bucket's keys apart by."""
    kind = event["kind"]
    if kind == "flow":
        if event.get("egress"):
            yield INSTANCE_HOP, LANE_KEYS[INSTANCE_HOP](event), event
    elif kind == "binding":
        if "alias" in event["binding"]:
            yield INSTANCE_HOP, LANE_KEYS[INSTANCE_HOP](event), event
        if "principal" in event["binding"]:
            yield IDENTITY_HOP, LANE_KEYS[IDENTITY_HOP](event), event
    elif kind == "beat":
        yield COVERAGE, account_key(event), event
    elif kind == "history":          # a parse operator's earliest event time: for every key
        yield IDENTITY, FACTS_KEY, dict(event, route=FACTS_KEY)
    else:
        for routed in route_to_identities(event):
            yield IDENTITY, LANE_KEYS[IDENTITY](routed), routed
        if "first_party" in event:     # a fact for every key: batches() sends it to every bucket
            yield IDENTITY, FACTS_KEY, dict(event, route=FACTS_KEY)
        if "evidence" in event:        # turns an evidence stream off, or says where one is written
            yield COVERAGE, account_key(event), event


def key_bucket(key: str, buckets: int) -> int:
    """The bucket a key travels and is keyed under: stable across processes and restarts (Python's
    own str hash is salted per process)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % buckets


def batches(routed, buckets: int, time: int | None = None) -> list[tuple]:
    """(lane, key, event) items -> (lane, bucket, [events], time) in first-seen order, events in
    input order; time: the batch's earliest event time unless given."""
    grouped: dict[tuple, list] = {}
    for lane, key, event in routed:
        if key == FACTS_KEY:        # rare (steps.first_party): one copy per bucket, so every key sees it
            for bucket in range(buckets):
                grouped.setdefault((lane, bucket), []).append(event)
            continue
        grouped.setdefault((lane, key_bucket(key, buckets)), []).append(event)
    return [(lane, bucket, events, min(e["ts"] for e in events) if time is None else time)
            for (lane, bucket), events in grouped.items()]


def by_key(lane: str, events: list) -> dict[str, list]:
    """A bucket's events per key of `lane`, in first-seen order, each key's events in input order."""
    key_of = LANE_KEYS[lane]
    keyed: dict[str, list] = {}
    for event in events:
        keyed.setdefault(key_of(event), []).append(event)
    if FACTS_KEY in keyed:      # the org's facts first: the keys' events after them may use them
        keyed = {FACTS_KEY: keyed.pop(FACTS_KEY), **keyed}
    return keyed


def event_order(event: dict) -> tuple:
    """The order a key's events are processed in: event time, then event id. Ties do not follow
    arrival, which differs between a replay (file order) and a live feed (partitions interleaved):
    the same events then give the same steps and the same finding uids either way."""
    return event["ts"], event["id"]
