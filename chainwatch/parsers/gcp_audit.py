"""Google Cloud Audit Logs (LogEntry with an AuditLog protoPayload) -> normalised events.

Admin Activity and Data Access logs as a log sink exports them (Pub/Sub, Cloud Storage,
BigQuery JSON), or as Panther ships them (`at_sign_type` for `@type`, top-level keys sometimes
lower-cased). Identity resolution, and why it matters for keying:
  * Principals are IAM member strings, e-mails lower-cased: serviceAccount:<email>,
    user:<email>; federated identities keep their principal:// subject. VPC flow bindings and
    creation events build the same strings, so one identity has one key.
  * Service-account impersonation is AN1348's entry: iamcredentials GenerateAccessToken (and
    GenerateIdToken, SignJwt, SignBlob) is logged with the caller as principal and the service
    account as the resource. Calls made later with that token are logged as the service account
    with the caller in serviceAccountDelegationInfo. Both sides build the session key
    '<caller>=><service account>', so the burst is counted per impersonation.
  * An identity created by a call (conf/gcp/creation_events.yaml) gets an event of its own with
    the same id, so the creator's call still counts for the creator (a burst may include it).
  * compute.instances.insert / setServiceAccount bind a VM (its resource name, which VPC flow
    logs name as src_instance) to the service account it runs as: egress is attributed to it.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import re

from chainwatch.core.event import KIND_API, KIND_BINDING, KIND_OBJECT, MAX_LONG, ParseError, dig, event_time, type_name
from chainwatch.core.identity_keys import gke_pool_project, instance_key
from chainwatch.parsers.evidence import mark as mark_evidence
from chainwatch.parsers.gcp_vpc_flow import entry_field, project_from_log_name, region_of

FORMAT = "gcp_audit"
CLOUD = "gcp"     # its row in the provider table (core.providers)
AUDIT_LOG_TYPE = "google.cloud.audit.AuditLog"
OBJECT_READS = {"storage.objects.get", "storage.objects.list"}
IMPERSONATION_METHODS = {"GenerateAccessToken", "GenerateIdToken", "SignJwt", "SignBlob"}
# Compute Engine (and a few others) prefix methods with their API version: v1.compute.firewalls.insert,
# beta.compute.instances.insert. The catalog lists them once, without it.
_API_VERSION = re.compile(r"^(?:v\d+(?:alpha\d*|beta\d*)?|alpha|beta)\.")
_NAMED_PROJECT = re.compile(r"^projects/([^/_-][^/]*)(?:/|$)")
_PARENT_LOG = re.compile(r"^((?:organizations|folders|billingAccounts)/[^/]+)/logs/")
_INSTANCE = re.compile(r"^projects/[^/]+/zones/[^/]+/instances/[^/]+$")
# Google-managed service agents act for Google services: not identities an attacker creates.
_SERVICE_AGENT_DOMAINS = {"cloudservices.gserviceaccount.com", "system.gserviceaccount.com",
                          "container-engine-robot.iam.gserviceaccount.com"}


def _payload(record: dict) -> dict | None:
    value = entry_field(record, "protoPayload")
    return value if isinstance(value, dict) else None


def recognises(record: dict) -> bool:
    payload = _payload(record)
    if payload is None:
        return False
    kind = payload.get("@type") or payload.get("at_sign_type")
    return (isinstance(kind, str) and kind.endswith(AUDIT_LOG_TYPE)) or "methodName" in payload


# --- identities -----------------------------------------------------------------------------

def _service_account_type(email: str) -> str:
    domain = email.rpartition("@")[2]
    if domain.startswith("gcp-sa-") or domain.endswith("-system.iam.gserviceaccount.com") \
            or domain in _SERVICE_AGENT_DOMAINS:
        return "service"
    return "service_account"


def member_key(value) -> tuple[str, str]:
    """(principal key, type) for an e-mail, an IAM member string or a principal:// subject."""
    if not isinstance(value, str) or not value.strip():
        return "", ""
    value = value.strip()
    if value.startswith(("principal://", "principalSet://")):
        return value, "federated"
    prefix, colon, rest = value.partition(":")
    if colon and prefix in ("user", "serviceAccount"):
        if "@" not in rest:  # legacy GKE workload identity: serviceAccount:P.svc.id.goog[ns/ksa]
            return value, "federated"
        email = rest.lower()
        return f"{prefix}:{email}", _service_account_type(email) if prefix == "serviceAccount" else "user"
    if colon or "@" not in value:
        return "", ""
    email = value.lower()
    if email.endswith(".gserviceaccount.com"):
        return f"serviceAccount:{email}", _service_account_type(email)
    return f"user:{email}", "user"


