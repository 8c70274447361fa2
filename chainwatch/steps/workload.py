"""Egress attribution, pure logic: a flow is bound to the identity holding its workload's
credentials in two keyed hops, alias (ENI, private IP) -> instance -> identity.

The keys of both hops and what one hop does with an event, over a plain `bound` value: the Flink
operator (steps.operators.WorkloadResolver) keeps it in keyed state, the plain-Python engine in a
dict. No PyFlink here.
"""
from __future__ import annotations

from chainwatch.model import principal_type_of


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


def resolve(field: str, bound: str | None, flow_event: dict) -> dict:
    """Fill in the flow's instance or identity from what the key has bound (in place)."""
    if field == "instance":
        if not flow_event["flow"]["instance"]:
            flow_event["flow"]["instance"] = bound or ""
    else:
        kind, _, principal = (bound or "\t").partition("\t")
        flow_event["principal"] = principal
        flow_event["principal_type"] = kind or principal_type_of(principal)
    return flow_event
