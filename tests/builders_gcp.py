"""Builders for real-shaped Google Cloud records: Cloud Audit Log entries and VPC flow log entries.

LogEntry JSON as a log sink exports it (Cloud Storage sink: one JSON object per line, files
per log and hour). Field names and formats follow Google's: RFC 3339 timestamps with
nanoseconds, int64 values as strings, projects/P/... resource names, IAM member strings.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

AUDIT_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
GCLOUD_UA = ("google-cloud-sdk gcloud/470.0.0 command/gcloud.{cmd} invocation-id/{iid} environment/None "
             "environment-version/None client-os/LINUX interactive/True python/3.11.7,gzip(gfe)")


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def insert_id(seed: str) -> str:
    return _hex("insert" + seed, 13)


def unique_id(seed: str) -> str:
    return str(int(_hex("uid" + seed, 15), 16))[:21].ljust(21, "7")


def rfc3339(when: datetime, nanos: int = 0) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def sa_email(name: str, project: str) -> str:
    return f"{name}@{project}.iam.gserviceaccount.com"


def member(email_or_subject: str) -> str:
    if email_or_subject.startswith("principal://"):
        return email_or_subject
    kind = "serviceAccount" if email_or_subject.endswith(".gserviceaccount.com") else "user"
    return f"{kind}:{email_or_subject}"


def audit_entry(when: datetime, *, project: str, service: str, method: str, principal: str, caller_ip: str | None,
                seed: str, resource_type: str, resource_labels: dict | None = None, resource_name: str = "",
                permission: str = "", request: dict | None = None, response: dict | None = None,
                log: str = "activity", status: dict | None = None, delegation: list[str] | None = None,
                metadata: dict | None = None, service_data: dict | None = None, extra: dict | None = None,
                location: str | None = None) -> dict:
    """One AuditLog LogEntry. principal: an e-mail or a principal:// subject (federated)."""
    nanos = int(_hex("ns" + seed, 8), 16) % 1_000_000_000
    auth = ({"principalSubject": principal} if principal.startswith("principal://")
            else {"principalEmail": principal, "principalSubject": member(principal)})
    if delegation:
        auth["serviceAccountDelegationInfo"] = [
            {"principalSubject": d} if d.startswith("principal://")
            else {"firstPartyPrincipal": {"principalEmail": d}, "principalSubject": member(d)} for d in delegation]
    meta = {"callerSuppliedUserAgent": GCLOUD_UA.format(cmd=method.rsplit(".", 1)[-1].lower(), iid=_hex(seed, 32)),
            "requestAttributes": {"time": rfc3339(when, nanos + 1000), "auth": {}}, "destinationAttributes": {}}
    if caller_ip is not None:
        meta["callerIp"] = caller_ip
    payload = {"@type": AUDIT_TYPE, "status": status or {}, "authenticationInfo": auth, "requestMetadata": meta,
               "serviceName": service, "methodName": method,
               "authorizationInfo": [{"resource": resource_name, "permission": permission or method,
                                      "granted": not (status or {}).get("code"), "resourceAttributes": {}}],
               "resourceName": resource_name}
    for key, value in (("request", request), ("response", response), ("metadata", metadata),
                       ("serviceData", service_data)):
        if value is not None:
            payload[key] = value
    if location:
        payload["resourceLocation"] = {"currentLocations": [location]}
    entry = {"protoPayload": payload, "insertId": insert_id(seed),
             "resource": {"type": resource_type, "labels": dict(resource_labels or {}, project_id=project)},
             "timestamp": rfc3339(when, nanos), "severity": "ERROR" if (status or {}).get("code") else "NOTICE",
             "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2F{log}",
             "receiveTimestamp": rfc3339(when + timedelta(seconds=1), nanos)}
    entry.update(extra or {})
    return entry


# --- identity ---------------------------------------------------------------------------------

def create_service_account(when, creator: str, project: str, account_id: str, *, seed: str, caller_ip="198.51.100.10"):
    email = sa_email(account_id, project)
    uid = unique_id(email)
    return audit_entry(when, project=project, service="iam.googleapis.com",
                       method="google.iam.admin.v1.CreateServiceAccount", principal=creator, caller_ip=caller_ip,
                       seed=seed, resource_type="service_account",
                       resource_labels={"email_id": email, "unique_id": uid}, resource_name=f"projects/{project}",
                       permission="iam.serviceAccounts.create",
                       request={"@type": "type.googleapis.com/google.iam.admin.v1.CreateServiceAccountRequest",
                                "account_id": account_id, "name": f"projects/{project}",
                                "service_account": {"display_name": account_id}},
                       response={"@type": "type.googleapis.com/google.iam.admin.v1.ServiceAccount",
                                 "email": email, "name": f"projects/{project}/serviceAccounts/{email}",
                                 "project_id": project, "unique_id": uid, "oauth2_client_id": uid,
                                 "display_name": account_id, "etag": "MDEwMjE5MjA="})


