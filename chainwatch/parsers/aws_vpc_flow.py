"""AWS VPC Flow Logs -> normalised flow events.

Fields are found by name, not position: the header line AWS writes names them, so the
default v2 format and custom formats (instance-id, flow-direction, pkt-srcaddr, ...)
all parse. JSON shapes (camelCase or snake_case keys) map the same way.
"""
from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import operator
import re
from typing import Callable, NamedTuple

from chainwatch.core.event import KIND_FLOW, ParseError, epoch_time, integer

FORMAT = "vpcflow"
CLOUD = "aws"     # its row in the provider table (core.providers)


@functools.lru_cache(maxsize=1024)
def _norm(name: str) -> str:
    """A field name without case, dashes or underscores (cached: a header's few names repeat on
    every line)."""
    return name.replace("-", "").replace("_", "").lower()


_REQUIRED = ("srcaddr", "dstaddr", "start")
_JSON_MARKERS = {"srcaddr", "dstaddr"}
_STATUSES = {"OK", "NODATA", "SKIPDATA"}


def recognises(record: dict) -> bool:
    return _JSON_MARKERS.issubset({_norm(k) for k in record})


def _value(fields: dict, name: str):
    value = fields.get(name)
    return None if value in (None, "-", "") else value


def _int(fields: dict, name: str) -> int:
    value = _value(fields, name)
    return 0 if value is None else integer(name, value)


# Dotted-quad IPv4 as ipaddress writes it (no leading zeros): the common case, already canonical.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
# One encoder for every flow id: json.dumps with separators builds a new one per call.
_ID_JSON = json.JSONEncoder(separators=(",", ":"))


def _ip(fields: dict, name: str) -> str:
    value = _value(fields, name)
    if value is None:
        return ""
    if type(value) is str and _CANONICAL_IPV4.fullmatch(value):
        return value
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise ParseError(name, "not an IP address") from None


def _flow_id(fields: dict) -> str:
    """The same flow record gets the same id however it was delivered (a line of an S3 flow-log
    file, a JSON object from Firehose or Kafka, fields in any order, numbers as text or not), so
    duplicates across deliveries count once and a replay and a live run name the same evidence."""
    # JSON (ASCII) of the (name, value) pairs: unambiguous whatever a value holds, lone surrogates too.
    identity = _ID_JSON.encode([(name, str(value)) for name, value in sorted(fields.items())
                                if value not in (None, "", "-")])
    return "vpcflow-" + hashlib.sha1(identity.encode()).hexdigest()[:24]


def _event(fields: dict) -> list[dict]:
    status = str(_value(fields, "logstatus") or "OK")
    start = _int(fields, "start")
    if not start:
        # The log-status is named only when it is one AWS writes: a reason never quotes a value.
        raise ParseError("start", "missing" + (f" (log-status {status})" if status in _STATUSES else ""))
    # Workload side of the flow: behind a NAT the packet-level address is the real one.
    src = _ip(fields, "pktsrcaddr") or _ip(fields, "srcaddr")
    dst = _ip(fields, "pktdstaddr") or _ip(fields, "dstaddr")
    # Arguments in the order the checks must run: a start out of bounds is named before a bad count.
    return _flow_event(_flow_id(fields), epoch_time("start", start), str(_value(fields, "accountid") or ""),
                       str(_value(fields, "region") or ""), src, dst, _int(fields, "dstport"),
                       _int(fields, "protocol"), _int(fields, "bytes"), _int(fields, "packets"),
                       str(_value(fields, "action") or ""), status, str(_value(fields, "flowdirection") or ""),
                       str(_value(fields, "instanceid") or ""), str(_value(fields, "interfaceid") or ""))


def _flow_event(event_id, ts, account, region, src, dst, dst_port, protocol, size, packets, action, status,
                direction, instance, eni) -> list[dict]:
    """The normalised flow event, whichever path read its fields."""
    return [{
        "id": event_id, "ts": ts, "cloud": CLOUD, "source": "vpcflow", "kind": KIND_FLOW, "account": account,
        "region": region, "service": "vpcflow", "action": "flow", "success": True,
        "principal": "", "principal_type": "", "principal_arn": "", "session": "", "src_ip": src,
        "flow": {"src": src, "dst": dst, "dst_port": dst_port, "protocol": protocol, "bytes": size, "packets": packets,
                 "action": action, "status": status, "direction": direction, "instance": instance, "eni": eni},
    }]


