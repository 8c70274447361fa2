"""Raw records -> enriched normalised events, or dead letters. Pure Python, no Flink.

Used by the Flink operators of every source (files now, Kafka later): one place decides what
a record becomes, so replay and streaming agree.
"""
from __future__ import annotations

import os

from chainwatch.core.dead_letters import SURROGATE, dead_letter
from chainwatch.core.event import MAX_LONG, ParseError, TimeBounds, reset_time_bounds, set_time_bounds, type_name
from chainwatch.enrich.geoip import GeoIP
from chainwatch.enrich.netclass import NetworkClassifier
from chainwatch.parsers import parse_record

MAX_FIELD_CHARS = 8192      # longer than any ARN, resource name or object key: a value past it is junk
# Fields a finding repeats for every event it cites (up to job.max_event_ids_per_step per step, 200
# privileged calls, 50 buckets): their own, tighter limits, each well past any real value (event
# ids are GUIDs or short hashes; operation names and bucket names have documented maxima), so that
# a finding stays far below the 2 MB a replay can collect and the 1 MB of a default Kafka message.
# With 8192 each, 500 reads with 8000-character event ids made a 3.7 MB finding.
SHORT_FIELDS = (("id", None, 256), ("src_ip", None, 256), ("action", None, 512), ("service", None, 512),
                ("object", "bucket", 512))
# The event fields that must be strings where present (core/event.py): keys, key parts and what is
# compared with them. An object or a number there would reach a keyed operator or a Java row.
_TEXT_FIELDS = ("id", "cloud", "source", "kind", "account", "region", "service", "action", "principal",
                "principal_type", "principal_arn", "session", "src_ip")
_NESTED_TEXT_FIELDS = (("object", ("bucket", "key")), ("created", ("identity", "identity_type", "signal")),
                       ("assume", ("role", "session", "session_arn", "session_name", "caller", "caller_account")),
                       ("flow", ("src", "dst", "action", "status", "direction", "instance", "eni")),
                       ("binding", ("alias", "instance", "principal")))
_TEXT = frozenset(_TEXT_FIELDS)
_LIMITS = {key: limit for key, inner, limit in SHORT_FIELDS if inner is None}
_SHORTEST = min(limit for _key, _inner, limit in SHORT_FIELDS)
_NESTED_TEXT = {name: frozenset(inner) for name, inner in _NESTED_TEXT_FIELDS}
_MIN_LONG = -MAX_LONG - 1
_UNICODE_PROBLEM = "not valid Unicode (an invalid UTF-8 byte or a lone \\uD800-\\uDFFF surrogate)"


def _value_problem(value) -> tuple[str, str] | None:
    """(dead-letter kind, problem) of one value, or None."""
    kind = type(value)
    if kind is str:
        if len(value) > MAX_FIELD_CHARS:
            return "too_long", f"longer than {MAX_FIELD_CHARS} characters"
        if not value.isascii() and SURROGATE.search(value):
            return "invalid_unicode", _UNICODE_PROBLEM
    elif kind is int:
        if not _MIN_LONG <= value <= MAX_LONG:
            return "invalid_field", "a number beyond a Java long"
    elif kind is not bool:
        return "invalid_field", f"{type_name(value)} ({kind.__name__}), which the event model does not have"
    return None


def _named_problem(event: dict) -> tuple[str, str] | None:
    for key, value in event.items():
        if type(value) is dict:
            for inner, item in value.items():
                problem = _value_problem(item)
                if problem:
                    return problem[0], f"{key}.{inner}: {problem[1]}"
        else:
            problem = _value_problem(value)
            if problem:
                return problem[0], f"{key}: {problem[1]}"
    return _short_field_problem(event) or _shape_problem(event)


def event_problem(event: dict) -> tuple[str, str] | None:
    """(dead-letter kind, problem): what in an event would break the job after the normaliser,
    naming the event field: a lone surrogate (pemja cannot hand it to Java), a string past
    MAX_FIELD_CHARS or a SHORT_FIELDS limit (a finding past the sinks' record limits), or a value
    of a type the event model does not have (a parser's slip: an object where a key belongs would
    reach a keyed operator or a Java row). The model: strings, integers within a Java long (parsers bound them where they
    read them: core.event.integer, epoch_time) and booleans, at the top level or one object down;
    _TEXT_FIELDS and _NESTED_TEXT_FIELDS are strings.

    The common case costs one pass over the fields: all ASCII strings, and short altogether."""
    total = 0
    for key, value in event.items():
        kind = type(value)
        if kind is str:
            size = len(value)
            if not value.isascii() or key in _NESTED_TEXT or (size > _SHORTEST and size > _LIMITS.get(key, size)):
                return _named_problem(event)
            total += size
        elif kind is dict:
            if key in _TEXT:
                return _named_problem(event)
            text = _NESTED_TEXT.get(key, ())
            for name, item in value.items():
                inner = type(item)
                if inner is str:
                    if not item.isascii() or (len(item) > _SHORTEST and name in text):
                        return _named_problem(event)
                    total += len(item)
                elif name in text or (inner is not int and inner is not bool) or \
                        (inner is int and not _MIN_LONG <= item <= MAX_LONG):
                    return _named_problem(event)
        elif key in _TEXT or (kind is not int and kind is not bool) or (kind is int and not _MIN_LONG <= value <= MAX_LONG):
            return _named_problem(event)
    if total > MAX_FIELD_CHARS or type(event.get("ts")) is not int:
        return _named_problem(event)
    return None