def create_service_account_key(when, actor: str, project: str, email: str, *, seed: str, caller_ip="198.51.100.10",
                               delegation=None):
    uid = unique_id(email)
    key_id = _hex("key" + seed, 40)
    return audit_entry(when, project=project, service="iam.googleapis.com",
                       method="google.iam.admin.v1.CreateServiceAccountKey", principal=actor, caller_ip=caller_ip,
                       seed=seed, resource_type="service_account",
                       resource_labels={"email_id": email, "unique_id": uid},
                       resource_name=f"projects/-/serviceAccounts/{uid}", permission="iam.serviceAccountKeys.create",
                       delegation=delegation,
                       request={"@type": "type.googleapis.com/google.iam.admin.v1.CreateServiceAccountKeyRequest",
                                "name": f"projects/{project}/serviceAccounts/{uid}", "private_key_type": 2},
                       # Cloud Audit Logs never log the private key; the key's name is an identifier.
                       response={"@type": "type.googleapis.com/google.iam.admin.v1.ServiceAccountKey",
                                 "name": f"projects/{project}/serviceAccounts/{email}/keys/{key_id}",
                                 "key_algorithm": 2, "key_origin": 2, "key_type": 1, "private_key_type": 2})


def set_project_iam_policy(when, actor: str, project: str, deltas: list[tuple[str, str, str]], *, seed: str,
                           caller_ip="198.51.100.10", delegation=None):
    """deltas: (action ADD|REMOVE, role, member)."""
    bindings: dict[str, list] = {}
    for action, role, who in deltas:
        if action == "ADD":
            bindings.setdefault(role, []).append(who)
    policy = {"bindings": [{"role": r, "members": m} for r, m in bindings.items()], "etag": "BwYQYvUoBxs="}
    return audit_entry(when, project=project, service="cloudresourcemanager.googleapis.com", method="SetIamPolicy",
                       principal=actor, caller_ip=caller_ip, seed=seed, resource_type="project",
                       resource_name=f"projects/{project}", permission="resourcemanager.projects.setIamPolicy",
                       delegation=delegation,
                       request={"@type": "type.googleapis.com/google.iam.v1.SetIamPolicyRequest",
                                "resource": project, "policy": policy},
                       response=dict(policy, **{"@type": "type.googleapis.com/google.iam.v1.Policy"}),
                       service_data={"@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
                                     "policyDelta": {"bindingDeltas": [{"action": a, "role": r, "member": m}
                                                                       for a, r, m in deltas]}})


def generate_access_token(when, caller: str, project: str, target_email: str, caller_ip: str | None, *, seed: str,
                          method: str = "GenerateAccessToken"):
    """iamcredentials impersonation, logged in the target service account's project (data access)."""
    uid = unique_id(target_email)
    return audit_entry(when, project=project, service="iamcredentials.googleapis.com", method=method,
                       principal=caller, caller_ip=caller_ip, seed=seed, log="data_access",
                       resource_type="service_account",
                       resource_labels={"email_id": target_email, "unique_id": uid},
                       resource_name=f"projects/-/serviceAccounts/{uid}",
                       permission="iam.serviceAccounts.getAccessToken",
                       request={"@type": f"type.googleapis.com/google.iam.credentials.v1.{method}Request",
                                "name": f"projects/-/serviceAccounts/{target_email}"},
                       metadata={"identityDelegationChain": [f"projects/-/serviceAccounts/{target_email}"]})


# --- workloads and data --------------------------------------------------------------------------

