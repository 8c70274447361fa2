"""Entra ID (Azure AD) sign-in and audit logs -> normalised events.

Shapes: the Azure Monitor export (category SignInLogs, NonInteractiveUserSignInLogs,
ServicePrincipalSignInLogs, ManagedIdentitySignInLogs, AuditLogs; the Graph object in
`properties`), the Log Analytics tables (SigninLogs, AAD*SignInLogs, AuditLogs: columns at the
top level, InitiatedBy/TargetResources as JSON strings) and bare Graph signIn/directoryAudit
objects. Entra is a directory-wide service: account = the tenant, region = 'global'.

AN1348 entry: a successful user or service-principal sign-in is an `assume` of the signed-in
principal (role = azure:<its object id in this tenant>) by its home: caller_account is the home
tenant (homeTenantId; a guest's '#EXT#' UPN domain when the log has no home tenant; the app
owner's tenant for a service principal). method: 'Guest' (userType Guest or a B2B
crossTenantAccessType), 'CrossTenant' (home tenant differs), 'ServicePrincipal', else 'SignIn'.
steps/sessions.entry_reason then calls it outside unless the home is this tenant, the org or
trusted.

Session key, and why: the privileged calls that follow arrive in the Activity Log and audit logs,
which carry the caller's object id but nothing that names the sign-in (the token id `uti` of an
ARM call is rarely the one the sign-in log recorded: portals and CLIs refresh tokens silently).
So the session is the principal: `azure-session:<object id>`, on the sign-in and on every later
event of that principal. Each outside sign-in opens it afresh (steps/sessions.start_session);
`session_arn` keeps the sign-in's own id so a finding points at the sign-in record.
"""
from __future__ import annotations

from chainwatch.core.event import KIND_API, ParseError
from chainwatch.parsers.azure_common import (ENTRA_SERVICE, as_dict, base_event, canonical, created, decoded,
                                             first, lower_keys, principal_key, session_key, stable_id, strip_port,
                                             tenant_of, text, timestamp)

FORMAT = "azure_entra"
CLOUD = "azure"     # its row in the provider table (core.providers)
SOURCE = "azure_entra"

_SIGNIN_CATEGORIES = {"signinlogs", "noninteractiveusersigninlogs", "serviceprincipalsigninlogs",
                      "managedidentitysigninlogs", "adfssigninlogs", "aadnoninteractiveusersigninlogs",
                      "aadserviceprincipalsigninlogs", "aadmanagedidentitysigninlogs"}
_TABLES = _SIGNIN_CATEGORIES | {"auditlogs"}
_B2B = {"b2bcollaboration", "b2bdirectconnect"}


def recognises(record: dict) -> bool:
    low = lower_keys(record)
    if "/providers/microsoft.aadiam" in text(low.get("resourceid")).lower():
        return True
    if text(low.get("type")).lower() in _TABLES or text(low.get("category")).lower() in _TABLES:
        return True
    # Bare Graph objects: a directoryAudit, or a signIn.
    return ("activitydisplayname" in low and "initiatedby" in low) or \
        ("createddatetime" in low and "appid" in low and ("userid" in low or "serviceprincipalid" in low))


def _fields(low: dict) -> dict:
    """Top-level columns overlaid with the Graph object in `properties` (its names win)."""
    return {**low, **lower_keys(as_dict(low.get("properties")))}


def _is_signin(low: dict, fields: dict) -> bool:
    table = (text(low.get("category")) or text(low.get("type"))).lower()
    if table in _SIGNIN_CATEGORIES:
        return True
    if table == "auditlogs" or "activitydisplayname" in fields or "initiatedby" in fields:
        return False
    return text(fields.get("operationname")).lower() == "sign-in activity" or "createddatetime" in fields


def _event_id(fields: dict, record: dict, prefix: str) -> str:
    return text(first(fields, "id", "originalrequestid")) or stable_id(prefix, record)


def _error_code(fields: dict):
    status = decoded(fields.get("status"))
    if isinstance(status, dict) and "errorCode" in status:
        return status["errorCode"]
    return first(fields, "resulttype")


def _succeeded(fields: dict) -> bool:
    code = _error_code(fields)
    return code is None or str(code).strip().lower() in ("0", "success", "succeeded")


def _home_of_guest(upn: str) -> str:
    """'bob_partner.example#EXT#@acme.onmicrosoft.com' -> 'partner.example'."""
    local = upn.split("#EXT#", 1)[0] if "#EXT#" in upn.upper() else ""
    return local.rsplit("_", 1)[-1].lower() if "_" in local else ""


