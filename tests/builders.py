"""Builders for real-shaped CloudTrail records and VPC flow-log lines used by the scenarios.

Only the fields CloudTrail always carries and the ones chainwatch reads; values follow AWS's
formats (ARNs, ASIA/AKIA keys, instance ids) so the real parsers see what AWS would send.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
FLOW_HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
               "start end action log-status instance-id flow-direction")


def at(days=0, hours=0, minutes=0, seconds=0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def event_id(seed: str) -> str:
    h = _hex(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def user(account: str, name: str, key: str | None = None) -> dict:
    return {"type": "IAMUser", "principalId": "AIDA" + _hex(name, 16).upper(),
            "arn": f"arn:aws:iam::{account}:user/{name}", "accountId": account,
            "accessKeyId": key or "AKIA" + _hex(account + name, 16).upper(), "userName": name}


def role_session(account: str, role: str, session_name: str, key: str) -> dict:
    return {"type": "AssumedRole", "principalId": f"AROA{_hex(role, 16).upper()}:{session_name}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session_name}", "accountId": account,
            "accessKeyId": key,
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROA" + _hex(role, 16).upper(),
                                                 "arn": f"arn:aws:iam::{account}:role/{role}",
                                                 "accountId": account, "userName": role},
                               "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"}}}


def session_key(seed: str) -> str:
    return "ASIA" + _hex(seed, 16).upper()


def call(when: datetime, identity: dict, source: str, name: str, src_ip: str, *, seed: str,
         params: dict | None = None, response: dict | None = None, extra: dict | None = None,
         account: str | None = None) -> dict:
    record = {
        "eventVersion": "1.09", "userIdentity": identity, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source, "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": src_ip,
        "userAgent": "aws-cli/2.15.0", "requestParameters": params, "responseElements": response,
        "requestID": _hex("req" + seed, 32), "eventID": event_id(seed), "readOnly": False,
        "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": account or identity.get("accountId"), "eventCategory": "Management",
    }
    record.update(extra or {})
    return record


def get_object(when, identity, bucket, key, nbytes, src_ip, *, seed) -> dict:
    return call(when, identity, "s3.amazonaws.com", "GetObject", src_ip, seed=seed,
                params={"bucketName": bucket, "key": key, "Host": f"{bucket}.s3.amazonaws.com"},
                extra={"additionalEventData": {"bytesTransferredOut": nbytes, "bytesTransferredIn": 0},
                       "readOnly": True, "managementEvent": False, "eventCategory": "Data",
                       "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"}]})


def create_role(when, creator, account, role, *, seed) -> dict:
    return call(when, creator, "iam.amazonaws.com", "CreateRole", "198.51.100.10", seed=seed,
                params={"roleName": role, "assumeRolePolicyDocument": "{}"},
                response={"role": {"roleName": role, "arn": f"arn:aws:iam::{account}:role/{role}",
                                   "roleId": "AROA" + _hex(role, 16).upper(), "path": "/",
                                   "createDate": when.strftime("%b %d, %Y %I:%M:%S %p")}})


def create_user(when, creator, account, name, *, seed) -> dict:
    return call(when, creator, "iam.amazonaws.com", "CreateUser", "198.51.100.10", seed=seed,
                params={"userName": name},
                response={"user": {"userName": name, "arn": f"arn:aws:iam::{account}:user/{name}",
                                   "userId": "AIDA" + _hex(name, 16).upper(), "path": "/"}})


def assume_role(when, caller: dict, role_arn: str, session_name: str, key: str, src_ip: str, *, seed) -> dict:
    role_account = role_arn.split(":")[4]
    role_name = role_arn.rsplit("/", 1)[-1]
    return call(when, caller, "sts.amazonaws.com", "AssumeRole", src_ip, seed=seed, account=role_account,
                params={"roleArn": role_arn, "roleSessionName": session_name, "durationSeconds": 3600},
                response={"credentials": {"accessKeyId": key, "expiration": "Oct 1, 2026, 1:00:00 AM",
                                          "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN"},
                          "assumedRoleUser": {"assumedRoleId": f"AROA{_hex(role_name, 16).upper()}:{session_name}",
                                              "arn": f"arn:aws:sts::{role_account}:assumed-role/{role_name}/{session_name}"}},
                extra={"resources": [{"ARN": role_arn, "accountId": role_account, "type": "AWS::IAM::Role"}],
                       "readOnly": True})


def assume_federated(when, method: str, provider: str, subject: str, role_arn: str, key: str, src_ip: str, *,
                     seed) -> dict:
    """AssumeRoleWithWebIdentity (provider: an OIDC provider ARN) or AssumeRoleWithSAML (a SAML
    provider ARN), as CloudTrail logs them: the identity provider vouches for `subject`."""
    role_account, role_name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
    web = method == "WebIdentity"
    identity = {"type": "WebIdentityUser" if web else "SAMLUser", "userName": subject,
                "principalId": f"{provider}:sts.amazonaws.com:{subject}" if web else f"{_hex(provider, 28)}:{subject}",
                "identityProvider": provider if web else _hex(provider, 28)}
    params = {"roleArn": role_arn, "roleSessionName": seed[:32], "durationSeconds": 3600}
    if not web:
        params["principalArn"] = provider
    return call(when, identity, "sts.amazonaws.com", "AssumeRoleWith" + ("WebIdentity" if web else "SAML"), src_ip,
                seed=seed, account=role_account, params=params,
                response={"credentials": {"accessKeyId": key, "expiration": "Oct 1, 2026, 1:00:00 AM",
                                          "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN"},
                          "subjectFromWebIdentityToken": subject,
                          "assumedRoleUser": {"assumedRoleId": f"AROA{_hex(role_name, 16).upper()}:{seed[:32]}",
                                              "arn": f"arn:aws:sts::{role_account}:assumed-role/{role_name}/{seed[:32]}"}},
                extra={"readOnly": True})


def flow_line(account, eni, src, dst, nbytes, start: datetime, *, instance="-", dport=443, direction="egress"):
    t = int(start.timestamp())
    return (f"5 {account} {eni} {src} {dst} 49152 {dport} 6 {max(1, nbytes // 1400)} {nbytes} {t} {t + 60} "
            f"ACCEPT OK {instance} {direction}")


def write_cloudtrail(path: Path, records: list[dict]) -> None:
    """As AWS delivers to S3: gzipped, one line, {"Records": [...]}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))


def write_flows(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([FLOW_HEADER] + lines) + "\n")


def minimal_cloudtrail(account: str = "111122223333", **overrides) -> dict:
    """The smallest CloudTrail record the parser accepts (an IAM user listing users), with
    `overrides` replacing top-level fields: the base of the hostile-record tests."""
    record = {"eventVersion": "1.09", "eventTime": "2026-11-01T10:00:00Z", "eventSource": "iam.amazonaws.com",
              "eventName": "ListUsers", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
              "eventID": "e-1", "recipientAccountId": account,
              "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/alice", "accountId": account}}
    record.update(overrides)
    return record
