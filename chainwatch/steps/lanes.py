"""Which keyed step operator an event goes to, and under which key: its lanes. No PyFlink.

  identity       API calls and object access, keyed by identity (a creation goes to both the
                 new identity and its creator), and egress flows once bound to an identity
  instance-hop   egress flows and the bindings that name their instance, keyed by ENI / IP
  identity-hop   flows with their instance, and the bindings instance -> identity

Events travel between operators as batches, one per lane and key and per input unit (a file in
a replay, a line or record in a stream): (lane, key, [events], time), where time is what the
batch tells the watermark: its earliest event's time unless the reader says otherwise. In PyFlink each element that
crosses an operator boundary or touches keyed state costs tens of microseconds whatever its
size, so a batch of ten events costs about what one event did (bench/README.md).
"""
from __future__ import annotations

from chainwatch.steps.identity import identity_key, route_to_identities
from chainwatch.steps.workload import workload_alias, workload_instance

IDENTITY, INSTANCE_HOP, IDENTITY_HOP = "identity", "instance-hop", "identity-hop"


def lanes(event: dict):
    """(lane, key, event) for every lane the event goes to; none for what no step uses."""
    kind = event["kind"]
    if kind == "flow":
        if event.get("egress"):
            yield INSTANCE_HOP, workload_alias(event), event
    elif kind == "binding":
        if "alias" in event["binding"]:
            yield INSTANCE_HOP, workload_alias(event), event
        if "principal" in event["binding"]:
            yield IDENTITY_HOP, workload_instance(event), event
    else:
        for routed in route_to_identities(event):
            yield IDENTITY, identity_key(routed), routed


def batches(routed, time: int | None = None) -> list[tuple]:
    """(lane, key, event) items -> (lane, key, [events], time) in first-seen order, events in
    input order; time: the batch's earliest event time unless given."""
    grouped: dict[tuple, list] = {}
    for lane, key, event in routed:
        grouped.setdefault((lane, key), []).append(event)
    return [(lane, key, events, min(e["ts"] for e in events) if time is None else time)
            for (lane, key), events in grouped.items()]


def batch_time(batch: tuple) -> int:
    """A batch's event time for watermarks."""
    return batch[3]


def event_order(event: dict) -> tuple:
    """The order a key's events are processed in: event time, then event id. Ties do not follow
    arrival, which differs between a replay (file order) and a live feed (partitions interleaved):
    the same events then give the same steps and the same finding uids either way."""
    return event["ts"], event["id"]
