"""Google Cloud VPC Flow Logs (LogEntry, jsonPayload with `connection`) -> normalised flow events.

One record describes one direction of a connection (`bytes_sent` goes from connection.src_ip
to connection.dest_ip) as seen by one side, the `reporter`. A flow between two VMs of the
organisation is logged by both (SRC and DEST); a flow to the internet only by its SRC. So
egress is counted from SRC reports only: DEST reports are marked direction 'ingress'.

The reporting VM is named by jsonPayload.src_instance / dest_instance {project_id, zone,
vm_name}; `instance_key` turns that into the instance's resource name, the same string the
audit log uses as resourceName of compute.instances.insert, which binds the instance to the
service account it runs as (see gcp_audit.py).
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import re

from chainwatch.core.event import KIND_FLOW, ParseError, dig, event_time, integer
from chainwatch.core.identity_keys import instance_key

FORMAT = "gcp_vpcflow"
CLOUD = "gcp"     # its row in the provider table (core.providers)
_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
_PROJECT_LOG = re.compile(r"^projects/([^/]+)/logs/")


def entry_field(record: dict, name: str):
    """A LogEntry field as exported (camelCase) or lower-cased by some shippers (Panther)."""
    value = record.get(name)
    return value if value is not None else record.get(name.lower())


def region_of(location: str) -> str:
    """'us-central1-a' (a zone) -> 'us-central1'; regions and multi-regions ('us') as they are."""
    location = location.strip().lower()
    match = _ZONE.match(location)
    return match.group(1) if match else location


def project_from_log_name(record: dict) -> str:
    log_name = entry_field(record, "logName")
    match = _PROJECT_LOG.match(log_name) if isinstance(log_name, str) else None
    return match.group(1) if match else ""


def _payload(record: dict) -> dict | None:
    value = entry_field(record, "jsonPayload")
    return value if isinstance(value, dict) else None


def recognises(record: dict) -> bool:
    # Firewall-rule logs also carry jsonPayload.connection, but no reporter and no byte counts.
    payload = _payload(record)
    return (payload is not None and isinstance(payload.get("connection"), dict)
            and ("reporter" in payload or "bytes_sent" in payload))


def _int(container: dict, name: str, where: str) -> int:
    value = container.get(name)
    if value in (None, ""):
        return 0
    return integer(f"{where}.{name}", value)  # int64 fields arrive as JSON strings ("1234")


def _ip(connection: dict, name: str) -> str:
    value = connection.get(name)
    if value in (None, ""):
        raise ParseError(f"jsonPayload.connection.{name}", "missing")
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise ParseError(f"jsonPayload.connection.{name}", "not an IP address") from None


def _timestamp(record: dict, payload: dict) -> int:
    # Only strings are timestamps here: a non-string field falls through to the next one.
    candidates = (("jsonPayload.start_time", payload.get("start_time")),
                  ("timestamp", entry_field(record, "timestamp")))
    return event_time((field, text if isinstance(text, str) else None) for field, text in candidates)


def parse(record: dict, _reference) -> list[dict]:
    payload = _payload(record)
    connection = payload["connection"]
    src, dst = _ip(connection, "src_ip"), _ip(connection, "dest_ip")
    reporter = str(payload.get("reporter") or "").upper()
    direction = "egress" if reporter.startswith("SRC") else "ingress" if reporter.startswith("DEST") else ""
    side = payload.get("dest_instance" if direction == "ingress" else "src_instance")
    side = side if isinstance(side, dict) else {}
    project = str(side.get("project_id") or dig(record, "resource.labels.project_id") or
                  project_from_log_name(record))
    zone = str(side.get("zone") or "")
    location = side.get("region") or zone or dig(record, "resource.labels.location") or ""
    event_id = entry_field(record, "insertId") or "gcp-vpcflow-" + hashlib.sha1(
        json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return [{
        "id": str(event_id), "ts": _timestamp(record, payload), "cloud": CLOUD, "source": "gcp_vpcflow",
        "kind": KIND_FLOW, "account": project, "region": region_of(str(location)),
        "service": "vpcflow", "action": "flow", "success": True,
        "principal": "", "principal_type": "", "principal_arn": "", "session": "", "src_ip": src,
        # VPC Flow Logs sample allowed traffic only (denials are in firewall-rule logs): ACCEPT.
        "flow": {"src": src, "dst": dst, "dst_port": _int(connection, "dest_port", "jsonPayload.connection"),
                 "protocol": _int(connection, "protocol", "jsonPayload.connection"),
                 "bytes": _int(payload, "bytes_sent", "jsonPayload"),
                 "packets": _int(payload, "packets_sent", "jsonPayload"),
                 "action": "ACCEPT", "status": "OK", "direction": direction,
                 "instance": instance_key(str(side.get("project_id") or ""), zone, str(side.get("vm_name") or "")),
                 "eni": ""},
    }]
