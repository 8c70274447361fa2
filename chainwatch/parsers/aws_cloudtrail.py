"""AWS CloudTrail events (S3 delivery, NDJSON, EventBridge) -> normalised events.

Identity resolution (why it matters for keying):
  * AN1328 keys by identity: a role session counts as its role, so the principal of an
    AssumedRole call is the role ARN from sessionContext.sessionIssuer (paths dropped:
    IAM names are unique per account, and CreateAccessKey names users without their path).
  * AN1348 keys by session: AssumeRole is logged with the outside caller as userIdentity and
    the new session in responseElements; later calls carry that session's access key id.
"""
from __future__ import annotations

import hashlib
import json
import re

from chainwatch.core.event import KIND_API, KIND_BINDING, KIND_OBJECT, MAX_LONG, ParseError, dig, event_time, type_name
from chainwatch.core.identity_keys import ARN, canonical_identity, eks_provider
from chainwatch.parsers.evidence import mark as mark_evidence

FORMAT = "cloudtrail"
CLOUD = "aws"     # its row in the provider table (core.providers)

OBJECT_READS = {"GetObject", "ListObjects", "ListObjectsV2", "HeadObject", "SelectObjectContent",
                "CopyObject", "GetObjectAttributes", "ListObjectVersions", "RestoreObject"}
ASSUME_METHODS = {"AssumeRole": "AssumeRole", "AssumeRoleWithSAML": "SAML",
                  "AssumeRoleWithWebIdentity": "WebIdentity"}
# Where an org's own EKS cluster shows its OIDC issuer (steps.first_party).
_ISSUER_FIELDS = {("iam.amazonaws.com", "CreateOpenIDConnectProvider"): "requestParameters.url",
                  ("eks.amazonaws.com", "CreateCluster"): "responseElements.cluster.identity.oidc.issuer"}
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


def recognises(record: dict) -> bool:
    return "eventName" in record and ("eventSource" in record or "eventVersion" in record)


def _text(container, dotted: str, prefix: str = "", *, numbers: bool = False) -> str:
    """The string at container[a][b] for 'a.b' ('' when absent or null; a number as its digits if
    `numbers`); any other type is a ParseError naming the field (prefix + dotted), not its value."""
    value = dig(container, dotted) if "." in dotted else container.get(dotted)
    if value is None or isinstance(value, str):
        return value or ""
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ParseError(prefix + dotted, f"expected a string, got {type_name(value)}")


def resolve_principal(identity: dict) -> tuple[str, str, str, str]:
    """(principal key, principal type, logged ARN, session key) of a CloudTrail userIdentity.
    The fields a key is made of must be strings (account ids may be numbers): ParseError otherwise."""
    field = lambda name, numbers=False: _text(identity, name, "userIdentity.", numbers=numbers)  # noqa: E731
    id_type, arn, key_id = field("type"), field("arn"), field("accessKeyId")
    if id_type == "AssumedRole":
        issuer = field("sessionContext.sessionIssuer.arn")
        principal, _ = canonical_identity(issuer or arn)
        return principal or arn, "role", arn, key_id or arn
    if id_type in ("IAMUser", "Root"):
        principal, kind = canonical_identity(arn)
        account, name = field("accountId", True), field("userName", True)
        if not principal and account and name:
            principal, kind = f"arn:aws:iam::{account}:user/{name}", "user"
        session = key_id if key_id.startswith("ASIA") else ""
        return principal or arn, kind or id_type.lower(), arn, session
    if id_type in ("SAMLUser", "WebIdentityUser"):
        provider = field("identityProvider")
        name = field("userName", True) or field("principalId", True)
        return f"{id_type}:{provider}:{name}", "federated", arn, ""
    if id_type == "FederatedUser":
        return arn or f"federated:{field('principalId', True)}", "federated", arn, key_id
    if id_type == "AWSService":
        return f"service:{field('invokedBy')}", "service", arn, ""
    if id_type == "AWSAccount":
        return f"account:{field('accountId', True)}:{field('principalId', True)}", "external", arn, ""
    principal, kind = canonical_identity(arn)
    if principal:
        return principal, kind, arn, key_id
    if field("invokedBy"):  # AwsServiceEvent: {accountId, invokedBy}
        return f"service:{field('invokedBy')}", "service", arn, ""
    raise ParseError("userIdentity", "cannot resolve a principal: no ARN, and the type is not one that names "
                                     "the caller otherwise")


def _timestamp(record: dict) -> int:
    return event_time([("eventTime", record.get("eventTime")), ("@timestamp", record.get("@timestamp"))])


def _first(record: dict, paths) -> str:
    for path in paths:
        value = dig(record, path)
        if isinstance(value, str) and value:
            return value
    return ""


def _bytes_out(record: dict) -> int:
    value = dig(record, "additionalEventData.bytesTransferredOut")
    try:
        number = int(float(value)) if value is not None else 0
    except (TypeError, ValueError, OverflowError):     # "Infinity" included
        return 0
    return number if 0 <= number <= MAX_LONG else 0


