"""How findings write numbers, times, lists and places: shared by the narrative of every step
kind (each kind's `clause`, steps/*.py) and by `chainwatch explain`."""
from __future__ import annotations

from chainwatch.core.units import format_size as size, format_timestamp

__all__ = ["duration", "names", "place", "plural", "size", "when"]
LIST = 3        # names listed before "..."


def duration(ms: int) -> str:
    """12m 3s, 1h 5m, 2d 4h, 40s, 0s: the two largest units."""
    seconds = max(0, int(ms) // 1000)
    parts = []
    for unit, span in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= span or (unit == "s" and not parts):
            parts.append(f"{seconds // span}{unit}")
            seconds %= span
    return " ".join(parts[:2])


def when(ms) -> str:
    return format_timestamp(ms).replace("T", " ").replace(".000Z", "Z") if ms is not None else "at an unknown time"


def names(items, count: int | None = None) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:LIST])
    more = (count or len(items)) > LIST
    return shown + (", ..." if more else "")


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def place(geo: dict) -> str:
    """45.155.205.17 (XHOST-NET, AS208091, RU), leaving out what the GeoIP data did not know."""
    known = [geo.get("as_org"), f"AS{geo['asn']}" if geo.get("asn") else "", geo.get("country")]
    known = [k for k in known if k]
    return f"{geo.get('ip', '?')} ({', '.join(known)})" if known else str(geo.get("ip", "?"))
