"""Builders for real-shaped Azure records used by the Azure scenarios and parser tests.

Shapes follow what Azure delivers: the Azure Monitor export (Activity Log with upper-cased
operation names and JSON request/response bodies as strings, Entra sign-in and audit records
with the Graph object in `properties`, storage resource logs, NSG/VNet flow logs) and the Log
Analytics tables (AzureActivity, SigninLogs, StorageBlobLogs). Only fields Azure always writes
and the ones chainwatch reads; identifiers are GUIDs made from a seed.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
ORG_TENANT = "11111111-2222-3333-4444-555555555555"
SUB = "2b9f8c1e-4d5a-4c3b-9a7e-0f1e2d3c4b5a"
RG = "rg-apps"
AZURE_PORTAL = ("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal")
ARM_RESOURCE = "797f4846-ba00-4fd7-ba43-dac1f8f63013"   # Windows Azure Service Management API
CLAIM_OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
CLAIM_TID = "http://schemas.microsoft.com/identity/claims/tenantid"
CLAIM_UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
CLAIM_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
CLAIM_IDP = "http://schemas.microsoft.com/identity/claims/identityprovider"
BLOB_READ_ACTION = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"


def at(days=0, hours=0, minutes=0, seconds=0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"   # Azure writes 7 fractional digits


def guid(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def resource(provider_type: str, name: str, sub: str = SUB, rg: str = RG) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider_type}/{name}"


def activity_id(record: dict) -> str:
    """The id chainwatch gives an export-shape Activity Log record (it carries no eventDataId)."""
    digest = hashlib.sha1(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
    return f"{record['correlationId']}/{digest[:12]}"


# --- principals -----------------------------------------------------------------------------

def user(name: str, tenant: str = ORG_TENANT, home: str | None = None, domain: str = "acme.example") -> dict:
    """An Entra user as it appears in this tenant; a guest when `home` is another tenant."""
    home = home or tenant
    upn = f"{name}@{domain}" if home == tenant else f"{name}_{domain}#EXT#@acme.onmicrosoft.com"
    return {"oid": guid(f"user:{name}:{tenant}"), "upn": upn, "home_upn": f"{name}@{domain}", "tenant": tenant,
            "home": home, "kind": "user", "guest": home != tenant}


def service_principal(name: str, owner_tenant: str, tenant: str = ORG_TENANT) -> dict:
    return {"oid": guid(f"sp:{name}:{tenant}"), "app_id": guid(f"app:{name}"), "name": name, "tenant": tenant,
            "home": owner_tenant, "kind": "service_principal"}


def managed_identity(name: str, tenant: str = ORG_TENANT) -> dict:
    mi_id = resource("Microsoft.ManagedIdentity/userAssignedIdentities", name)
    return {"oid": guid(f"mi:{name}"), "app_id": guid(f"mi-app:{name}"), "name": name, "tenant": tenant,
            "kind": "managed_identity", "resource_id": mi_id}


def claims(principal: dict, src_ip: str) -> dict:
    """The ARM access-token claims the Activity Log records for a caller."""
    base = {"aud": "https://management.core.windows.net/", "iss": f"https://sts.windows.net/{principal['tenant']}/",
            "iat": "1790812800", "nbf": "1790812800", "exp": "1790816700", "ipaddr": src_ip, "ver": "1.0",
            CLAIM_OID: principal["oid"], CLAIM_TID: principal["tenant"], "uti": guid(f"uti:{principal['oid']}")[:22]}
    if principal["kind"] == "user":
        base.update({"appid": AZURE_PORTAL[0], "name": principal["upn"].split("@")[0],
                     CLAIM_NAME: principal["home_upn"] if principal["guest"] else principal["upn"]})
        if principal["guest"]:
            base[CLAIM_IDP] = f"https://sts.windows.net/{principal['home']}/"
        else:
            base[CLAIM_UPN] = principal["upn"]
    else:
        base.update({"appid": principal["app_id"], "idtyp": "app"})
        if principal["kind"] == "managed_identity":
            base["xms_mirid"] = principal["resource_id"]
    return base


# --- Activity Log ---------------------------------------------------------------------------

def activity(when: datetime, principal: dict, operation: str, resource_id: str, src_ip: str, *, seed: str,
             status: str = "Success", request: dict | None = None, response: dict | None = None,
             location: str = "westeurope") -> dict:
    """An Activity Log record as Azure Monitor exports it (upper-cased operation and resource id)."""
    props = {"statusCode": "OK" if status == "Success" else "Accepted" if status == "Start" else "BadRequest",
             "serviceRequestId": guid(f"svc:{seed}"), "eventCategory": "Administrative",
             "entity": resource_id, "message": operation,
             "hierarchy": f"{principal['tenant']}/{SUB}"}
    if request is not None:
        props["requestbody"] = json.dumps(request)
    if response is not None and status == "Success":
        props["responseBody"] = json.dumps(response)
    return {"time": iso(when), "resourceId": resource_id.upper(), "operationName": operation.upper(),
            "category": "Administrative", "resultType": status,
            "resultSignature": {"Success": "Succeeded.OK", "Start": "Started."}.get(status, "Failed.Conflict"),
            "durationMs": "0" if status == "Start" else "840", "callerIpAddress": src_ip,
            "correlationId": guid(f"corr:{seed}"),
            "identity": {"authorization": {"scope": resource_id, "action": operation,
                                           "evidence": {"role": "Owner", "roleAssignmentScope": f"/subscriptions/{SUB}",
                                                        "roleAssignmentId": guid(f"ra:{principal['oid']}"),
                                                        "roleDefinitionId": "8e3af657a8ff443ca75c2fe8c4bcb635",
                                                        "principalId": principal["oid"].replace("-", ""),
                                                        "principalType": {"user": "User"}.get(
                                                            principal["kind"], "ServicePrincipal")}},
                         "claims": claims(principal, src_ip)},
            "level": "Information", "location": "global" if "/providers/Microsoft.Authorization" in resource_id
            else location, "properties": props}


def activity_la(when: datetime, principal: dict, operation: str, resource_id: str, src_ip: str, *, seed: str,
                status: str = "Success") -> dict:
    """The same event as a Log Analytics AzureActivity row (JSON columns as strings)."""
    return {"TenantId": principal["tenant"], "SourceSystem": "Azure", "TimeGenerated": iso(when),
            "OperationName": "Read resource", "OperationNameValue": operation.upper(), "Level": "Informational",
            "ActivityStatusValue": status, "ActivitySubstatusValue": "OK", "ResourceGroup": RG.upper(),
            "SubscriptionId": SUB, "CategoryValue": "Administrative",
            "Caller": principal.get("upn") or principal["oid"], "CallerIpAddress": src_ip,
            "CorrelationId": guid(f"corr:{seed}"), "EventDataId": guid(f"event:{seed}"),
            "EventSubmissionTimestamp": iso(when), "ResourceProviderValue": operation.split("/")[0].upper(),
            "Claims": json.dumps(claims(principal, src_ip)),
            "Properties": json.dumps({"eventCategory": "Administrative", "entity": resource_id,
                                      "message": operation}),
            "_ResourceId": resource_id.lower(), "Type": "AzureActivity"}


def create_managed_identity(when, creator, mi: dict, *, seed) -> dict:
    response = {"id": mi["resource_id"], "name": mi["name"], "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "location": "westeurope", "properties": {"tenantId": mi["tenant"], "principalId": mi["oid"],
                                                         "clientId": mi["app_id"]}}
    return activity(when, creator, "Microsoft.ManagedIdentity/userAssignedIdentities/write", mi["resource_id"],
                    "198.51.100.10", seed=seed, request={"location": "westeurope"}, response=response)


def vm_names(name: str, octet: int) -> dict:
    return {"vm": resource("Microsoft.Compute/virtualMachines", f"vm-{name}"),
            "nic": resource("Microsoft.Network/networkInterfaces", f"nic-{name}"), "ip": f"10.2.{octet}.4"}


def write_vm(when, creator, names: dict, mi: dict, *, seed) -> dict:
    """A VM write whose response names its user-assigned managed identity and its NIC."""
    response = {"id": names["vm"], "name": names["vm"].rsplit("/", 1)[-1], "location": "westeurope",
                "identity": {"type": "UserAssigned", "userAssignedIdentities": {
                    mi["resource_id"]: {"principalId": mi["oid"], "clientId": mi["app_id"]}}},
                "properties": {"vmId": guid(f"vmid:{seed}"), "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                               "networkProfile": {"networkInterfaces": [{"id": names["nic"]}]},
                               "provisioningState": "Succeeded"}}
    return activity(when, creator, "Microsoft.Compute/virtualMachines/write", names["vm"], "198.51.100.10",
                    seed=seed, request={"location": "westeurope"}, response=response)


def write_nic(when, creator, names: dict, *, seed, attached: bool = True) -> dict:
    props = {"ipConfigurations": [{"name": "ipconfig1", "properties": {
        "privateIPAddress": names["ip"], "privateIPAllocationMethod": "Dynamic"}}],
        "macAddress": "00-0D-3A-" + "-".join(guid(seed)[i:i + 2].upper() for i in (0, 2, 4)),
        "provisioningState": "Succeeded"}
    if attached:
        props["virtualMachine"] = {"id": names["vm"]}
    return activity(when, creator, "Microsoft.Network/networkInterfaces/write", names["nic"], "198.51.100.10",
                    seed=seed, response={"id": names["nic"], "name": names["nic"].rsplit("/", 1)[-1],
                                         "location": "westeurope", "properties": props})


# --- Entra ID -------------------------------------------------------------------------------

def signin(when: datetime, principal: dict, src_ip: str, *, seed: str, app=AZURE_PORTAL, error: int = 0) -> dict:
    """A sign-in (user or service principal) as the Azure Monitor export writes it."""
    category = "SignInLogs" if principal["kind"] == "user" else "ServicePrincipalSignInLogs"
    graph = {"id": guid(f"signin:{seed}"), "createdDateTime": iso(when), "appId": app[0], "appDisplayName": app[1],
             "ipAddress": src_ip, "status": {"errorCode": error}, "correlationId": guid(f"corr:{seed}"),
             "resourceDisplayName": "Windows Azure Service Management API", "resourceId": ARM_RESOURCE,
             "resourceTenantId": principal["tenant"], "homeTenantId": principal["home"],
             "uniqueTokenIdentifier": guid(f"uti:{seed}")[:22], "conditionalAccessStatus": "notApplied",
             "riskLevelDuringSignIn": "none", "riskState": "none", "tokenIssuerType": "AzureAD",
             "location": {"city": "", "countryOrRegion": ""}}
    if principal["kind"] == "user":
        graph.update({"userId": principal["oid"], "userPrincipalName": principal["upn"], "isInteractive": True,
                      "userType": "Guest" if principal["guest"] else "Member", "clientAppUsed": "Browser",
                      "crossTenantAccessType": "b2bCollaboration" if principal["guest"] else "none",
                      "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"})
    else:
        graph.update({"servicePrincipalId": principal["oid"], "servicePrincipalName": principal["name"],
                      "appId": principal["app_id"], "appDisplayName": principal["name"],
                      "appOwnerTenantId": principal["home"], "clientCredentialType": "clientSecret",
                      "isInteractive": False})
    return {"time": iso(when), "resourceId": f"/tenants/{principal['tenant']}/providers/Microsoft.aadiam",
            "operationName": "Sign-in activity", "operationVersion": "1.0", "category": category,
            "tenantId": principal["tenant"], "resultType": str(error), "resultSignature": "None",
            "durationMs": 0, "callerIpAddress": src_ip, "correlationId": graph["correlationId"],
            "identity": principal.get("upn") or principal["name"], "Level": 4, "properties": graph}


def signin_la(when: datetime, principal: dict, src_ip: str, *, seed: str, app=AZURE_PORTAL) -> dict:
    """A user sign-in as a Log Analytics SigninLogs row."""
    return {"TenantId": principal["tenant"], "SourceSystem": "Azure AD", "TimeGenerated": iso(when),
            "ResourceId": f"/tenants/{principal['tenant']}/providers/Microsoft.aadiam",
            "OperationName": "Sign-in activity", "Category": "SignInLogs", "ResultType": "0",
            "Identity": principal["upn"], "AppDisplayName": app[1], "AppId": app[0], "CreatedDateTime": iso(when),
            "CorrelationId": guid(f"corr:{seed}"), "Id": guid(f"signin:{seed}"), "IPAddress": src_ip,
            "UserPrincipalName": principal["upn"], "UserId": principal["oid"],
            "UserType": "Guest" if principal["guest"] else "Member", "HomeTenantId": principal["home"],
            "ResourceTenantId": principal["tenant"], "Status": {"errorCode": 0}, "Type": "SigninLogs"}


def audit(when: datetime, actor: dict, activity_name: str, target: dict, src_ip: str, *, seed: str,
          category: str = "ApplicationManagement") -> dict:
    corr = guid(f"corr:{seed}")
    return {"time": iso(when), "resourceId": f"/tenants/{actor['tenant']}/providers/Microsoft.aadiam",
            "operationName": activity_name, "operationVersion": "1.0", "category": "AuditLogs",
            "tenantId": actor["tenant"], "resultSignature": "None", "durationMs": 0, "callerIpAddress": src_ip,
            "correlationId": corr, "Level": 4,
            "properties": {"id": f"Directory_{corr}_{guid(seed)[:5].upper()}_{int(when.timestamp())}",
                           "category": category, "correlationId": corr, "result": "success", "resultReason": "",
                           "activityDisplayName": activity_name, "activityDateTime": iso(when),
                           "loggedByService": "Core Directory", "operationType": "Add",
                           "initiatedBy": {"user": {"id": actor["oid"], "displayName": None,
                                                    "userPrincipalName": actor["upn"], "ipAddress": src_ip,
                                                    "roles": []}},
                           "targetResources": [target], "additionalDetails": []}}


def add_service_principal(when, actor, sp: dict, *, seed) -> dict:
    target = {"id": sp["oid"], "displayName": sp["name"], "type": "ServicePrincipal",
              "modifiedProperties": [{"displayName": "AppId", "oldValue": None, "newValue": f"\"{sp['app_id']}\""}],
              "administrativeUnits": []}
    return audit(when, actor, "Add service principal", target, "198.51.100.10", seed=seed)


# --- storage --------------------------------------------------------------------------------

def blob_read(when: datetime, principal: dict, account: str, container: str, key: str, nbytes: int, src_ip: str,
              *, seed: str, operation: str = "GetBlob", port: int = 50123) -> dict:
    """A blob read in the Azure Monitor export shape, OAuth-authorised."""
    account_id = resource("Microsoft.Storage/storageAccounts", account)
    return {"time": iso(when), "resourceId": f"{account_id}/blobServices/default", "category": "StorageRead",
            "operationName": operation, "operationVersion": "2023-11-03", "schemaVersion": "1.0",
            "statusCode": 200, "statusText": "Success", "durationMs": 14, "callerIpAddress": f"{src_ip}:{port}",
            "correlationId": guid(f"req:{seed}"), "location": "westeurope", "protocol": "HTTPS",
            "uri": f"https://{account}.blob.core.windows.net/{container}/{key}",
            "identity": {"type": "OAuth", "tokenHash": hashlib.sha256(seed.encode()).hexdigest().upper(),
                         "authorization": [{"action": BLOB_READ_ACTION,
                                            "roleAssignmentId": guid(f"ra-blob:{principal['oid']}"),
                                            "roleDefinitionId": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
                                            "principals": [{"id": principal["oid"], "type": "ServicePrincipal"}],
                                            "denyAssignmentId": "", "type": "RBAC", "result": "Granted",
                                            "reason": "Policy"}],
                         "requester": {"appId": principal.get("app_id", AZURE_PORTAL[0]),
                                       "audience": "https://storage.azure.com/", "objectId": principal["oid"],
                                       "tenantId": principal["tenant"],
                                       "tokenIssuer": f"https://sts.windows.net/{principal['tenant']}/",
                                       **({"upn": principal["upn"]} if principal["kind"] == "user" else {})}},
            "properties": {"accountName": account, "userAgentHeader": "azsdk-python-storage-blob/12.19.0",
                           "serviceType": "blob", "objectKey": f"/{account}/{container}/{key}",
                           "metricResponseType": "Success", "serverLatencyMs": 9, "requestHeaderSize": 1521,
                           "responseHeaderSize": 412, "responseBodySize": nbytes, "tlsVersion": "TLS 1.2"}}


def blob_read_la(when: datetime, principal: dict, account: str, container: str, key: str, nbytes: int, src_ip: str,
                 *, seed: str, port: int = 50123) -> dict:
    """A blob read as a Log Analytics StorageBlobLogs row."""
    return {"TenantId": "00000000-aaaa-bbbb-cccc-000000000000", "TimeGenerated": iso(when), "AccountName": account,
            "Location": "westeurope", "Protocol": "HTTPS", "OperationName": "GetBlob", "AuthenticationType": "OAuth",
            "StatusCode": "200", "StatusText": "Success", "DurationMs": 31, "ServerLatencyMs": 12,
            "Uri": f"https://{account}.blob.core.windows.net:443/{container}/{key}",
            "CallerIpAddress": f"{src_ip}:{port}", "CorrelationId": guid(f"req:{seed}"),
            "RequesterObjectId": principal["oid"], "RequesterTenantId": principal["tenant"],
            "RequesterAppId": principal.get("app_id", ""), "RequesterAudience": "https://storage.azure.com/",
            "RequesterTokenIssuer": f"https://sts.windows.net/{principal['tenant']}/",
            "ObjectKey": f"/{account}/{container}/{key}", "ResponseBodySize": nbytes, "ResponseHeaderSize": 402,
            "Category": "StorageRead",
            "_ResourceId": resource("Microsoft.Storage/storageAccounts", account).lower(),
            "Type": "StorageBlobLogs"}


# --- flows ----------------------------------------------------------------------------------

def nsg_tuple(when: datetime, src: str, dst: str, nbytes: int, *, state: str = "C", direction: str = "O",
              dport: int = 443, sport: int = 49152, decision: str = "A") -> str:
    if state == "B":
        return f"{int(when.timestamp())},{src},{dst},{sport},{dport},T,{direction},{decision},B,,,,"
    return (f"{int(when.timestamp())},{src},{dst},{sport},{dport},T,{direction},{decision},{state},"
            f"{max(1, nbytes // 1400)},{nbytes},{max(1, nbytes // 14000)},{nbytes // 20}")


def nsg_record(when: datetime, nsg: str, mac: str, tuples: list[str], rule: str = "DefaultRule_AllowInternetOutBound",
               sub: str = SUB) -> dict:
    """One NSG flow-log v2 record (one minute of one NIC) as written to the insights-logs container."""
    return {"time": iso(when), "systemId": guid(f"system:{nsg}"), "macAddress": mac,
            "category": "NetworkSecurityGroupFlowEvent",
            "resourceId": resource("Microsoft.Network/networkSecurityGroups", nsg, sub=sub).upper(),
            "operationName": "NetworkSecurityGroupFlowEvents",
            "properties": {"Version": 2, "flows": [{"rule": rule, "flows": [{"mac": mac, "flowTuples": tuples}]}]}}


def vnet_tuple(when: datetime, src: str, dst: str, nbytes: int, *, state: str = "C", direction: str = "O",
               dport: int = 443) -> str:
    ms = int(when.timestamp() * 1000)
    if state in ("B", "D"):
        return f"{ms},{src},{dst},49152,{dport},6,{direction},{state},NX,0,0,0,0"
    return f"{ms},{src},{dst},49152,{dport},6,{direction},{state},NX,{max(1, nbytes // 1400)},{nbytes},3,1200"


def vnet_record(when: datetime, target: str, mac: str, tuples: list[str], sub: str = SUB) -> dict:
    return {"time": iso(when), "flowLogVersion": 4, "flowLogGUID": guid(f"flowlog:{target}"), "macAddress": mac,
            "category": "FlowLogFlowEvent",
            "flowLogResourceID": f"/SUBSCRIPTIONS/{sub.upper()}/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/"
                                 "MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTEUROPE/FLOWLOGS/VNETFLOW",
            "targetResourceID": target, "operationName": "FlowLogFlowEvent",
            "flowRecords": {"flows": [{"aclID": guid(f"acl:{target}"),
                                       "flowGroups": [{"rule": "DefaultRule_AllowInternetOutBound",
                                                       "flowTuples": tuples}]}]}}


# --- files ----------------------------------------------------------------------------------

def write_json_lines(path: Path, records: list[dict]) -> None:
    """One record a line, as diagnostic settings write PT1H.json blobs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def write_records(path: Path, records: list[dict]) -> None:
    """{"records": [...]}, as Event Hub messages and flow-log blobs carry them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"records": records}))


def write_array(path: Path, rows: list[dict]) -> None:
    """A JSON array, as a Log Analytics query export."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))
