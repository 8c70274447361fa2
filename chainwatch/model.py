"""The one normalised event model every parser returns.

Events are plain dicts (cheap to pickle between Flink's Python operators). Keys:

  id          raw id of the source record (CloudTrail eventID; a content hash for flows)
  ts          event time, epoch milliseconds UTC
  cloud       'aws' | 'gcp' | 'azure'
  source      the log family: 'cloudtrail', 'vpcflow', 'gcp_audit', 'gcp_vpcflow', 'azure_activity', ...
  kind        'api' | 'object_access' | 'flow' | 'binding'
  account     account / project / subscription the event happened in
  region
  service, action        e.g. 's3.amazonaws.com', 'GetObject'
  success     False when the call failed (errorCode)
  principal   identity key, one canonical form per cloud (see PRINCIPAL KEYS below)
  principal_type         'user' | 'role' | 'service_account' | 'service_principal' | 'managed_identity'
                         | 'application' | 'root' | 'federated' | 'service' | 'external' | 'group' | ''
  principal_name         optional display name (UPN, app name); the key stays the identifier
  principal_arn          the ARN as logged (a session ARN for role sessions)
  session     session key: temporary access key id (ASIA...) or the session ARN; '' if none
  src_ip      caller / workload address
  object      {'bucket', 'key', 'bytes_out'} for object access
  created     {'identity', 'identity_type', 'signal'} when the call creates an identity
  assume      {'role', 'session', 'session_arn', 'session_name', 'caller', 'caller_account', 'method'}
  flow        {'src', 'dst', 'dst_port', 'protocol', 'bytes', 'packets', 'action', 'status',
               'direction', 'instance', 'eni'}
  binding     {'alias', 'instance', 'principal'}: a workload alias (ENI, private IP) or an
              instance bound to what holds its credentials
  geo         {'ip', 'asn', 'as_org', 'country', 'city'} of the external party, when known
  raw_ref     where the record came from (file and record number) for the dead-letter output

PRINCIPAL KEYS (the same identity must get the same key from every log family of its cloud):
  aws    IAM user / role ARN, path dropped: arn:aws:iam::123456789012:role/Name
  gcp    IAM member syntax: serviceAccount:sa@project.iam.gserviceaccount.com, user:alice@example.com
  azure  azure:<Entra object id, lower-case GUID> (object ids are unique across tenants)
"""
from __future__ import annotations

from chainwatch.units import parse_timestamp_ms

KIND_API = "api"
KIND_OBJECT = "object_access"
KIND_FLOW = "flow"
KIND_BINDING = "binding"


class ParseError(Exception):
    """A record that cannot be normalised: names the field and the problem."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}" if field else problem)


def event_time(candidates) -> int:
    """Epoch ms from the first present (field, value) candidate; ParseError names the field.

    Parsers list their time fields in order of preference (e.g. eventTime, then @timestamp)."""
    candidates = list(candidates)
    for field, value in candidates:
        if not value:   # absent or empty: try the next field
            continue
        if not isinstance(value, str):
            raise ParseError(field, f"expected a timestamp string, got {value!r}")
        try:
            return parse_timestamp_ms(value)
        except ValueError:
            raise ParseError(field, f"not an ISO-8601 timestamp: {value!r}") from None
    others = [field for field, _ in candidates[1:]]
    raise ParseError(candidates[0][0], "missing" + (f" (no {', '.join(others)} either)" if others else ""))


def dig(record, dotted: str):
    """record['a']['b'] for 'a.b', None when any part is missing or not a mapping."""
    value = record
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


# Identity types AN1328's novelty step applies to: things an attacker can create and then use.
NOVELTY_TYPES = frozenset({"user", "role", "service_account", "service_principal", "managed_identity",
                           "application"})


def principal_type_of(key: str) -> str:
    """The identity type a principal key implies, '' when the key alone does not say."""
    if key.startswith("arn:"):
        if ":role/" in key:
            return "role"
        if ":user/" in key:
            return "user"
        return "root" if key.endswith(":root") else ""
    if key.startswith("serviceAccount:"):
        return "service_account"
    if key.startswith("user:"):
        return "user"
    return ""
