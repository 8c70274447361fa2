"""Azure Activity Log (control plane) -> normalised events.

Shapes: the Azure Monitor export (`{"records": [...]}` or one record a line: time, resourceId,
operationName, resultType, callerIpAddress, identity.claims, properties), the Log Analytics
AzureActivity table (TimeGenerated, OperationNameValue, ActivityStatusValue, Caller, Claims,
Properties_d, EventDataId) and the REST/Event Hub shape (operationName.value, claims, caller).

service/action: 'Microsoft.Authorization' / 'roleAssignments/write', spelled as in the conf
catalogs whatever case the log used. An ARM write is logged twice or more (Start, Accept, then
Success or Failure); only the final record keeps the plain operation name, in-progress ones get
':start' / ':accept' appended so a privileged burst counts each operation once.

Workload bindings (AN1328 flows -> the managed identity on the VM): a VM write's response names
its managed identities and NICs (VM and NIC -> identity); a NIC write's response names its
private IPs (ip:<subscription>:<ip> -> the VM it is attached to, else the NIC).
"""
from __future__ import annotations

from chainwatch.core.event import KIND_API, KIND_BINDING, ParseError
from chainwatch.parsers import azure_entra, azure_flow, azure_storage
from chainwatch.parsers.azure_common import (CLAIM_NAME, CLAIM_OID, CLAIM_TID, CLAIM_UPN, as_dict, base_event,
                                             canonical, created, first, is_guid, lower_keys, principal_key,
                                             resource_name, session_key, split_operation, stable_id, strip_port,
                                             subscription_of, text, timestamp)
from chainwatch.parsers.evidence import mark as mark_evidence

FORMAT = "azure_activity"
CLOUD = "azure"     # its row in the provider table (core.providers)
SOURCE = "azure_activity"

_CATEGORIES = {"administrative", "security", "servicehealth", "alert", "recommendation", "policy", "autoscale",
               "resourcehealth"}
_IN_PROGRESS = {"start": "start", "started": "start", "accept": "accept", "accepted": "accept"}
_FAILED = {"failure", "failed"}
_PRINCIPAL_TYPES = {"user": "user", "serviceprincipal": "service_principal", "group": "group",
                    "managedidentity": "managed_identity"}


def _operation(low: dict) -> str:
    value = first(low, "operationnamevalue", "operationname")
    return text(value)


def _resource_id(low: dict) -> str:
    return text(first(low, "resourceid", "_resourceid"))


def recognises(record: dict) -> bool:
    low = lower_keys(record)
    if not _operation(low):
        return False
    category = text(first(low, "categoryvalue", "category")).lower()
    if not (category in _CATEGORIES or text(low.get("type")) == "AzureActivity"
            or _resource_id(low).lower().startswith(("/subscriptions/", "/providers/"))):
        return False
    return not any(other.recognises(record) for other in (azure_entra, azure_storage, azure_flow))


def _properties(low: dict) -> dict:
    """`properties` (export) or `Properties_d` (Log Analytics), with request/response bodies decoded."""
    props = as_dict(first(low, "properties_d", "properties"))
    fields = lower_keys(props)
    view = dict(props)
    view["requestBody"] = as_dict(fields.get("requestbody"))
    view["responseBody"] = as_dict(fields.get("responsebody"))
    return view


def _identity(low: dict) -> tuple[str, str, str, str]:
    """(object id, principal type, display name, tenant) of the caller."""
    identity = as_dict(low.get("identity"))
    claims = as_dict(first(low, "claims_d", "claims")) or as_dict(identity.get("claims"))
    authorization = as_dict(first(low, "authorization_d", "authorization")) or as_dict(identity.get("authorization"))
    evidence = as_dict(authorization.get("evidence"))
    caller = text(low.get("caller"))
    object_id = text(claims.get(CLAIM_OID) or claims.get("oid")) or (caller if is_guid(caller) else "") \
        or text(evidence.get("principalId"))
    upn = text(claims.get(CLAIM_UPN) or claims.get("upn") or claims.get(CLAIM_NAME))
    name = upn or text(claims.get("name")) or (caller if caller and not is_guid(caller) else "") \
        or text(claims.get("appid"))
    if claims.get("xms_mirid"):
        kind = "managed_identity"   # the token of a managed identity names its Azure resource
    elif text(claims.get("idtyp")) == "app" or (claims.get("appid") and not upn and object_id):
        kind = "service_principal"
    elif upn or text(claims.get("idtyp")) == "user" or "@" in name:
        kind = "user"
    else:
        kind = _PRINCIPAL_TYPES.get(text(evidence.get("principalType")).lower(), "")
    tenant = text(claims.get(CLAIM_TID) or claims.get("tid"))
    return object_id.lower(), kind if object_id else "", name, tenant.lower()


