"""Exfiltration to external addresses, attributed to an identity.

Evidence: flows from workloads holding the identity's credentials to external destinations,
and object downloads by the identity from an external source address. A step row is emitted
each time another `min_bytes` has left within `window` (so a long transfer keeps producing
evidence after a later spike, and the ordered chain can still complete).
"""
from __future__ import annotations

from chainwatch.core.wording import place, plural, size
from chainwatch.steps import EXTERNAL_EXFILTRATION

_MAX_DESTINATIONS = 20


def transfer_of(event: dict) -> tuple[int, dict] | None:
    """(bytes, destination) when the event moves data out to an external party."""
    if event["kind"] == "flow":
        return event["flow"]["bytes"], event.get("geo") or {"ip": event["flow"]["dst"]}
    if event["kind"] == "object_access" and event.get("external_src") and event["object"]["bytes_out"] > 0:
        return event["object"]["bytes_out"], event.get("geo") or {"ip": event["src_ip"]}
    return None


def observe(state: dict, event: dict, window_ms: int, min_bytes: int, max_ids: int) -> dict | None:
    transfer = transfer_of(event)
    if transfer is None:
        return None
    nbytes, destination = transfer
    egress = state.setdefault("egress", {"items": [], "last_emit": None})
    ts = event["ts"]
    egress["items"] = [i for i in egress["items"] if i[0] > ts - window_ms]
    egress["items"].append((ts, nbytes, destination, event["id"], event["kind"], event.get("flow", {}).get("instance", "")))
    # Only bytes inside the window and after the last step row count towards the next one.
    last = egress["last_emit"]
    if sum(i[1] for i in egress["items"] if last is None or i[0] > last) < min_bytes:
        return None
    egress["last_emit"] = ts
    items = egress["items"]
    by_ip: dict[str, dict] = {}
    for _ts, sent, dest, _id, _kind, _inst in items:
        entry = by_ip.setdefault(dest["ip"], dict(dest, bytes=0))
        entry["bytes"] += sent
    destinations = sorted(by_ip.values(), key=lambda d: -d["bytes"])[:_MAX_DESTINATIONS]
    return {
        "step": EXTERNAL_EXFILTRATION, "ts": ts, "first_ts": items[0][0], "last_ts": ts,
        "bytes": sum(i[1] for i in items), "transfers": len(items), "destinations": destinations,
        "channels": sorted({"network_flow" if i[4] == "flow" else "object_download" for i in items}),
        "workloads": sorted({i[5] for i in items if i[5]}),
        "min_bytes": min_bytes, "window_ms": window_ms,
        "event_ids": [i[3] for i in items][:max_ids], "event_times": [i[0] for i in items][:max_ids],
        "event_ids_truncated": len(items) > max_ids,
    }


def clause(ev: dict) -> str:
    """The narrative's words for this step, from its evidence."""
    destinations = ev.get("destinations", [])
    text = f"sent {size(ev.get('bytes', 0))} in {plural(ev.get('transfers', 0), 'transfer')} to "
    if len(destinations) == 1:
        return text + place(destinations[0])
    return text + plural(len(destinations), "external destination") + \
        (f", most to {place(destinations[0])}" if destinations else "")
