"""Duplicate delivery: the same event twice (Kafka is at-least-once; CloudTrail itself delivers
some events more than once, with the same eventID) must count once, or a burst of two calls
reads as three and a spike or a transfer grows by a copy.

Each identity remembers the ids of its events within the longest step window (spike, burst,
exfiltration): a copy further apart than that can no longer land in the same window as its
original, so it cannot inflate a count. Flow records have no id of their own; theirs is a hash
of the record, so a re-delivered line is the same event and two different flows are not.
"""
from __future__ import annotations

_MIN_PRUNE = 64


def is_duplicate(state: dict, event: dict, horizon_ms: int) -> bool:
    """True if the identity has seen this event (by id) within `horizon_ms`; remembers it if not."""
    seen = state.setdefault("seen", {})
    if event["id"] in seen:
        return True
    seen[event["id"]] = event["ts"]
    if len(seen) > state.get("seen_prune_at", _MIN_PRUNE):     # amortised: prune when it has doubled
        floor = event["ts"] - horizon_ms
        state["seen"] = {i: t for i, t in seen.items() if t > floor}
        state["seen_prune_at"] = max(_MIN_PRUNE, 2 * len(state["seen"]))
    return False
