"""Object-access spike: sliding count and bytes of object reads/listings per identity.

Threshold = max(floor, multiplier x baseline). The baseline is the identity's own mean reads per
active window once it has `min_history_windows` of them, else its peer group's: learned from the
peers' own baselines (steps.peers), never below the configured `peer_baselines` value for its
type. One step row per crossing; re-armed when a full window passes below it.
"""
from __future__ import annotations

from chainwatch.core.wording import duration, names, plural, size
from chainwatch.steps import OBJECT_ACCESS_SPIKE

_MAX_BUCKET_NAMES = 50


def _baseline(spike: dict, peer_baseline: float, min_windows: int, peers, groups) -> tuple[float, str, dict]:
    if spike["windows"] >= min_windows:
        return spike["total"] / spike["windows"], "own", {}
    learned, group, n = peers.learned(groups) if peers is not None else (0.0, "", 0)
    if learned > peer_baseline:
        return learned, "peer_group_learned", {"peer_group": group, "peers": n}
    return peer_baseline, "peer_group", {}


def _roll(spike: dict, ts: int, window_ms: int) -> bool:
    """Close tumbling windows for the baseline; keep the sliding window's reads. True when one closed."""
    slot = ts // window_ms
    closed = spike["slot"] is not None and slot != spike["slot"]
    if closed:
        spike["windows"] += 1
        spike["total"] += spike["slot_count"]
        spike["slot_count"] = 0
    spike["slot"] = slot
    spike["reads"] = [r for r in spike["reads"] if r[0] > ts - window_ms]
    return closed


def observe(state: dict, event: dict, window_ms: int, floor: int, multiplier: float, min_windows: int,
            peer_baseline: float, max_ids: int, peers=None, identity: str = "", groups=()) -> dict | None:
    """peers (steps.peers.PeerBaselines): what the identity's groups learned, and what it teaches
    them once it has its own baseline."""
    spike = state.setdefault("spike", {"reads": [], "slot": None, "slot_count": 0, "windows": 0,
                                       "total": 0, "armed_after": 0})
    ts = event["ts"]
    obj = event["object"]
    if _roll(spike, ts, window_ms) and peers is not None and spike["windows"] >= min_windows:
        peers.update(groups, identity, spike["total"] / spike["windows"])
    baseline, basis, peer_group = _baseline(spike, peer_baseline, min_windows, peers, groups)
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
        "threshold": threshold, "floor": floor, "baseline": round(baseline, 2), "baseline_basis": basis, **peer_group,
        "window_ms": window_ms, "event_ids": [r[3] for r in reads][:max_ids],
        "event_times": [r[0] for r in reads][:max_ids], "event_ids_truncated": count > max_ids,
    }


def clause(ev: dict) -> str:
    """The narrative's words for this step, from its evidence."""
    reads, baseline = ev.get("reads", 0), ev.get("baseline") or 0
    span = duration(ev.get("last_ts", 0) - ev.get("first_ts", 0))
    buckets = ev.get("buckets", [])
    count = ev.get("bucket_count", len(buckets))
    where = f" from {plural(count, 'bucket')} ({names(buckets, count)})" if buckets else ""
    whose = "its own" if ev.get("baseline_basis") == "own" else "the peer group's"
    if ev.get("peer_group"):        # learned from its peers (steps.peers)
        whose = f"its {ev.get('peers', 0)} peers' ({ev['peer_group']}) learned"
    against = f"{reads / baseline:.0f}x {whose} baseline of {baseline:g} reads per {duration(ev.get('window_ms', 0))}" \
        if baseline else f"with no baseline (threshold {ev.get('threshold', 0):g} reads)"
    return f"read {plural(reads, 'object')} ({size(ev.get('bytes', 0))}){where} within {span}, {against}"