def _status(low: dict) -> str:
    return text(first(low, "activitystatusvalue", "resulttype", "status", "activitystatus")).lower()


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _bindings(base: dict, operation: str, view: dict, resource_id: str) -> list[dict]:
    response = view["responseBody"]
    found = []
    if operation == "microsoft.compute/virtualmachines/write":
        vm = text(response.get("id") or resource_id).lower()
        identity = as_dict(response.get("identity"))
        principals = [text(v.get("principalId")) for v in as_dict(identity.get("userAssignedIdentities")).values()
                      if isinstance(v, dict)] + [text(identity.get("principalId"))]
        nics = [text(n.get("id")).lower() for n in _list(as_dict(as_dict(response.get("properties"))
                                                                 .get("networkProfile")).get("networkInterfaces"))
                if isinstance(n, dict) and n.get("id")]
        for principal in filter(None, principals):   # several identities: the last bound one wins
            for instance in [vm] + nics:
                found.append({"instance": instance, "principal": principal_key(principal),
                              "principal_type": "managed_identity"})
    elif operation == "microsoft.network/networkinterfaces/write":
        props = as_dict(response.get("properties"))
        nic = text(response.get("id") or resource_id).lower()
        instance = text(as_dict(props.get("virtualMachine")).get("id")).lower() or nic
        for config in _list(props.get("ipConfigurations")):
            address = text(as_dict(as_dict(config).get("properties")).get("privateIPAddress"))
            if address:
                found.append({"alias": f"ip:{base['account']}:{address}", "instance": instance})
    keep = {k: base[k] for k in ("ts", "cloud", "source", "account", "region", "service", "action", "success",
                                 "principal", "principal_type", "principal_name", "principal_arn", "session",
                                 "src_ip")}
    return [dict(keep, id=f"{base['id']}/binding/{n}", kind=KIND_BINDING, binding=b) for n, b in enumerate(found)]


def parse(record: dict, reference) -> list[dict]:
    low = lower_keys(record)
    operation = _operation(low)
    if not operation:
        raise ParseError("operationName", "missing or not a string")
    ts = timestamp(low, "time", "timegenerated", "eventtimestamp")
    resource_id = _resource_id(low)
    view = _properties(low)
    object_id, kind, name, tenant = _identity(low)
    status = _status(low)
    phase = _IN_PROGRESS.get(status)
    service, action = canonical(reference, *split_operation(operation))
    account = subscription_of(resource_id) or text(low.get("subscriptionid")).lower() \
        or tenant or text(low.get("tenantid")).lower()
    region = text(first(low, "location") or view.get("resourceLocation")).lower()
    http = as_dict(low.get("httprequest"))
    correlation = text(first(low, "correlationid"))
    event_id = text(first(low, "eventdataid")) or \
        (f"{correlation}/{stable_id('a', record)[2:14]}" if correlation else stable_id("azure-activity", record))
    event = base_event(
        event_id, ts, SOURCE, KIND_API, account, region, service, f"{action}:{phase}" if phase else action,
        status not in _FAILED, principal_key(object_id), kind, name, session_key(object_id),
        strip_port(first(low, "calleripaddress") or http.get("clientIpAddress")),
        text(http.get("userAgent")))
    if phase or not event["success"]:
        return [event]
    mark_evidence(event, record, reference)
    # The export upper-cases resource ids; the response body keeps the resource's own spelling.
    creation = created(reference, service, action, {"properties": view},
                       text(view["responseBody"].get("name")) or resource_name(resource_id))
    if creation:
        event["created"] = creation
    return [event] + _bindings(event, operation.lower(), view, resource_id)
