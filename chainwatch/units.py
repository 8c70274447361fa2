"""Durations, byte sizes and timestamps as people write them in config and logs."""
from __future__ import annotations

import re
from datetime import datetime, timezone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$")
_SIZE_B = {None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
           "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


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


def format_timestamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_duration(ms: int) -> str:
    for unit in ("w", "d", "h", "m", "s"):
        if ms % _DURATION_MS[unit] == 0 and ms >= _DURATION_MS[unit]:
            return f"{ms // _DURATION_MS[unit]}{unit}"
    return f"{ms}ms"