def home_of(key: str, kind: str) -> tuple[str, str]:
    """(caller's home, entry method): the project, domain or identity pool a principal belongs to.

    Service agents have no home (they are Google acting for the project, never outsiders)."""
    if kind == "service":
        return "", "Impersonation"
    if key.startswith(("principal://", "principalSet://")):
        path = key.split("iam.googleapis.com/", 1)[-1]
        pool = re.split(r"/(?:subject|group|attribute\.[^/]+)/|/\*$", path)[0]
        # GKE workload identity federation: the pool is the project's own PROJECT.svc.id.goog.
        if pool.endswith(".svc.id.goog"):
            return pool.rsplit("/", 1)[-1][: -len(".svc.id.goog")], "GKEWorkloadIdentity"
        return pool, "WorkloadIdentityFederation"
    member = key.partition(":")[2]
    if "@" not in member:  # serviceAccount:P.svc.id.goog[ns/ksa]
        return member.split(".svc.id.goog")[0], "GKEWorkloadIdentity"
    local, _, domain = member.partition("@")
    if key.startswith("serviceAccount:"):
        if domain.endswith(".iam.gserviceaccount.com"):
            return domain[: -len(".iam.gserviceaccount.com")], "Impersonation"
        if domain in ("appspot.gserviceaccount.com", "developer.gserviceaccount.com"):
            return local.split("-compute")[0], "Impersonation"  # project id / project number
    return domain, "Impersonation"


def resolve_principal(auth: dict, service: str) -> tuple[str, str, str]:
    """(key, type, display name) of authenticationInfo; Google-internal calls carry none."""
    subject_key, subject_type = member_key(auth.get("principalSubject"))
    email_key, email_type = member_key(auth.get("principalEmail"))
    # principalSubject says user: or serviceAccount: explicitly; an e-mail alone is judged by domain.
    key, kind = (subject_key, subject_type) if subject_key else (email_key, email_type)
    if key:
        email = auth.get("principalEmail")
        name = email.lower() if isinstance(email, str) and "@" in email else key.partition(":")[2] if "@" in key else key
        return key, kind, name
    return f"service:{service or 'google'}", "service", ""


def delegator(auth: dict) -> str:
    """The identity that handed its authority to the calling service account (the last link)."""
    chain = auth.get("serviceAccountDelegationInfo")
    for link in reversed(chain if isinstance(chain, list) else []):
        if isinstance(link, dict):
            key, _ = member_key(link.get("principalSubject"))
            key = key or member_key(dig(link, "firstPartyPrincipal.principalEmail"))[0]
            if key:
                return key
    return ""


def session_key(caller: str, service_account: str) -> str:
    return f"{caller}=>{service_account}"


# --- fields -----------------------------------------------------------------------------------

def _timestamp(record: dict, payload: dict) -> int:
    # Only strings are timestamps here: a non-string field falls through to the next one.
    candidates = (("timestamp", entry_field(record, "timestamp")),
                  ("receiveTimestamp", entry_field(record, "receiveTimestamp")),
                  ("protoPayload.requestMetadata.requestAttributes.time",
                   dig(payload, "requestMetadata.requestAttributes.time")))
    return event_time((field, text if isinstance(text, str) else None) for field, text in candidates)


def project_of(record: dict, payload: dict) -> str:
    """The project the entry belongs to; organisation/folder-level entries keep their parent."""
    project = dig(record, "resource.labels.project_id")
    if isinstance(project, str) and project:
        return project
    from_log = project_from_log_name(record)
    if from_log:
        return from_log
    log_name = entry_field(record, "logName")
    parent = _PARENT_LOG.match(log_name) if isinstance(log_name, str) else None
    if parent:
        return parent.group(1)
    named = _NAMED_PROJECT.match(str(payload.get("resourceName") or ""))
    return named.group(1) if named else ""


