"""Azure NSG flow logs (v1, v2) and VNet flow logs -> one flow event per flow tuple.

NSG:  records[].properties.flows[].flows[].flowTuples, resourceId = the NSG.
      v1 'ts,src,dst,sport,dport,T|U,I|O,A|D'
      v2 adds ',state B|C|E,packets src->dst,bytes src->dst,packets dst->src,bytes dst->src'
VNet: records[].flowRecords.flows[].flowGroups[].flowTuples, targetResourceID = VNet, subnet or NIC.
      'ts(ms),src,dst,sport,dport,protocol number,I|O,state B|C|E|D,encryption,packets s->d,bytes s->d,
       packets d->s,bytes d->s' (state D = denied)

bytes = bytes sent from src to dst in the tuple's interval (so an outbound tuple's bytes are the
upload). Tuples name no VM: the workload is found through the source's private IP
(ip:<subscription>:<ip>, bound by azure_activity from NIC writes), or directly from a VNet flow
log whose target is a NIC. A malformed tuple dead-letters its whole record, naming the tuple.
"""
from __future__ import annotations

import hashlib
import ipaddress

from chainwatch.core.event import KIND_FLOW, ParseError, epoch_time, integer, type_name
from chainwatch.parsers.azure_common import as_dict, first, lower_keys, subscription_of, text

FORMAT = "azure_flow"
CLOUD = "azure"     # its row in the provider table (core.providers)

_CATEGORIES = {"networksecuritygroupflowevent", "flowlogflowevent"}
_PROTOCOLS = {"T": 6, "U": 17, "I": 1}
_DIRECTIONS = {"I": "ingress", "O": "egress"}
_STATES = {"B": "begin", "C": "continuing", "E": "end", "D": "denied"}


def recognises(record: dict) -> bool:
    low = lower_keys(record)
    if text(first(low, "category", "operationname")).lower() in _CATEGORIES or "flowrecords" in low:
        return True
    flows = as_dict(low.get("properties")).get("flows")
    return isinstance(flows, list) and bool(flows) and isinstance(flows[0], dict) and "flows" in flows[0]


def _ip(value: str, field: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ParseError(field, "not an IP address") from None


def _int(value: str, field: str) -> int:
    return 0 if value in ("", None) else integer(field, value)


def _tuple(values: list[str], vnet: bool, field: str) -> dict:
    if len(values) not in ((13,) if vnet else (8, 13)):
        raise ParseError(field, f"{len(values)} fields, expected {'13' if vnet else '8 (v1) or 13 (v2)'}")
    ts = _int(values[0], field)
    protocol = values[5]
    if vnet:
        state, action = values[7], "REJECT" if values[7] == "D" else "ACCEPT"
        counts = values[9:13]
    else:
        state = values[8] if len(values) == 13 else ""
        action = {"A": "ACCEPT", "D": "REJECT"}.get(values[7])
        if action is None:
            raise ParseError(field, "the decision (8th value) is neither A nor D")
        counts = values[9:13] if len(values) == 13 else ["", "", "", ""]
    if values[6] not in _DIRECTIONS:
        raise ParseError(field, "the direction (7th value) is neither I nor O")
    return {"ts": epoch_time(field, ts),
            "flow": {"src": _ip(values[1], field), "dst": _ip(values[2], field), "dst_port": _int(values[4], field),
                     "protocol": _PROTOCOLS.get(protocol) or _int(protocol, field),
                     "bytes": _int(counts[1], field), "packets": _int(counts[0], field), "action": action,
                     "status": _STATES.get(state, "OK"), "direction": _DIRECTIONS[values[6]]}}


def _list(value, field: str) -> list:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ParseError(field, f"expected a list, got {type(value).__name__}")
    return value


def _groups(low: dict) -> tuple[bool, list]:
    """(is VNet flow log, [(rule, [tuple strings])])."""
    if "flowrecords" in low:
        flows = _list(as_dict(low["flowrecords"]).get("flows"), "flowRecords.flows")
        return True, [(text(g.get("rule")), g.get("flowTuples")) for f in flows if isinstance(f, dict)
                      for g in _list(f.get("flowGroups"), "flowRecords.flows[].flowGroups") if isinstance(g, dict)]
    flows = _list(as_dict(low.get("properties")).get("flows"), "properties.flows")
    return False, [(text(f.get("rule")), t.get("flowTuples")) for f in flows if isinstance(f, dict)
                   for t in _list(f.get("flows"), "properties.flows[].flows") if isinstance(t, dict)]


def parse(record: dict, _reference) -> list[dict]:
    low = lower_keys(record)
    vnet, groups = _groups(low)
    target = text(first(low, "targetresourceid", "resourceid"))
    account = subscription_of(target) or subscription_of(text(low.get("flowlogresourceid")))
    instance = target.lower() if "/networkinterfaces/" in target.lower() else ""
    mac = text(low.get("macaddress"))
    source = "azure_vnetflow" if vnet else "azure_nsgflow"
    events = []
    for g, (rule, tuples) in enumerate(groups):
        for n, line in enumerate(_list(tuples, f"flowTuples[{g}]")):
            field = f"flowTuples[{g}][{n}]"
            if not isinstance(line, str):
                raise ParseError(field, f"expected a string, got {type_name(line)}")
            parsed = _tuple(line.split(","), vnet, field)
            flow = dict(parsed["flow"], instance=instance, eni="")
            digest = hashlib.sha1(f"{target}|{mac}|{rule}|{line}".encode()).hexdigest()[:24]
            events.append({
                "id": f"{source}-{digest}", "ts": parsed["ts"], "cloud": CLOUD, "source": source,
                "kind": KIND_FLOW, "account": account, "region": "", "service": source, "action": "flow",
                "success": True, "principal": "", "principal_type": "", "principal_arn": "", "session": "",
                "src_ip": flow["src"], "flow": flow})
    return events
