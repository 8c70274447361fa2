"""Raw records -> normalised events. One parser per log family, chosen from the content."""
from __future__ import annotations

import json

from chainwatch.model import ParseError
from chainwatch.parsers import aws_cloudtrail, aws_vpc_flow

# Envelopes that shippers put around a record: EventBridge (detail), Panther and
# Logstash-style wrappers (log, message as a JSON string), Elastic exports (_source).
_ENVELOPES = ("detail", "log", "_source", "message")


def unwrap(record):
    for _ in range(3):
        if not isinstance(record, dict) or aws_cloudtrail.recognises(record) or aws_vpc_flow.recognises(record):
            return record
        for key in _ENVELOPES:
            inner = record.get(key)
            if isinstance(inner, str) and inner.lstrip().startswith("{"):
                try:
                    inner = json.loads(inner)
                except json.JSONDecodeError:
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
    if framing == "text":
        reason, _line = payload
        raise ParseError("", reason)
    if framing == "error":
        raise ParseError("", payload)
    if not isinstance(payload, dict):
        raise ParseError("", f"expected a JSON object, got {type(payload).__name__}")
    record = unwrap(payload)
    if source_format in ("auto", "cloudtrail") and aws_cloudtrail.recognises(record):
        return aws_cloudtrail.parse(record, reference)
    if source_format in ("auto", "vpcflow") and aws_vpc_flow.recognises(record):
        return aws_vpc_flow.parse_json(record)
    keys = ", ".join(sorted(record)[:8])
    raise ParseError("", f"unrecognised record (not CloudTrail, not a flow log); top-level keys: {keys}")
