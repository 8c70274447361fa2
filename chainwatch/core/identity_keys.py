"""The keys every stage names identities and workloads by, whatever the log they came from.

Parsers make them from records; the asset inventory and the identity inventory make the same
keys from exports, and the first-party steps from providers, so one identity is one key.
"""
from __future__ import annotations

import re

ARN = re.compile(r"^arn:(?P<partition>[^:]*):(?P<service>[^:]*):[^:]*:(?P<account>\d*):(?P<resource>.+)$")
_BARE_GUID = re.compile(r"^[0-9a-f]{32}$", re.IGNORECASE)
_EKS_ISSUER = re.compile(r"^(?:https://)?(oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/id/[A-Za-z0-9]+)/?$")
_GKE_POOL = re.compile(r"^([a-z][a-z0-9-]{4,28}[a-z0-9])\.svc\.id\.goog$")


def canonical_identity(arn: str | None) -> tuple[str, str]:
    """(identity key, type) for a user/role/assumed-role/root ARN; ('', '') when not an IAM ARN."""
    match = ARN.match(arn) if isinstance(arn, str) else None
    if not match:
        return "", ""
    partition, account, resource = match["partition"], match["account"], match["resource"]
    kind, _, rest = resource.partition("/")
    if kind == "user":
        return f"arn:{partition}:iam::{account}:user/{rest.rsplit('/', 1)[-1]}", "user"
    if kind == "role":
        return f"arn:{partition}:iam::{account}:role/{rest.rsplit('/', 1)[-1]}", "role"
    if kind == "assumed-role":
        role = rest.split("/")[0]
        return f"arn:{partition}:iam::{account}:role/{role}", "role"
    if kind == "root" or resource == "root":
        return f"arn:{partition}:iam::{account}:root", "root"
    if kind == "federated-user":
        return arn, "federated"
    return "", ""


def _text(value) -> str:
    """A scalar as a stripped string; Azure's {value, localizedValue} objects give their value."""
    if isinstance(value, dict):
        value = value.get("value")
    return "" if value is None or isinstance(value, (dict, list)) else str(value).strip()


def object_id(value) -> str:
    """An Entra object id in its canonical form: lower-case, dashed (ARM's authorization evidence
    writes it as 32 bare hex digits)."""
    value = _text(value).lower()
    if _BARE_GUID.match(value):
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def principal_key(oid: str) -> str:
    oid = object_id(oid)
    return f"azure:{oid}" if oid else ""


def instance_key(project: str, zone: str, name: str) -> str:
    """A VM's resource name: projects/P/zones/Z/instances/NAME ('' when a part is missing)."""
    if not (project and zone and name):
        return ""
    return f"projects/{project}/zones/{zone}/instances/{name}"


def eks_provider(account: str, issuer: object, partition: str = "aws") -> str:
    """The IAM OIDC provider ARN of an EKS issuer URL in `account`, or '' for any other issuer."""
    match = _EKS_ISSUER.match(issuer) if isinstance(issuer, str) else None
    return f"arn:{partition}:iam::{account}:oidc-provider/{match[1]}" if match and account else ""


def gke_pool_project(pool: object) -> str:
    """The project of a GKE workload pool `PROJECT.svc.id.goog`, or ''."""
    match = _GKE_POOL.match(pool) if isinstance(pool, str) else None
    return match[1] if match else ""
