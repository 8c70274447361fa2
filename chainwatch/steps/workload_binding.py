"""Egress attribution, pure logic: a flow is bound to the identity holding its workload's
credentials in two keyed hops, alias (ENI, private IP) -> instance -> identity.

The keys of both hops and what one hop does with an event, over a plain `bound` value: the Flink
operator (flink.step_operators.WorkloadResolver) keeps it in keyed state, the plain-Python engine in a
dict. No PyFlink here.
"""
from __future__ import annotations

from chainwatch.core.event import principal_type_of


def workload_alias(event: dict) -> str:
    """Stage-one key of an egress flow or alias binding: the instance if known, else ENI or private IP."""
    if event["kind"] == "binding":
        return event["binding"]["alias"]
    flow = event["flow"]
    if flow["instance"]:
        return f"instance:{flow['instance']}"
    if flow["eni"]:
        return f"eni:{flow['eni']}"
    return f"ip:{event['account']}:{flow['src']}"


def workload_instance(event: dict) -> str:
    return event["binding"]["instance"] if event["kind"] == "binding" else event["flow"]["instance"]


def binding_value(field: str, event: dict) -> str | None:
    """What a binding event teaches the hop for `field` ('instance' or 'principal'), or None."""
    value = event["binding"].get(field)
    if not value:
        return None
    # The principal's type travels with it: keys of some clouds do not imply it.
    return f"{event['binding'].get('principal_type', '')}\t{value}" if field == "principal" else value


def resolve(field: str, bound: str | None, flow_event: dict, key: str = "", inventory=None) -> dict:
    """Fill in the flow's instance or identity from what the key has bound (in place); where the
    telemetry bound nothing, from the asset inventory (enrich.asset_inventory), which also knows the
    interfaces no instance holds (NAT gateways, load balancers): their flows say so in
    `attribution`. A flow bound to no identity carries why (attribution_of)."""
    if field == "instance":
        if not flow_event["flow"]["instance"]:
            if bound is None and inventory is not None:
                bound = inventory.binding("instance", key)
                special = inventory.unattributable(key)
                if special:
                    flow_event["attribution"] = special
            flow_event["flow"]["instance"] = bound or ""
    else:
        if bound is None and inventory is not None and flow_event["flow"]["instance"]:
            bound = inventory.binding("principal", flow_event["flow"]["instance"])
        kind, _, principal = (bound or "\t").partition("\t")
        flow_event["principal"] = principal
        flow_event["principal_type"] = kind or principal_type_of(principal)
    return flow_event


ATTRIBUTIONS = ("identity", "no_binding", "nat_gateway", "load_balancer")


def attribution_of(flow_event: dict) -> str:
    """Whose the flow's bytes are, after both hops: an identity's, or why no identity's."""
    if flow_event["principal"]:
        return "identity"
    return flow_event.get("attribution") or "no_binding"


def add_attribution(totals: dict, flow_event: dict) -> None:
    """{cloud:account: {attribution: bytes}} (the replay summary, the egress_bytes metric)."""
    per_account = totals.setdefault(f"{flow_event['cloud']}:{flow_event['account']}", {})
    attribution = attribution_of(flow_event)
    per_account[attribution] = per_account.get(attribution, 0) + flow_event["flow"]["bytes"]
