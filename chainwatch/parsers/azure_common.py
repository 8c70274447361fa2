"""Helpers shared by the Azure parsers: field lookup across export shapes, identity keys, ids.

Azure writes one log family in several shapes: the Azure Monitor diagnostic export (camelCase,
`properties` object), Log Analytics tables (PascalCase columns, JSON columns as strings) and
hand-lowered copies (Panther's samples). Top-level fields are therefore looked up without
regard to case, and JSON carried as strings is decoded where it is read.

Identity: every Entra principal is keyed `azure:<object id, lower-case>`; the same object id is
the claims `oid` in the Activity Log, `userId`/`servicePrincipalId` in sign-ins,
`initiatedBy.*.id` / `targetResources[].id` in audit logs and `RequesterObjectId` in storage logs.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import re

from chainwatch.core.event import event_time
from chainwatch.core.identity_keys import object_id, principal_key

CLAIM_OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
CLAIM_TID = "http://schemas.microsoft.com/identity/claims/tenantid"
CLAIM_UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
CLAIM_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
ENTRA_SERVICE = "Microsoft.aadiam"   # the resource provider Azure names in Entra ID log records
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/]+)", re.IGNORECASE)
_TENANT = re.compile(r"/tenants/([^/]+)", re.IGNORECASE)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def lower_keys(record) -> dict:
    return {str(k).lower(): v for k, v in record.items()} if isinstance(record, dict) else {}


def first(fields: dict, *names):
    """The first of `names` (lower-case keys) whose value is present and not empty."""
    for name in names:
        value = fields.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def text(value) -> str:
    """A scalar as a stripped string; Azure's {value, localizedValue} objects give their value."""
    if isinstance(value, dict):
        value = value.get("value")
    return "" if value is None or isinstance(value, (dict, list)) else str(value).strip()


def decoded(value):
    """JSON carried as a string (Log Analytics columns, requestbody) decoded; other values as they are."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):   # not JSON, nested too deeply, a 5000-digit number
            return value
    return value


def as_dict(value) -> dict:
    value = decoded(value)
    return value if isinstance(value, dict) else {}


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value or ""))




def session_key(oid: str) -> str:
    """The AN1348 session of an Entra principal: see azure_entra's module docstring for why."""
    oid = object_id(oid)
    return f"azure-session:{oid}" if oid else ""


def subscription_of(resource_id: str) -> str:
    match = _SUBSCRIPTION.search(resource_id or "")
    return match.group(1).lower() if match else ""


def tenant_of(resource_id: str) -> str:
    match = _TENANT.search(resource_id or "")
    return match.group(1).lower() if match else ""


def resource_name(resource_id: str) -> str:
    return (resource_id or "").rstrip("/").rsplit("/", 1)[-1]


def timestamp(fields: dict, *names) -> int:
    return event_time((name, fields.get(name)) for name in names)


def strip_port(address) -> str:
    """'10.0.0.4:51234' -> '10.0.0.4', '[2001:db8::1]:443' -> '2001:db8::1'; other text as it is."""
    value = text(address)
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    if value.count(":") > 1:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            host, _, port = value.rpartition(":")  # IPv6 with a port and no brackets
            return host if port.isdigit() else value
    return value


def stable_id(prefix: str, record) -> str:
    """A content hash: the same record always gets the same id (replays, duplicates)."""
    digest = hashlib.sha1(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
    return f"{prefix}-{digest[:24]}"


def split_operation(operation: str) -> tuple[str, str]:
    """'Microsoft.Authorization/roleAssignments/write' -> ('Microsoft.Authorization', 'roleAssignments/write')."""
    service, _, action = operation.strip().partition("/")
    return (service, action) if action else ("", service)


_CANONICAL: dict = {}   # id(reference) -> (reference, {(service, action) lower-case: catalog spelling})


def canonical(reference, service: str, action: str) -> tuple[str, str]:
    """The catalog's spelling of an operation: Azure logs one operation in several cases
    (Activity Log camelCase, Log Analytics upper case), the catalogs match exactly."""
    if reference is None:
        return service, action
    entry = _CANONICAL.get(id(reference))
    if entry is None or entry[0] is not reference:
        names = {}
        for table in (reference.privileged.get("azure", {}), reference.creation.get("azure", {})):
            for svc, act in table:
                names[(svc.lower(), act.lower())] = (svc, act)
        entry = _CANONICAL[id(reference)] = (reference, names)
    return entry[1].get((service.lower(), action.lower()), (service, action))


def created(reference, service: str, action: str, view: dict, name: str) -> dict | None:
    """`created` for an operation listed in conf/azure/creation_events.yaml, None otherwise.

    name_from paths point at the new identity's Entra object id inside `view`."""
    rule = reference.creation_rule("azure", service, action) if reference is not None else None
    if rule is None:
        return None
    for path in rule.name_from:
        value = view
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value.strip():
            return {"identity": principal_key(value), "identity_type": rule.identity_type,
                    "signal": rule.signal, "name": name}
    return None


def base_event(event_id: str, ts: int, source: str, kind: str, account: str, region: str, service: str,
               action: str, success: bool, principal: str, principal_type: str, principal_name: str,
               session: str, src_ip: str, user_agent: str = "") -> dict:
    return {"id": event_id, "ts": ts, "cloud": "azure", "source": source, "kind": kind, "account": account,
            "region": region, "service": service, "action": action, "success": success,
            "principal": principal, "principal_type": principal_type, "principal_name": principal_name,
            "principal_arn": "", "session": session, "src_ip": src_ip, "user_agent": user_agent[:200]}
