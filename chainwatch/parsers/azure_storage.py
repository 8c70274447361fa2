"""Azure Storage resource logs (blob data plane) -> object-access and api events.

Shapes: the Azure Monitor export (category StorageRead/StorageWrite/StorageDelete, identity
{type, requester{objectId, tenantId, upn}}, properties{accountName, objectKey, responseBodySize})
and the Log Analytics StorageBlobLogs table (AuthenticationType, RequesterObjectId, RequesterUpn,
CallerIpAddress 'ip:port', ObjectKey '/account/container/blob', ResponseBodySize).

Blob reads and listings become `object_access` with bucket = 'account/container' (container
names are unique only inside their account) and bytes_out = the response body size of a
successful read. OAuth callers are keyed by their Entra object id like everywhere else; a
request made with an account key or SAS has no identity, so it is keyed by the storage account
and the credential kind (`azure-storage-sas:<account>`), which the novelty step never treats as
a new identity.
"""
from __future__ import annotations

from urllib.parse import urlparse

from chainwatch.core.event import KIND_API, KIND_OBJECT, MAX_LONG
from chainwatch.parsers.azure_common import (as_dict, base_event, canonical, first, lower_keys, principal_key,
                                             session_key, stable_id, strip_port, subscription_of, text, timestamp)

FORMAT = "azure_storage"
CLOUD = "azure"     # its row in the provider table (core.providers)
SOURCE = "azure_storage"
SERVICE = "Microsoft.Storage"

_CATEGORIES = {"storageread", "storagewrite", "storagedelete"}
READS = {name.lower(): name for name in ("GetBlob", "GetBlobProperties", "GetBlobMetadata", "GetBlockList",
                                         "ListBlobs", "QueryBlobContents")}


def recognises(record: dict) -> bool:
    low = lower_keys(record)
    table = text(low.get("type")).lower()   # Log Analytics: StorageBlobLogs, StorageFileLogs, ...
    if text(low.get("category")).lower() in _CATEGORIES or (table.startswith("storage") and table.endswith("logs")):
        return True
    props = lower_keys(as_dict(low.get("properties")))
    if "accountname" in props and ("objectkey" in props or "metricresponsetype" in props or "servicetype" in props):
        return True
    return "accountname" in low and ("objectkey" in low or "authenticationtype" in low)


def _int(value) -> int:
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0
    return number if -MAX_LONG <= number <= MAX_LONG else 0


def _object(fields: dict, account: str) -> tuple[str, str]:
    """(bucket 'account/container', key) from ObjectKey '/account/container/path' or the request URI."""
    key = text(fields.get("objectkey")).strip('"')
    parts = key.lstrip("/").split("/", 2) if key else []
    if len(parts) >= 2:
        return f"{parts[0]}/{parts[1]}", parts[2] if len(parts) > 2 else ""
    path = urlparse(text(first(fields, "uri", "requesturl"))).path.lstrip("/").split("/", 1)
    if path and path[0]:
        return f"{account}/{path[0]}", path[1] if len(path) > 1 else ""
    return account, ""


def _caller(low: dict, fields: dict, account: str) -> tuple[str, str, str, str]:
    """(principal key, type, name, session) of the requester."""
    identity = as_dict(low.get("identity"))
    requester = lower_keys(as_dict(identity.get("requester")))
    object_id = text(requester.get("objectid") or fields.get("requesterobjectid"))
    upn = text(requester.get("upn") or fields.get("requesterupn"))
    if object_id:
        # A UPN means a user; otherwise an app or managed identity (both are service principals).
        return principal_key(object_id), "user" if upn else "service_principal", upn, session_key(object_id)
    auth = text(identity.get("type") or fields.get("authenticationtype")) or "unknown"
    return f"azure-storage-{auth.lower().replace(' ', '')}:{account}", "", f"{auth} on {account}", ""


def parse(record: dict, reference) -> list[dict]:
    low = lower_keys(record)
    fields = {**low, **lower_keys(as_dict(low.get("properties")))}
    operation = text(fields.get("operationname"))
    resource_id = text(first(low, "resourceid", "_resourceid"))
    account = text(fields.get("accountname")) or urlparse(text(first(fields, "uri", "requesturl"))).netloc.split(".")[0]
    status = _int(first(fields, "statuscode"))
    success = 0 < status < 400 if status else text(fields.get("metricresponsetype")).lower() == "success"
    principal, kind, name, session = _caller(low, fields, account)
    read = READS.get(operation.lower())
    action = read or canonical(reference, SERVICE, operation)[1]
    correlation = text(fields.get("correlationid"))
    count = _int(fields.get("operationcount"))
    event = base_event(
        (f"{correlation}#{count}" if count else correlation) or stable_id("azure-storage", record),
        timestamp(low, "time", "timegenerated"), SOURCE, KIND_OBJECT if read else KIND_API,
        subscription_of(resource_id) or text(first(low, "_subscriptionid", "subscriptionid")).lower(),
        text(fields.get("location")).lower(), SERVICE, action, success, principal, kind, name, session,
        strip_port(fields.get("calleripaddress")), text(fields.get("useragentheader")))
    if read:
        bucket, key = _object(fields, account)
        event["object"] = {"bucket": bucket, "key": key,
                           "bytes_out": _int(fields.get("responsebodysize")) if success else 0}
    return [event]