def _signin(record: dict, low: dict, fields: dict) -> list[dict]:
    table = (text(low.get("category")) or text(low.get("type"))).lower()
    tenant = text(first(fields, "resourcetenantid", "aadtenantid") or low.get("tenantid")
                  or tenant_of(text(low.get("resourceid")))).lower()
    user_id, sp_id = text(fields.get("userid")), text(fields.get("serviceprincipalid"))
    managed = "managedidentity" in table or text(fields.get("managedidentitytype")).lower() not in ("", "none")
    if user_id and "serviceprincipal" not in table and not managed:
        object_id, kind, name = user_id, "user", text(fields.get("userprincipalname"))
    elif sp_id:
        object_id, kind = sp_id, "managed_identity" if managed else "service_principal"
        name = text(first(fields, "serviceprincipalname", "appdisplayname"))
    else:
        raise ParseError("userId", "the sign-in names no user or service principal object id")
    success = _succeeded(fields)
    app = text(first(fields, "appdisplayname", "appid"))
    event = base_event(_event_id(fields, record, "azure-signin"),
                       timestamp(fields, "createddatetime", "time", "timegenerated"), SOURCE, KIND_API, tenant,
                       "global", ENTRA_SERVICE, "Sign-in activity", success, principal_key(object_id), kind, name,
                       session_key(object_id), strip_port(first(fields, "ipaddress", "calleripaddress")),
                       text(fields.get("useragent")))
    if success and kind != "managed_identity":   # managed identities exist only inside their tenant
        event["assume"] = _assume(event, fields, kind, name, tenant, app)
    return [event]


def _assume(event: dict, fields: dict, kind: str, name: str, tenant: str, app: str) -> dict:
    home = text(fields.get("hometenantid")).lower()
    guest = text(fields.get("usertype")).lower() == "guest" or \
        text(fields.get("crosstenantaccesstype")).lower() in _B2B
    if kind == "service_principal":
        method = "ServicePrincipal"
        home = text(fields.get("appownertenantid")).lower() or home
    elif guest:
        method = "Guest"
        home = home or _home_of_guest(name) or "unknown-home-tenant"
    else:
        method = "CrossTenant" if home and home != tenant else "SignIn"
    return {"role": event["principal"], "session": event["session"], "session_arn": event["id"],
            "session_name": app, "caller": event["principal"], "caller_type": kind,
            "caller_account": home or tenant, "method": method, "external_id_used": False}


def _audit(record: dict, low: dict, fields: dict, reference) -> list[dict]:
    action = text(first(fields, "activitydisplayname", "operationname"))
    if not action:
        raise ParseError("activityDisplayName", "missing (and no operationName)")
    initiated = as_dict(fields.get("initiatedby"))
    user, app = as_dict(initiated.get("user")), as_dict(initiated.get("app"))
    if text(user.get("id")):
        object_id, kind, name = text(user.get("id")), "user", text(user.get("userPrincipalName"))
    elif text(app.get("servicePrincipalId")):
        object_id, kind, name = text(app.get("servicePrincipalId")), "service_principal", text(app.get("displayName"))
    else:   # Entra itself, or an app logged by appId only: not an identity key of this model
        object_id, kind, name = "", "", text(app.get("displayName") or app.get("appId"))
    targets = decoded(fields.get("targetresources"))
    target = targets[0] if isinstance(targets, list) and targets and isinstance(targets[0], dict) else {}
    service, action = canonical(reference, ENTRA_SERVICE, action)
    # Log Analytics' TenantId is the workspace's tenant; AADTenantId is the directory's.
    tenant = text(first(low, "aadtenantid", "tenantid") or fields.get("tenantid")
                  or tenant_of(text(low.get("resourceid")))).lower()
    result = text(first(fields, "result")).lower()
    event = base_event(_event_id(fields, record, "azure-audit"),
                       timestamp(fields, "time", "timegenerated", "activitydatetime"), SOURCE, KIND_API, tenant,
                       "global", service, action, result in ("", "success"), principal_key(object_id), kind, name,
                       session_key(object_id), strip_port(user.get("ipAddress") or low.get("calleripaddress")),
                       text(fields.get("useragent")))
    if event["success"]:
        creation = created(reference, service, action, {"target": target, "properties": fields},
                           text(target.get("userPrincipalName") or target.get("displayName")))
        if creation:
            event["created"] = creation
    return [event]


def parse(record: dict, reference) -> list[dict]:
    low = lower_keys(record)
    fields = _fields(low)
    if _is_signin(low, fields):
        return _signin(record, low, fields)
    return _audit(record, low, fields, reference)