def instances_insert(when, actor: str, project: str, zone: str, vm_name: str, service_account: str, *, seed: str):
    name = f"projects/{project}/zones/{zone}/instances/{vm_name}"
    op = "operation-" + _hex(seed, 20)
    return audit_entry(when, project=project, service="compute.googleapis.com", method="v1.compute.instances.insert",
                       principal=actor, caller_ip="198.51.100.10", seed=seed, resource_type="gce_instance",
                       resource_labels={"instance_id": unique_id(name), "zone": zone}, resource_name=name,
                       permission="compute.instances.create", location=zone,
                       request={"@type": "type.googleapis.com/compute.instances.insert", "name": vm_name,
                                "machineType": f"zones/{zone}/machineTypes/e2-standard-4",
                                "serviceAccounts": [{"email": service_account,
                                                     "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}]},
                       response={"@type": "type.googleapis.com/operation", "name": op, "operationType": "insert",
                                 "status": "RUNNING", "targetLink": f"https://www.googleapis.com/compute/v1/{name}"},
                       extra={"operation": {"id": op, "producer": "compute.googleapis.com", "first": True}})


def gcs_read(when, principal: str, project: str, bucket: str, obj: str, caller_ip: str | None, *, seed: str,
             method: str = "storage.objects.get", nbytes: int | None = None, delegation=None):
    entry = audit_entry(when, project=project, service="storage.googleapis.com", method=method, principal=principal,
                        caller_ip=caller_ip, seed=seed, log="data_access", resource_type="gcs_bucket",
                        resource_labels={"bucket_name": bucket, "location": "us-central1"},
                        resource_name=f"projects/_/buckets/{bucket}" + (f"/objects/{obj}" if obj else ""),
                        permission=method, location="us-central1", delegation=delegation)
    entry["severity"] = "INFO"
    if nbytes is not None:   # LogEntry.httpRequest, int64 as a string
        entry["httpRequest"] = {"requestMethod": "GET", "responseSize": str(nbytes), "status": 200,
                                "remoteIp": caller_ip or ""}
    return entry


def call_as(when, principal: str, project: str, service: str, method: str, caller_ip: str | None, *, seed: str,
            delegation=None, resource_type="project", resource_name="", **kwargs):
    """Any other API call (privileged or not), optionally with the impersonation chain."""
    return audit_entry(when, project=project, service=service, method=method, principal=principal,
                       caller_ip=caller_ip, seed=seed, resource_type=resource_type,
                       resource_name=resource_name or f"projects/{project}", delegation=delegation, **kwargs)


def vpc_flow(start: datetime, project: str, zone: str, vm_name: str, src_ip: str, dst_ip: str, nbytes: int, *,
             seed: str, reporter: str = "SRC", dport: int = 443, seconds: int = 60):
    """One VPC flow log entry as the reporting VM's subnetwork writes it (gce_subnetwork)."""
    region = zone.rsplit("-", 1)[0]
    vm = {"project_id": project, "region": region, "zone": zone, "vm_name": vm_name}
    vpc = {"project_id": project, "vpc_name": "default", "subnetwork_name": f"{region}-apps"}
    payload = {"connection": {"src_ip": src_ip, "src_port": 49152 + int(_hex(seed, 3), 16) % 10000,
                              "dest_ip": dst_ip, "dest_port": dport, "protocol": 6},
               "bytes_sent": str(nbytes), "packets_sent": str(max(1, nbytes // 1400)),
               "start_time": rfc3339(start), "end_time": rfc3339(start + timedelta(seconds=seconds)),
               "reporter": reporter, "rtt_msec": "24"}
    if reporter == "SRC":
        payload.update(src_instance=vm, src_vpc=vpc)
    else:
        payload.update(dest_instance=vm, dest_vpc=vpc)
    return {"insertId": insert_id("flow" + seed), "jsonPayload": payload,
            "resource": {"type": "gce_subnetwork", "labels": {"project_id": project, "location": zone,
                                                               "subnetwork_id": unique_id(region),
                                                               "subnetwork_name": vpc["subnetwork_name"]}},
            "timestamp": rfc3339(start + timedelta(seconds=seconds + 5)),
            "logName": f"projects/{project}/logs/compute.googleapis.com%2Fvpc_flows",
            "receiveTimestamp": rfc3339(start + timedelta(seconds=seconds + 9))}


def write_sink_files(directory: Path, entries: list[dict]) -> int:
    """As a Cloud Storage log sink writes them: LOG_ID/YYYY/MM/DD/HH:00:00_HH:59:59_S0.json, NDJSON."""
    files: dict[Path, list[str]] = {}
    for entry in entries:
        log_id = entry["logName"].split("/logs/", 1)[1].replace("%2F", "/")
        hour = entry["timestamp"][:13]
        day, hh = hour.split("T")
        path = directory / log_id / day.replace("-", "/") / f"{hh}:00:00_{hh}:59:59_S0.json"
        files.setdefault(path, []).append(json.dumps(entry, separators=(",", ":")))
    for path, lines in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return len(files)
