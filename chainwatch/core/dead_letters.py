"""Dead letters: what the job could not read, or a sink could not deliver, kept with a typed reason.

A dead letter is {ref, kind, reason, raw, raw_truncated[, raw_encoding]}. `kind` (KINDS) says
what went wrong, as data a consumer routes and counts by; `reason` says it in words for a person,
naming fields and problems, never a field's value; `raw` holds at most MAX_RAW_CHARS characters
of the record, or the base64 of at most MAX_RAW_BYTES bytes where it is not text.
"""
from __future__ import annotations

import base64
import json
import re

from chainwatch.core.event import MAX_RAW_BYTES, MAX_RAW_CHARS, MAX_REASON_CHARS

# kind -> what it means. Also the label values of the `dead_lettered` metric (flink.metrics).
KINDS = {
    "unreadable": "a file or its bytes could not be read (damaged gzip, I/O error)",
    "malformed": "not JSON and not a flow-log line; broken JSON; nested too deeply",
    "unrecognised": "JSON, but no known log family (or not the source's format)",
    "invalid_field": "a known family, but a field is missing or wrong",
    "event_time": "the event time is outside time.earliest_event / time.max_ahead",
    "invalid_unicode": "a lone surrogate or an invalid byte where the job needs text",
    "too_long": "a field longer than the job carries",
    "parser_error": "a parser raised (a chainwatch bug; the record is kept)",
    "late": "arrived behind the event-time watermark (a notice: the event was still processed)",
    "undeliverable": "a finding a sink could not deliver",
}
SURROGATE = re.compile("[\ud800-\udfff]")


def bounded(reason: str) -> str:
    """A reason as a dead letter carries it: valid Unicode, at most MAX_REASON_CHARS characters."""
    reason = SURROGATE.sub("?", reason) if not reason.isascii() else reason
    return reason if len(reason) <= MAX_REASON_CHARS else reason[:MAX_REASON_CHARS - 3] + "..."


def _raw(payload) -> tuple[str, str | None, bool]:
    """(raw, encoding, truncated): text as it is, bytes (and text holding undecodable bytes) as
    base64 of the bytes, a decoded record as JSON (its lone surrogates as \\u escapes)."""
    if isinstance(payload, str) and not payload.isascii() and SURROGATE.search(payload):
        head = payload[:MAX_RAW_BYTES + 1]     # at least as many bytes as the cap, and one more
        try:
            payload = head.encode("utf-8", "surrogateescape")      # the bytes as read
        except UnicodeEncodeError:
            payload = head.encode("utf-8", "surrogatepass")
    if isinstance(payload, (bytes, bytearray)):
        head = bytes(payload[:MAX_RAW_BYTES])
        return base64.b64encode(head).decode("ascii"), "base64", len(payload) > MAX_RAW_BYTES
    if not isinstance(payload, str):
        try:
            payload = json.dumps(payload, default=str)
        except (RecursionError, ValueError):
            return "", None, True       # nested too deeply to write back: the reason says what it was
    return payload[:MAX_RAW_CHARS], None, len(payload) > MAX_RAW_CHARS


def dead_letter(ref: str, kind: str, reason: str, payload) -> dict:
    """{ref, kind, reason, raw, raw_truncated[, raw_encoding: base64]}: bounded, and valid Unicode.
    kind: one of KINDS, decided where the record failed, never read back from the reason."""
    if isinstance(payload, tuple):
        payload = payload[-1]
    raw, encoding, truncated = _raw(payload)
    assert kind in KINDS, kind
    letter = {"ref": ref, "kind": kind, "reason": bounded(reason), "raw": raw, "raw_truncated": truncated}
    if encoding:
        letter["raw_encoding"] = encoding
    return letter
