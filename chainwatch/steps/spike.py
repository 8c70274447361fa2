"""Object-access spike: sliding count and bytes of object reads/listings per identity.

Threshold = max(floor, multiplier x baseline). The baseline is the identity's own mean reads per
active window once it has `min_history_windows` of them, else its peer group's (principal type)
configured baseline. One step row per crossing; re-armed when a full window passes below it.
"""
from __future__ import annotations

from chainwatch.steps import OBJECT_ACCESS_SPIKE

_MAX_BUCKET_NAMES = 50


def _baseline(spike: dict, peer_baseline: float, min_windows: int) -> tuple[float, str]:
    if spike["windows"] >= min_windows:
        return spike["total"] / spike["windows"], "own"
    return peer_baseline, "peer_group"


def _roll(spike: dict, ts: int, window_ms: int) -> None:
    """Close tumbling windows for the baseline; keep the sliding window's reads."""
    slot = ts // window_ms
    if spike["slot"] is not None and slot != spike["slot"]:
        spike["windows"] += 1
        spike["total"] += spike["slot_count"]
        spike["slot_count"] = 0
    spike["slot"] = slot
    spike["reads"] = [r for r in spike["reads"] if r[0] > ts - window_ms]


def observe(state: dict, event: dict, window_ms: int, floor: int, multiplier: float, min_windows: int,
            peer_baseline: float, max_ids: int) -> dict | None:
    spike = state.setdefault("spike", {"reads": [], "slot": None, "slot_count": 0, "windows": 0,
                                       "total": 0, "armed_after": 0})
    ts = event["ts"]
    obj = event["object"]
    _roll(spike, ts, window_ms)
    baseline, basis = _baseline(spike, peer_baseline, min_windows)
    spike["slot_count"] += 1
    spike["reads"].append((ts, obj["bytes_out"], obj["bucket"], event["id"], event["action"]))
    count = len(spike["reads"])
    threshold = max(floor, multiplier * baseline)
    if count < threshold or ts < spike["armed_after"]:
        return None
    spike["armed_after"] = ts + window_ms
    reads = spike["reads"]
    buckets = sorted({r[2] for r in reads if r[2]})
    return {
        "step": OBJECT_ACCESS_SPIKE, "ts": ts, "first_ts": reads[0][0], "last_ts": ts,
        "reads": count, "bytes": sum(r[1] for r in reads), "buckets": buckets[:_MAX_BUCKET_NAMES],
        "bucket_count": len(buckets), "actions": sorted({r[4] for r in reads}),
        "threshold": threshold, "floor": floor, "baseline": round(baseline, 2), "baseline_basis": basis,
        "window_ms": window_ms, "event_ids": [r[3] for r in reads][:max_ids],
        "event_times": [r[0] for r in reads][:max_ids], "event_ids_truncated": count > max_ids,
    }