def _shape_problem(event: dict) -> tuple[str, str] | None:
    """A field of the model holding another type than the model gives it (a parser's slip)."""
    if type(event.get("ts")) is not int:
        kind, problem = _value_problem(event.get("ts")) or ("invalid_field", "not an integer")
        return kind, "ts: " + problem
    for name in _TEXT_FIELDS:
        value = event.get(name, "")
        if type(value) is not str:
            return "invalid_field", f"{name}: {type_name(value)} where the event model has a string"
    for name, inner_names in _NESTED_TEXT_FIELDS:
        inner = event.get(name)
        if inner is None:
            continue
        if type(inner) is not dict:
            return "invalid_field", f"{name}: {type_name(inner)} where the event model has an object"
        for inner_name in inner_names:
            value = inner.get(inner_name, "")
            if type(value) is not str:
                return "invalid_field", f"{name}.{inner_name}: {type_name(value)} where the event model has a string"
    return None


def _short_field_problem(event: dict) -> tuple[str, str] | None:
    for key, inner, limit in SHORT_FIELDS:
        value = event.get(key)
        if inner is not None:
            value = value.get(inner) if type(value) is dict else None
        if type(value) is str and len(value) > limit:
            return "too_long", f"{key}{'.' + inner if inner else ''}: longer than {limit} characters"
    return None


def _where(exc: BaseException) -> str:
    """file:line where a parser failed (never the exception's message, which can quote a value)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}" if tb is not None else ""


class Normaliser:
    """Raw records -> enriched events, or a dead letter; never raises on input.

    What it lets through is safe for the Flink operators after it: event times within
    `time.earliest_event` and `time.max_ahead` (TimeBounds), valid Unicode (a record holding a
    lone surrogate in a field the event uses is dead-lettered, never altered: the same record
    always gives the same result; sources.files dead-letters records with one anywhere),
    strings of at most MAX_FIELD_CHARS (SHORT_FIELDS: less), integers within a Java long, no
    value of a type the event model does not have (event_problem)."""

    def __init__(self, config, clock=None):
        self.reference = config.reference
        self.classifier = NetworkClassifier(config.networks.org_cidrs, config.networks.egress_allowlist)
        self.geoip = GeoIP(config.geoip.city_db, config.geoip.asn_db)
        times = config.time
        self.time_bounds = TimeBounds(times.earliest_event_ms, times.max_ahead_ms,
                                      **({"clock": clock} if clock else {}))

    def normalise(self, ref: str, payload, framing: str, source_format: str = "auto"):
        """(events, dead_letter or None) for one raw record. Never raises on bad input."""
        token = set_time_bounds(self.time_bounds)
        try:
            events = parse_record(payload, framing, self.reference, source_format)
        except ParseError as exc:
            return [], dead_letter(ref, exc.kind, str(exc), payload)
        except RecursionError:
            return [], dead_letter(ref, "malformed", "nested too deeply to read", payload)
        except Exception as exc:  # a parser bug must not stop the job or lose the record
            return [], dead_letter(ref, "parser_error", f"parser error {type(exc).__name__}{_where(exc)}", payload)
        finally:
            reset_time_bounds(token)
        for event in events:
            problem = event_problem(event)
            if problem:
                return [], dead_letter(ref, *problem, payload)
        for event in events:
            event["raw_ref"] = ref
            self._enrich(event)
        return events, None

    def _enrich(self, event: dict) -> None:
        if event["kind"] == "flow":
            flow = event["flow"]
            event["egress"] = (flow["action"] != "REJECT" and flow["bytes"] > 0 and flow["direction"] != "ingress"
                               and not self.classifier.is_external(flow["src"])
                               and self.classifier.is_external(flow["dst"]))
            if event["egress"]:
                event["geo"] = self.geoip.lookup(flow["dst"])
        elif event["kind"] != "binding" and self.classifier.is_external(event.get("src_ip", "")):
            event["external_src"] = True
            event["geo"] = self.geoip.lookup(event["src_ip"])