def _region(record: dict, payload: dict) -> str:
    labels = dig(record, "resource.labels")
    for name in ("location", "region", "zone"):
        value = labels.get(name) if isinstance(labels, dict) else None
        if isinstance(value, str) and value:
            return region_of(value)
    locations = dig(payload, "resourceLocation.currentLocations")
    if isinstance(locations, list) and locations and isinstance(locations[0], str) and locations[0]:
        return region_of(locations[0])
    return "global"  # IAM, logging, resource manager: the resource has no location


def _caller_ip(payload: dict) -> str:
    meta = payload.get("requestMetadata")
    if not isinstance(meta, dict):
        return ""
    value = meta.get("callerIp") or meta.get("callerIP")
    try:  # 'private' and 'gce-internal-ip' stand in for Google-internal callers: no address
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return ""


def _succeeded(payload: dict) -> bool:
    status = payload.get("status")
    if isinstance(status, dict) and status.get("code") not in (None, 0, "0", ""):
        return False
    checks = payload.get("authorizationInfo")
    return not (isinstance(checks, list) and checks
                and all(isinstance(c, dict) and c.get("granted") is False for c in checks))


def _object(record: dict, payload: dict) -> dict:
    """projects/_/buckets/B/objects/K -> bucket, key. Audit logs carry no byte counts; the
    LogEntry's httpRequest.responseSize does when the exporter filled it."""
    name = str(payload.get("resourceName") or "")
    _, found, rest = name.partition("/buckets/")
    bucket, _, key = rest.partition("/objects/") if found else ("", "", "")
    size = dig(record, "httpRequest.responseSize") or dig(record, "httprequest.responseSize")
    try:
        nbytes = max(0, int(size or 0))
    except (TypeError, ValueError, OverflowError):
        nbytes = 0
    nbytes = nbytes if nbytes <= MAX_LONG else 0
    return {"bucket": bucket or str(dig(record, "resource.labels.bucket_name") or ""), "key": key,
            "bytes_out": nbytes}


def _service_account_named(value) -> str:
    """serviceAccount key from an e-mail or a projects/P/serviceAccounts/EMAIL[/keys/K] name."""
    if not isinstance(value, str):
        return ""
    if "/serviceAccounts/" in value:
        value = value.split("/serviceAccounts/", 1)[1].split("/", 1)[0]
    key, _ = member_key(value if "@" in value else "")
    return key if key.startswith("serviceAccount:") else ""


def _created(record: dict, rule, project: str) -> list[tuple[str, str]]:
    """(identity key, type) of every identity the call created, from the rule's name_from paths.

    A path may hold an e-mail, a member string, a resource name with /serviceAccounts/EMAIL, a
    bare account id (service accounts: ID@PROJECT.iam.gserviceaccount.com) or IAM binding deltas
    (members ADDed)."""
    for path in rule.name_from:
        value = dig(record, path)
        if isinstance(value, list):
            members = [member_key(d.get("member")) for d in value
                       if isinstance(d, dict) and d.get("action") == "ADD"]
            found = [(k, t) for k, t in members if t in ("user", "service_account")]
            if found:
                return list(dict.fromkeys(found))
            continue
        if not isinstance(value, str) or not value:
            continue
        if rule.identity_type == "service_account":
            key = _service_account_named(value)
            if not key and re.fullmatch(r"[a-z][a-z0-9-]{4,29}", value) and project:
                key = f"serviceAccount:{value}@{project}.iam.gserviceaccount.com"
            if key:
                return [(key, "service_account")]
            continue
        key, kind = member_key(value)
        if kind == rule.identity_type:
            return [(key, kind)]
    return []


def _impersonated(record: dict, payload: dict) -> str:
    """The service account a token was issued for (resourceName often holds only its numeric id)."""
    chain = dig(payload, "metadata.identityDelegationChain")
    last = chain[-1] if isinstance(chain, list) and chain else None
    for value in (dig(record, "resource.labels.email_id"), dig(payload, "request.name"), last,
                  payload.get("resourceName")):
        key = _service_account_named(value)
        if key:
            return key
    return ""


