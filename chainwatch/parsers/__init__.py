"""Raw records -> normalised events. One parser per log family, chosen from the content.

A parser module has FORMAT (the name a source may set in config as `format`), CLOUD (its row in
the provider table, core.providers), `recognises(record) -> bool` and `parse(record, reference)
-> list[event]`. The order of PARSERS matters only where two families could claim one record:
the more specific first. A new log source is its module and its place in PARSERS.
"""
from __future__ import annotations

import json

from chainwatch.core.event import ParseError
from chainwatch.parsers import (aws_cloudtrail, aws_vpc_flow, azure_activity, azure_entra, azure_flow,
                                azure_storage, gcp_audit, gcp_vpc_flow)

PARSERS = (aws_cloudtrail, aws_vpc_flow, gcp_audit, gcp_vpc_flow, azure_entra, azure_storage, azure_flow,
           azure_activity)
FORMATS = ("auto",) + tuple(parser.FORMAT for parser in PARSERS)

# Envelopes that shippers put around a record: EventBridge (detail), Panther and
# Logstash-style wrappers (log, message as a JSON string), Elastic exports (_source).
_ENVELOPES = ("detail", "log", "_source", "message")
# The dead-letter kind (core.dead_letters.KINDS) of each framing sources.files cannot accept.
_FRAMING_KINDS = {"text": "malformed", "unicode": "invalid_unicode", "error": "unreadable"}


def _key_name(key) -> str:
    name = str(key)
    name = name if len(name) <= 40 else name[:37] + "..."
    return "".join(c if c.isprintable() and not "\ud800" <= c <= "\udfff" else "?" for c in name)


def _recognised(record) -> bool:
    return any(parser.recognises(record) for parser in PARSERS)


def unwrap(record):
    for _ in range(3):
        if not isinstance(record, dict) or _recognised(record):
            return record
        for key in _ENVELOPES:
            inner = record.get(key)
            if isinstance(inner, str) and inner.lstrip().startswith("{"):
                try:
                    inner = json.loads(inner)
                except (ValueError, RecursionError):   # not JSON, nested too deeply, a 5000-digit number
                    continue
            if isinstance(inner, dict):
                record = inner
                break
        else:
            return record
    return record


def parse_record(payload, framing: str, reference, source_format: str = "auto") -> list[dict]:
    """Normalise one raw record; raises ParseError naming the field and the problem."""
    if framing == "flowtext":
        header, line = payload
        return aws_vpc_flow.parse_line(header, line)
    if framing in _FRAMING_KINDS:        # what framing could not accept (sources.files): its reason
        reason = payload[0] if isinstance(payload, tuple) else payload   # (reason, raw text or bytes)
        raise ParseError("", reason, _FRAMING_KINDS[framing])
    if not isinstance(payload, dict):
        raise ParseError("", f"expected a JSON object, got {type(payload).__name__}", "malformed")
    record = unwrap(payload)
    for parser in PARSERS:
        if source_format in ("auto", parser.FORMAT) and parser.recognises(record):
            return parser.parse(record, reference)
    # Key names, not values; each cut short (a key can be anything a sender writes).
    keys = ", ".join(_key_name(key) for key in sorted(record, key=str)[:8]) + (", ..." if len(record) > 8 else "")
    expected = "a known log family" if source_format == "auto" else f"format {source_format!r}"
    raise ParseError("", f"unrecognised record (not {expected}); top-level keys: {keys}", "unrecognised")
