"""Learned peer baselines (steps.peers, steps.spike): a young identity is compared with what its
peers' own baselines say, the configured value being the floor."""
from __future__ import annotations

from chainwatch.steps import spike
from chainwatch.steps.peers import MIN_PEERS, PeerBaselines

WINDOW = 600_000
ACCOUNT = "111122223333"


def _read(ts, n):
    return {"ts": ts, "id": f"r{ts}-{n}", "action": "GetObject",
            "object": {"bucket": "etl-data", "key": f"k{n}", "bytes_out": 1000}}


def _active(peers, identity, per_window, windows, groups, start=0):
    """`windows` active windows of `per_window` reads each, then one read to close the last."""
    state = {}
    for w in range(windows + 1):
        for n in range(per_window if w < windows else 1):
            spike.observe(state, _read(start + w * WINDOW + n * 1000, n), WINDOW, 100, 10, 6, 8, 50, peers, identity,
                          groups)
    return state


def _burst(peers, groups, reads=300):
    state, rows = {}, []
    for n in range(reads):
        row = spike.observe(state, _read(10 * WINDOW + n * 1000, n), WINDOW, 100, 10, 6, 8, 50, peers, "new", groups)
        rows += [row] if row else []
    return rows


def test_with_too_few_peers_the_configured_baseline_stands():
    peers, groups = PeerBaselines(), PeerBaselines.groups_of("role", ACCOUNT)
    for n in range(MIN_PEERS - 1):
        _active(peers, f"role-{n}", 60, 6, groups)
    (row,) = _burst(peers, groups)
    assert (row["baseline"], row["baseline_basis"], row["threshold"]) == (8, "peer_group", 100)


def test_busy_peers_raise_a_young_identitys_threshold_and_quiet_ones_do_not_lower_it():
    busy, quiet = PeerBaselines(), PeerBaselines()
    groups = PeerBaselines.groups_of("role", ACCOUNT)
    for n in range(MIN_PEERS + 2):
        _active(busy, f"etl-{n}", 40 + n, 6, groups)
        _active(quiet, f"app-{n}", 2, 6, groups)
    assert _burst(busy, groups) == []                    # 300 reads: under 10 x the peers' 75th percentile
    (row,) = _burst(busy, groups, reads=600)
    assert row["baseline_basis"] == "peer_group_learned" and row["peer_group"] == f"role@{ACCOUNT}"
    assert row["baseline"] == 49 and row["threshold"] == 490 and row["peers"] == MIN_PEERS + 2
    (row,) = _burst(quiet, groups)
    assert (row["baseline"], row["baseline_basis"]) == (8, "peer_group")      # the floor


def test_the_account_group_wins_and_the_type_group_stands_in_for_a_new_account():
    peers = PeerBaselines()
    for n in range(MIN_PEERS):
        _active(peers, f"etl-{n}", 30, 6, PeerBaselines.groups_of("role", ACCOUNT))
    assert peers.learned(PeerBaselines.groups_of("role", "999999999999"))[1:] == ("role", MIN_PEERS)
    assert peers.learned(PeerBaselines.groups_of("user", ACCOUNT)) == (0.0, "", 0)


def test_a_snapshot_restores_what_memory_lost():
    peers = PeerBaselines()
    for n in range(MIN_PEERS):
        _active(peers, f"etl-{n}", 30, 6, PeerBaselines.groups_of("role", ACCOUNT))
    restored = PeerBaselines()
    restored.restore(peers.snapshot())
    assert restored.learned(PeerBaselines.groups_of("role", ACCOUNT)) == peers.learned(
        PeerBaselines.groups_of("role", ACCOUNT))


def test_the_narrative_names_the_learned_peer_group():
    from chainwatch.steps.spike import clause as _spike
    text = _spike({"reads": 600, "baseline": 49, "baseline_basis": "peer_group_learned", "peer_group": "role@1111",
                   "peers": 12, "window_ms": WINDOW, "first_ts": 0, "last_ts": 60_000, "bytes": 1000})
    assert "12x its 12 peers' (role@1111) learned baseline of 49 reads per 10m" in text