def _assume(record: dict, action: str, caller: str, caller_type: str) -> dict | None:
    """The session a successful AssumeRole* created, or None (failed or unknown shape)."""
    role_arn = _text(record, "requestParameters.roleArn")
    credentials_key = _text(record, "responseElements.credentials.accessKeyId")
    session_arn = _text(record, "responseElements.assumedRoleUser.arn")
    if not role_arn or not (credentials_key or session_arn):
        return None
    role, _ = canonical_identity(role_arn)
    if ASSUME_METHODS[action] == "AssumeRole":
        # Empty for AWS services assuming their own service roles: they are not outsiders.
        caller_account = _text(record, "userIdentity.accountId", numbers=True)
    else:
        # Federated entry: the "outside party" is the identity provider.
        caller_account = _text(record, "userIdentity.identityProvider") or _text(record, "requestParameters.principalArn")
    return {"role": role or role_arn, "session": credentials_key or session_arn, "session_arn": session_arn,
            "session_name": _text(record, "requestParameters.roleSessionName", numbers=True),
            "caller": caller, "caller_type": caller_type, "caller_account": caller_account,
            "method": ASSUME_METHODS[action],
            "external_id_used": bool(dig(record, "requestParameters.externalId"))}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _bindings(base: dict, record: dict, action: str, principal: str, session_arn: str) -> list[dict]:
    """Workload bindings: which instance holds which role, which ENI/IP is which instance."""
    found = []
    session_name = session_arn.rsplit("/", 1)[-1] if "assumed-role/" in session_arn else ""
    if _INSTANCE_ID.match(session_name) and principal:
        found.append({"instance": session_name, "principal": principal})
    if action == "RunInstances":      # only what has the shape AWS writes binds: other items are ignored
        for item in _list(dig(record, "responseElements.instancesSet.items")):
            instance = item.get("instanceId") if isinstance(item, dict) else None
            if not instance or not isinstance(instance, str):
                continue
            if item.get("privateIpAddress") and isinstance(item["privateIpAddress"], str):
                found.append({"alias": f"ip:{base['account']}:{item['privateIpAddress']}", "instance": instance})
            for eni in _list(dig(item, "networkInterfaceSet.items")):
                if isinstance(eni, dict) and eni.get("networkInterfaceId") and isinstance(eni["networkInterfaceId"], str):
                    found.append({"alias": f"eni:{eni['networkInterfaceId']}", "instance": instance})
    return [dict(base, id=f"{base['id']}/binding/{n}", kind=KIND_BINDING, binding=b) for n, b in enumerate(found)]


def parse(record: dict, reference) -> list[dict]:
    action = record.get("eventName")
    if not isinstance(action, str) or not action:
        raise ParseError("eventName", "missing or not a string")
    service = record.get("eventSource") or ""
    if not isinstance(service, str):
        raise ParseError("eventSource", f"expected a string, got {type_name(service)}")
    identity = record.get("userIdentity")
    if not isinstance(identity, dict):
        raise ParseError("userIdentity", "missing or not an object")
    # Some shippers drop eventID; a content hash is still a stable id a finding can cite.
    event_id = _text(record, "eventID", numbers=True) or "cloudtrail-" + hashlib.sha1(
        json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:24]
    principal, principal_type, principal_arn, session = resolve_principal(identity)
    account = _text(record, "recipientAccountId", numbers=True) or _text(identity, "accountId", "userIdentity.",
                                                                          numbers=True)
    event = {
        "id": event_id, "ts": _timestamp(record), "cloud": CLOUD, "source": "cloudtrail", "kind": KIND_API,
        "account": account, "region": _text(record, "awsRegion"),
        "service": service, "action": action, "success": not record.get("errorCode"),
        "principal": principal, "principal_type": principal_type, "principal_arn": principal_arn,
        "session": session, "src_ip": _text(record, "sourceIPAddress"),
        "user_agent": str(record.get("userAgent") or "")[:200],
    }
    if service == "s3.amazonaws.com" and action in OBJECT_READS:
        event["kind"] = KIND_OBJECT
        params = record.get("requestParameters") if isinstance(record.get("requestParameters"), dict) else {}
        event["object"] = {"bucket": _text(params, "bucketName", "requestParameters.", numbers=True),
                           "key": _text(params, "key", "requestParameters.", numbers=True),
                           "bytes_out": _bytes_out(record)}
    rule = reference.creation_rule("aws", service, action)
    if rule and event["success"]:
        name = _first(record, rule.name_from)
        if name:
            match = ARN.match(principal_arn or "")
            partition = match["partition"] if match else "aws"  # aws-us-gov, aws-cn keep theirs
            event["created"] = {"identity": f"arn:{partition}:iam::{account}:{rule.identity_type}/{name.rsplit('/', 1)[-1]}",
                                "identity_type": rule.identity_type, "signal": rule.signal}
    if action in ASSUME_METHODS and event["success"]:
        assume = _assume(record, action, principal, principal_type)
        if assume:
            event["assume"] = assume
    if (service, action) in _ISSUER_FIELDS and event["success"]:
        match = ARN.match(principal_arn or "")
        provider = eks_provider(account, dig(record, _ISSUER_FIELDS[service, action]),
                                match["partition"] if match else "aws")
        if provider:
            event["first_party"] = {"provider": provider, "how": f"{service.split('.')[0]}:{action}"}
    mark_evidence(event, record, reference)
    return [event] + _bindings(event, record, action, principal, principal_arn)
