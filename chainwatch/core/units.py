"""Durations, byte sizes and timestamps as people write them in config and logs."""
from __future__ import annotations

import re
from datetime import datetime, timezone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$")
_SIZE_B = {None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
           "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
# An event time as logs write it: a calendar date AND a time of day (RFC 3339 with the usual
# relaxations: space for T, no seconds, a comma, an offset without colon). Python's fromisoformat
# alone would also take a date without a time (midnight), ISO week dates and the basic format.
_EVENT_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?"
                         r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?")
EVENT_TIME_FORM = "a date and a time of day: YYYY-MM-DDThh:mm[:ss[.fff]], Z or an offset"
MAX_TIMESTAMP_MS = 253_402_300_799_999   # 9999-12-31T23:59:59.999Z: the last instant a datetime can show


def parse_duration_ms(value) -> int:
    """'10m' -> 600000. Raises ValueError with the accepted forms."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"expected a duration like '10m', '2h', '7d', got {value!r}")
    if isinstance(value, int):
        raise ValueError(f"a bare number is ambiguous; write a unit, e.g. '{value}s' or '{value}m'")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"expected a duration like '10m', '2h', '7d', got {value!r}")
    return int(float(match.group(1)) * _DURATION_MS[match.group(2)])


def parse_size_bytes(value) -> int:
    """'1GB' -> 10**9, 500 -> 500."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size like '100MB', got {value!r}")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"expected a size like '100MB' or '1GiB', got {value!r}")
    return int(float(match.group(1)) * _SIZE_B[match.group(2)])


def parse_timestamp_ms(value: str) -> int:
    """ISO-8601 (with Z, offset, fractional seconds, or space separator) -> epoch milliseconds UTC."""
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def parse_event_time_ms(value: str) -> int:
    """An event time (a date and a time of day, see _EVENT_TIME) -> epoch milliseconds UTC.
    Raises ValueError naming the accepted form, never quoting the value."""
    text = value.strip() if len(value) <= 64 else ""     # a megabyte "time" is not copied to find out
    if not _EVENT_TIME.fullmatch(text):
        raise ValueError(f"not an ISO-8601 timestamp ({EVENT_TIME_FORM})")
    try:
        return parse_timestamp_ms(text)
    except ValueError:      # e.g. month 13, year 0, hour 24
        raise ValueError("not an ISO-8601 timestamp (no such date or time of day)") from None


def format_timestamp(ms: int) -> str:
    """ISO-8601 UTC with milliseconds; an instant no calendar date can show (year 10000 and
    beyond, or before year 1) is written as epoch milliseconds, never an exception."""
    try:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
    except (OverflowError, ValueError, OSError, TypeError):
        return f"{ms} ms after 1970-01-01 (outside the calendar)"


def format_duration(ms: int) -> str:
    for unit in ("w", "d", "h", "m", "s"):
        if ms % _DURATION_MS[unit] == 0 and ms >= _DURATION_MS[unit]:
            return f"{ms // _DURATION_MS[unit]}{unit}"
    return f"{ms}ms"


def format_size(nbytes: int) -> str:
    """Bytes in decimal units, as a responder reads them: 200.0 MB."""
    value = float(nbytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{nbytes} B"