class _Plan(NamedTuple):
    """Where a header puts the fields a flow event reads, for the fast path of parse_line. An
    index of -1 is a field the header does not name (the line gets an empty value appended)."""
    width: int
    identity: Callable      # the values _flow_id hashes, in its order (by field name)
    template: str           # ... and its JSON with %s for each value, when none is "-"
    names: tuple            # ... their names, for the JSON when some value is "-"
    numbers: Callable       # start, dstport, protocol, bytes, packets
    addresses: Callable     # srcaddr, pktsrcaddr, dstaddr, pktdstaddr
    texts: Callable         # accountid, region, action, logstatus, flowdirection, instanceid, interfaceid


@functools.lru_cache(maxsize=256)
def _plan(header: tuple) -> _Plan | None:
    """None where the fast path could not give exactly what the careful one gives."""
    at = {}
    for index, name in enumerate(header):
        at[_norm(name)] = index            # the last of a name twice, as the careful path's dict keeps
    if any(name not in at for name in _REQUIRED) or not all(_SAFE_TEXT.fullmatch(name) for name in at):
        return None
    ordered = sorted(at.items())

    def picker(*names):
        return operator.itemgetter(*(at.get(name, -1) for name in names))
    template = "[" + ",".join(f'["{name.replace("%", "%%")}","%s"]' for name, _ in ordered) + "]"
    return _Plan(len(header), operator.itemgetter(*(index for _, index in ordered)), template,
                 tuple(name for name, _ in ordered), picker("start", "dstport", "protocol", "bytes", "packets"),
                 picker("srcaddr", "pktsrcaddr", "dstaddr", "pktdstaddr"),
                 picker("accountid", "region", "action", "logstatus", "flowdirection", "instanceid", "interfaceid"))


# Text JSON writes as it is: printable ASCII but quote and backslash (json escapes the rest).
_SAFE_TEXT = re.compile(r'[ !#-\[\]-~]*')


def _fast_event(plan: _Plan, values: list) -> list[dict] | None:
    """_event's result for a line of printable ASCII without quotes or backslashes, or None where
    a field needs the careful path (a number or address in another spelling, a missing start)."""
    row = values + [""]
    numbers = []
    for value in plan.numbers(row):
        if value in ("-", ""):
            numbers.append(0)
        elif value.isdigit() and len(value) <= 18:      # ASCII digits, well within a Java long
            numbers.append(int(value))
        else:
            return None
    start, dst_port, protocol, size, packets = numbers
    if not start:
        return None
    addresses = []
    for value in plan.addresses(row):
        if value in ("-", ""):
            addresses.append("")
        elif _CANONICAL_IPV4.fullmatch(value):
            addresses.append(value)
        else:
            return None
    src, pkt_src, dst, pkt_dst = addresses
    src, dst = pkt_src or src, pkt_dst or dst
    account, region, action, status, direction, instance, eni = (
        "" if value == "-" else value for value in plan.texts(row))
    hashed = plan.identity(values)
    if "-" in hashed:
        identity = "[" + ",".join(f'["{name}","{value}"]' for name, value in zip(plan.names, hashed)
                                  if value != "-") + "]"
    else:
        identity = plan.template % hashed
    return _flow_event("vpcflow-" + hashlib.sha1(identity.encode()).hexdigest()[:24], epoch_time("start", start),
                       account, region, src, dst, dst_port, protocol, size, packets, action, status or "OK",
                       direction, instance, eni)


def parse_line(header, line: str) -> list[dict]:
    values = line.split()
    plan = _plan(tuple(header))
    if (plan is not None and len(values) == plan.width and line.isascii() and line.isprintable()
            and '"' not in line and "\\" not in line):
        fast = _fast_event(plan, values)
        if fast is not None:
            return fast
    return _careful_line(header, values)


def parse_line_carefully(header, line: str) -> list[dict]:
    """The careful path: every field through the checks that name what is wrong."""
    return _careful_line(header, line.split())


def _careful_line(header, values: list) -> list[dict]:
    if len(values) != len(header):
        raise ParseError("", f"{len(values)} fields where the header names {len(header)}")
    fields = {_norm(name): value for name, value in zip(header, values)}
    for name in _REQUIRED:
        if name not in fields:
            raise ParseError(name, "not in the flow-log header")
    return _event(fields)


def parse_json(record: dict) -> list[dict]:
    fields = {_norm(k): v for k, v in record.items() if not isinstance(v, (dict, list))}
    return _event(fields)


def parse(record: dict, _reference) -> list[dict]:
    return parse_json(record)
