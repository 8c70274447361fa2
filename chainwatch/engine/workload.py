"""The two workload-binding hops of flink.graph.build_pipeline: an egress flow is bound to the
identity holding its workload's credentials (alias -> instance -> identity).

The same keys and hop logic as flink.step_operators.WorkloadResolver (steps.workload_binding), with a dict
for the keyed state.
"""
from __future__ import annotations

import copy

from chainwatch.steps.lanes import IDENTITY_HOP, INSTANCE_HOP, event_order, lanes
from chainwatch.steps.workload_binding import add_attribution, binding_value, resolve, workload_alias, workload_instance


class Resolver:
    """One hop: `field` is 'instance' (keyed by alias) or 'principal' (keyed by instance)."""

    def __init__(self, field: str, inventory=None):
        self.field, self.bound, self.inventory = field, {}, inventory

    def on_event(self, key: str, event: dict):
        if event["kind"] == "binding":
            value = binding_value(self.field, event)
            if value:
                self.bound[key] = value
            return None
        return resolve(self.field, self.bound.get(key), event, key, self.inventory)


def _hop(field: str, key_of, tagged, inventory):
    """tagged: (ts, order, event). Each key's events in steps.lanes.event_order, as
    the keyed operator releases them at the end-of-input watermark."""
    resolver = Resolver(field, inventory)
    out = []
    for ts, order, event in sorted(tagged, key=lambda t: (*event_order(t[2]), t[1])):
        resolved = resolver.on_event(key_of(event), event)
        if resolved is not None:
            out.append((ts, order, resolved))
    return out


def attribute_egress(events: list[dict], inventory=None, totals: dict | None = None) -> tuple[list[tuple], list[dict]]:
    """Egress flows bound to an identity, as (ts, input order, event), and those bound to none;
    their bytes per account and attribution added to `totals`. Which events go to which hop is
    the job's own routing (steps.lanes)."""
    def lane(name):
        # A flow is resolved in place: its own copy, as after Flink's serialisation.
        return [(e["ts"], n, copy.deepcopy(e) if e["kind"] == "flow" else e)
                for n, event in enumerate(events) for routed, _key, e in lanes(event) if routed == name]

    with_instance = _hop("instance", workload_alias, lane(INSTANCE_HOP), inventory)
    attributed = _hop("principal", workload_instance, with_instance + lane(IDENTITY_HOP), inventory)
    if totals is not None:
        for _ts, _n, flow in attributed:
            add_attribution(totals, flow)
    return ([t for t in attributed if t[2]["principal"]], [t[2] for t in attributed if not t[2]["principal"]])