def _bindings(record: dict, payload: dict, action: str, project: str) -> list[dict]:
    request = payload.get("request") if isinstance(payload.get("request"), dict) else {}
    if action == "compute.instances.insert":
        accounts = request.get("serviceAccounts")
        emails = [a.get("email") for a in accounts if isinstance(a, dict)] if isinstance(accounts, list) else []
    elif action == "compute.instances.setServiceAccount":
        emails = [request.get("email")]
    else:
        return []
    instance = str(payload.get("resourceName") or "")
    if not _INSTANCE.match(instance):
        instance = instance_key(project, str(dig(record, "resource.labels.zone") or ""), str(request.get("name") or ""))
    found = []
    for email in emails:
        key, kind = member_key(email if isinstance(email, str) and "@" in email else "")
        if instance and key.startswith("serviceAccount:"):
            found.append({"instance": instance, "principal": key, "principal_type": kind})
    return found


def _workload_pool(payload: dict, action: str) -> object:
    """The GKE workload pool a cluster is created or updated with (steps.first_party)."""
    request = payload.get("request") if isinstance(payload.get("request"), dict) else {}
    if action.endswith("ClusterManager.CreateCluster"):
        return dig(request, "cluster.workloadIdentityConfig.workloadPool")
    if action.endswith("ClusterManager.UpdateCluster"):
        return dig(request, "update.desiredWorkloadIdentityConfig.workloadPool")
    return None


def parse(record: dict, reference) -> list[dict]:
    payload = _payload(record)
    method = payload.get("methodName")
    if not isinstance(method, str) or not method:
        raise ParseError("protoPayload.methodName", "missing or not a string")
    service = payload.get("serviceName") or ""
    if not isinstance(service, str):
        raise ParseError("protoPayload.serviceName", f"expected a string, got {type_name(service)}")
    project = project_of(record, payload)
    if not project:
        raise ParseError("resource.labels.project_id", "no project here, in logName or in resourceName")
    auth = payload.get("authenticationInfo") if isinstance(payload.get("authenticationInfo"), dict) else {}
    principal, principal_type, name = resolve_principal(auth, service)
    caller = delegator(auth)
    event_id = entry_field(record, "insertId") or "gcp-audit-" + hashlib.sha1(
        json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:24]
    action = _API_VERSION.sub("", method, count=1)
    event = {
        "id": str(event_id), "ts": _timestamp(record, payload), "cloud": CLOUD, "source": "gcp_audit",
        "kind": KIND_API, "account": project, "region": _region(record, payload),
        "service": service, "action": action, "success": _succeeded(payload),
        "principal": principal, "principal_type": principal_type, "principal_name": name, "principal_arn": "",
        "session": session_key(caller, principal) if caller and principal.startswith("serviceAccount:") else "",
        "src_ip": _caller_ip(payload),
        "user_agent": str(dig(payload, "requestMetadata.callerSuppliedUserAgent") or "")[:200],
    }
    if service == "storage.googleapis.com" and action in OBJECT_READS:
        event["kind"] = KIND_OBJECT
        event["object"] = _object(record, payload)
    if (service == "iamcredentials.googleapis.com" and action.rsplit(".", 1)[-1] in IMPERSONATION_METHODS
            and event["success"]):
        target = _impersonated(record, payload)
        if target and target != principal:
            home, how = home_of(principal, principal_type)
            event["assume"] = {"role": target, "session": session_key(principal, target), "session_arn": "",
                               "session_name": name or principal, "caller": principal,
                               "caller_type": principal_type, "caller_account": home, "method": how,
                               "external_id_used": False}
    if service == "container.googleapis.com" and event["success"]:
        pool = _workload_pool(payload, action)
        if pool and gke_pool_project(pool) == project:      # the cluster's own project's pool
            event["first_party"] = {"provider": project, "how": f"GKE {action.rsplit('.', 1)[-1]} ({pool})"}
    mark_evidence(event, record, reference)
    events = [event]
    rule = reference.creation_rule("gcp", service, action)
    if rule and event["success"]:
        for identity, kind in _created(record, rule, project):
            if identity != principal:  # a credential for oneself does not make one new
                created = {"identity": identity, "identity_type": kind, "signal": rule.signal,
                           "name": identity.partition(":")[2]}
                extra = dict(event, session="", created=created)
                for field in ("assume", "first_party", "evidence"):      # the call's, not the creation's
                    extra.pop(field, None)
                events.append(extra)
    if event["success"]:
        events += [dict(event, id=f"{event['id']}/binding/{n}", kind=KIND_BINDING, binding=b)
                   for n, b in enumerate(_bindings(record, payload, action, project))]
    return events
