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

import math
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable

from chainwatch.core.errors import ChainwatchError
from chainwatch.core.units import MAX_TIMESTAMP_MS, format_duration, format_timestamp, parse_event_time_ms

KIND_API = "api"
KIND_OBJECT = "object_access"
KIND_FLOW = "flow"
KIND_BINDING = "binding"


class ParseError(ChainwatchError):
    """A record that cannot be normalised: names the field and the problem; `kind` is the dead
    letter's (core.dead_letters.KINDS): a field missing or wrong unless the raiser says otherwise."""

    def __init__(self, field: str, problem: str, kind: str = "invalid_field"):
        self.field, self.problem, self.kind = field, problem, kind
        super().__init__(f"{field}: {problem}" if field else problem)


# Dead letters: `raw` holds at most MAX_RAW_CHARS characters of the record, or the base64 of at
# most MAX_RAW_BYTES bytes (the same 100,000 characters) where the record is not text; `reason`
# at most MAX_REASON_CHARS. A reason names fields and problems, never a field's value.
MAX_RAW_CHARS = 100_000
MAX_RAW_BYTES = 75_000
MAX_REASON_CHARS = 500
MAX_LONG = 2**63 - 1          # what Flink's BIGINT (a Java long) holds

EARLIEST_EVENT_MS = 946_684_800_000   # 2000-01-01T00:00:00Z: no cloud audit log is older
DEFAULT_MAX_AHEAD_MS = 86_400_000     # 1 day after the wall clock: more is a broken clock or a forgery


@dataclass(frozen=True)
class TimeBounds:
    """The event times a record may carry (config `time.earliest_event`, `time.max_ahead`).

    An event time outside them is a dead letter naming the field: one record dated 1970 or
    9999 must not end a learning period or move event time for everything else."""
    earliest_ms: int = EARLIEST_EVENT_MS
    max_ahead_ms: int = DEFAULT_MAX_AHEAD_MS
    clock: Callable[[], float] = time.time     # seconds, as time.time

    def check(self, field: str, ms: int) -> int:
        if ms < self.earliest_ms:
            raise ParseError(field, f"before {format_timestamp(self.earliest_ms)} (time.earliest_event)", "event_time")
        if ms > min(int(self.clock() * 1000) + self.max_ahead_ms, MAX_TIMESTAMP_MS):
            raise ParseError(field, f"more than {format_duration(self.max_ahead_ms)} after the current time "
                                    "(time.max_ahead)", "event_time")
        return ms


# The bounds in force: the Normaliser sets the configured ones around each record it parses, so
# every parser checks its times where it reads them and names its own field.
_TIME_BOUNDS: ContextVar[TimeBounds] = ContextVar("chainwatch_time_bounds", default=TimeBounds())


def set_time_bounds(bounds: TimeBounds):
    """Make `bounds` the ones event_time / epoch_time check; returns a token for reset_time_bounds."""
    return _TIME_BOUNDS.set(bounds)


def reset_time_bounds(token) -> None:
    _TIME_BOUNDS.reset(token)


def type_name(value) -> str:
    """What a JSON value is, for a reason that must not quote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, (list, tuple)) else "an object" if isinstance(value, dict) else \
        type(value).__name__


def event_time(candidates) -> int:
    """Epoch ms from the first present (field, value) candidate; ParseError names the field.

    Parsers list their time fields in order of preference (e.g. eventTime, then @timestamp). The
    value must be a date with a time of day (not a bare date, an ISO week, year 0) within the
    TimeBounds in force."""
    candidates = list(candidates)
    for field, value in candidates:
        if not value:   # absent or empty: try the next field
            continue
        if not isinstance(value, str):
            raise ParseError(field, f"expected a timestamp string, got {type_name(value)}")
        try:
            ms = parse_event_time_ms(value)
        except ValueError as exc:
            raise ParseError(field, str(exc)) from None
        return _TIME_BOUNDS.get().check(field, ms)
    others = [field for field, _ in candidates[1:]]
    raise ParseError(candidates[0][0], "missing" + (f" (no {', '.join(others)} either)" if others else ""))


def epoch_time(field: str, number: int) -> int:
    """Epoch ms from a flow log's epoch seconds (or milliseconds, from 10**11 on), within the
    TimeBounds in force: start=99999999999999999999 is a dead letter, not a time past a Java long."""
    return _TIME_BOUNDS.get().check(field, number * 1000 if number < 10**11 else number)


def integer(field: str, value, minimum: int = 0, maximum: int = MAX_LONG) -> int:
    """A count, port or epoch from a log (an int, an integral float, or ASCII digits as text)
    within [minimum, maximum]; ParseError names the field, never the value."""
    if isinstance(value, bool):
        raise ParseError(field, "expected an integer, got a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParseError(field, "expected an integer, got an infinite or NaN number")
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if not (0 < len(digits) <= 20 and digits.isascii() and digits.isdigit()):
            raise ParseError(field, "expected an integer" + (" of at most 20 digits" if len(digits) > 20 else ""))
        number = int(text)
    else:
        raise ParseError(field, f"expected an integer, got {type_name(value)}")
    if not minimum <= number <= maximum:
        raise ParseError(field, f"out of range (expected {minimum} to {maximum})")
    return number


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
