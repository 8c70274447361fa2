"""Learned peer baselines for the object-access spike: what an identity without enough history of
its own is compared with.

A peer group is the identities of one type in one account (`role@111122223333`), and of one type
anywhere (`role`). An identity with its own baseline (steps.spike: min_history_windows active
windows) lends it to both groups; a group with at least MIN_PEERS of them has a learned baseline:
the 75th percentile of its members' own baselines (a new role is compared with what the busier
of its peers read, not the quiet majority, nor the one heaviest reader). The configured
`peer_baselines` value stays the floor. The most specific group with enough peers wins.

Kept per step operator subtask (every identity it computes), in memory and in each key bucket's
state under PEERS_KEY, so a restore brings it back. At parallelism > 1 each subtask learns from
its own share of the identities: a hash-partitioned sample of the same population. No PyFlink.
"""
from __future__ import annotations

PEERS_KEY = "org:peer-baselines"
MIN_PEERS = 10
MAX_PEERS = 1000            # members remembered per group: a bounded sample of a large group
_QUANTILE = 0.75


class PeerBaselines:
    def __init__(self):
        self.groups: dict[str, dict[str, float]] = {}     # group -> {identity: its own baseline}
        self.cache: dict[str, tuple[float, int]] = {}     # group -> (learned baseline, peers)
        self.changes = 0        # updates since start: when to write a snapshot (operators)

    @staticmethod
    def groups_of(kind: str, account: str) -> tuple[str, ...]:
        return (f"{kind}@{account}", kind) if kind else ()

    def update(self, groups, identity: str, baseline: float) -> None:
        for group in groups:
            members = self.groups.setdefault(group, {})
            if identity in members or len(members) < MAX_PEERS:
                members[identity] = baseline
                self.cache.pop(group, None)
        self.changes += 1

    def learned(self, groups) -> tuple[float, str, int]:
        """(baseline, group, peers) of the most specific group with MIN_PEERS; (0, '', 0) else."""
        for group in groups:
            found = self.cache.get(group)
            if found is None:
                values = sorted(self.groups.get(group, {}).values())
                found = (values[min(len(values) - 1, int(_QUANTILE * len(values)))], len(values)) \
                    if len(values) >= MIN_PEERS else (0.0, len(values))
                self.cache[group] = found
            if found[1] >= MIN_PEERS:
                return found[0], group, found[1]
        return 0.0, "", 0

    def snapshot(self) -> dict:
        return {"groups": self.groups}

    def restore(self, snapshot: dict | None) -> None:
        """A bucket's snapshot after a restore: kept when it knows more than memory does."""
        groups = (snapshot or {}).get("groups") or {}
        if sum(map(len, groups.values())) > sum(map(len, self.groups.values())):
            self.groups = {group: dict(members) for group, members in groups.items()}
            self.cache = {}
