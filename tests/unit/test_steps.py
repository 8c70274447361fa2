"""Pure step logic: novelty, spike, egress, familiarity, sessions, and the network classifier."""
from __future__ import annotations

import ipaddress

import pytest

from chainwatch.enrich.netclass import (ALLOWLISTED, EXTERNAL, INTERNAL, INVALID, ORG, RESERVED,
                                        NetworkClassifier)
from chainwatch.steps import egress, familiarity, novelty, sessions, spike

H = 3_600_000
M = 60_000
S = 1_000
MB = 1_000_000
ACCT = "123456789012"
OUTSIDE = "999988887777"
ROLE = f"arn:aws:iam::{ACCT}:role/Admin"
ADMIN = f"arn:aws:iam::{ACCT}:user/admin"
CALLER = f"arn:aws:iam::{OUTSIDE}:user/partner"


# --- novelty --------------------------------------------------------------------------------

MAX_AGE = 24 * H
HORIZON = 48 * H  # history start 0 + a two-day learning period


def activity(ts, eid=None):
    return {"ts": ts, "id": eid or f"call-{ts}", "principal": ROLE, "principal_arn": ROLE}


def creation(ts, signal="creation", eid=None):
    return {"ts": ts, "id": eid or f"create-{ts}", "principal": ADMIN, "principal_arn": ADMIN,
            "created": {"identity": ROLE, "identity_type": "role", "signal": signal}}


def novelty_run(events, inventory_created=None, state=None):
    state = {} if state is None else state
    return [novelty.observe(state, e, "created" in e, HORIZON, MAX_AGE, inventory_created) for e in events]


def test_creation_makes_the_identity_new_once():
    steps = novelty_run([creation(10 * H, eid="create"), activity(11 * H), activity(30 * H)])
    assert steps[1:] == [None, None]
    step = steps[0]
    assert (step["step"], step["basis"], step["created_at"], step["created_by"]) == ("new_identity", "created",
                                                                                     10 * H, ADMIN)
    assert (step["event_ids"], step["identity_age_ms"], step["max_age_ms"]) == (["create"], 0, MAX_AGE)


def test_inventory_creation_date_within_and_beyond_max_age():
    (step,) = novelty_run([activity(100 * H, eid="call")], inventory_created=77 * H)
    assert (step["basis"], step["identity_age_ms"], step["event_ids"]) == ("created", 23 * H, ["call"])
    assert novelty_run([activity(100 * H)], inventory_created=75 * H) == [None]


def test_first_seen_before_the_horizon_is_never_new():
    assert novelty_run([activity(1 * H), activity(50 * H), activity(60 * H)]) == [None, None, None]


def test_first_seen_after_the_horizon_is_new_once():
    steps = novelty_run([activity(50 * H, eid="first"), activity(51 * H), activity(90 * H)])
    assert steps[1:] == [None, None]
    assert (steps[0]["basis"], steps[0]["first_seen"], steps[0]["created_at"], steps[0]["event_ids"]) == (
        "first_seen", 50 * H, None, ["first"])


def test_new_access_key_for_an_identity_with_history_is_not_creation():
    state = {}
    assert novelty_run([activity(1 * H), creation(60 * H, signal="credential")], state=state) == [None, None]
    assert state["novelty"]["created"] is None


def test_first_access_key_of_an_unseen_identity_is_creation():
    (step,) = novelty_run([creation(5 * H, signal="credential", eid="key")])
    assert (step["basis"], step["event_ids"]) == ("created", ["key"])


def test_recreated_identity_is_new_again():
    steps = novelty_run([creation(0), activity(1 * H), creation(100 * H), activity(101 * H)])
    assert [s and s["created_at"] for s in steps] == [0, None, 100 * H, None]


# --- object-access spike --------------------------------------------------------------------

W = 10 * M


def read(ts, bucket="finance", nbytes=100, action="GetObject"):
    return {"ts": ts, "id": f"read-{ts}", "action": action,
            "object": {"bucket": bucket, "key": "k", "bytes_out": nbytes}}


def spike_run(state, timestamps, floor=5, multiplier=10, min_windows=3, peer=0.0, max_ids=500):
    return [spike.observe(state, read(t), W, floor, multiplier, min_windows, peer, max_ids) for t in timestamps]


def fired(results):
    return [i for i, r in enumerate(results) if r]


def test_threshold_is_multiplier_times_peer_baseline_above_the_floor():
    results = spike_run({}, [i * S for i in range(8)], floor=5, peer=0.8)
    assert fired(results) == [7]
    step = results[7]
    assert (step["reads"], step["threshold"], step["baseline"], step["baseline_basis"]) == (8, 8.0, 0.8, "peer_group")


def test_threshold_never_below_the_floor():
    results = spike_run({}, [i * S for i in range(20)], floor=20, peer=0.8)
    assert fired(results) == [19]
    assert results[19]["threshold"] == 20


def history(windows, per_window):
    return [k * W + (i + 1) * S for k in range(windows) for i in range(per_window)]


def test_own_baseline_after_min_history_windows():
    state = {}
    assert fired(spike_run(state, history(3, 2), floor=1, peer=100)) == []  # peer baseline: threshold 1000
    results = spike_run(state, [3 * W + 5 * M + i * S for i in range(20)], floor=1, peer=100)
    assert fired(results) == [19]
    step = results[19]
    assert (step["baseline"], step["baseline_basis"], step["threshold"], step["reads"]) == (2.0, "own", 20.0, 20)


def test_peer_baseline_until_enough_history():
    state = {}
    spike_run(state, history(3, 2), floor=1, min_windows=4, peer=100)
    assert fired(spike_run(state, [3 * W + 5 * M + i * S for i in range(20)], floor=1, min_windows=4, peer=100)) == []


def test_rearmed_only_after_a_window():
    state = {}
    first = spike_run(state, [i * S for i in range(10)])
    assert fired(first) == [4]
    assert fired(spike_run(state, [W // 2 + i * S for i in range(10)])) == []  # still above, not re-armed
    assert fired(spike_run(state, [2 * W + i * S for i in range(5)])) == [4]


def test_spike_evidence():
    state = {}
    reads = [read(1 * S, "b2", 10), read(2 * S, "b1", 20, "ListObjectsV2"), read(3 * S, "b2", 30)]
    results = [spike.observe(state, r, W, 3, 10, 3, 0.0, 2) for r in reads]
    step = results[-1]
    assert (step["buckets"], step["bucket_count"], step["bytes"]) == (["b1", "b2"], 2, 60)
    assert step["actions"] == ["GetObject", "ListObjectsV2"]
    assert (step["first_ts"], step["last_ts"]) == (1 * S, 3 * S)
    assert (step["event_ids"], step["event_ids_truncated"]) == (["read-1000", "read-2000"], True)


# --- exfiltration ---------------------------------------------------------------------------

EGRESS_WINDOW = 1 * H
MIN_BYTES = 100 * MB


def flow(ts, nbytes, dst="8.8.8.8", instance="i-0abc1234def567890", geo=None):
    event = {"kind": "flow", "ts": ts, "id": f"flow-{ts}", "flow": {"bytes": nbytes, "dst": dst, "instance": instance}}
    if geo:
        event["geo"] = geo
    return event


def download(ts, nbytes, external=True, src_ip="203.0.113.9"):
    event = {"kind": "object_access", "ts": ts, "id": f"get-{ts}", "src_ip": src_ip,
             "object": {"bucket": "finance", "key": "k", "bytes_out": nbytes}}
    if external:
        event["external_src"] = True
    return event


def egress_run(state, events):
    return [egress.observe(state, e, EGRESS_WINDOW, MIN_BYTES, 500) for e in events]


def test_emits_each_time_another_min_bytes_left():
    results = egress_run({}, [flow(i * M, 40 * MB) for i in range(6)])
    assert fired(results) == [2, 5]
    assert (results[2]["bytes"], results[2]["transfers"]) == (120 * MB, 3)
    assert (results[5]["bytes"], results[5]["transfers"]) == (240 * MB, 6)
    assert results[5]["channels"] == ["network_flow"] and results[5]["workloads"] == ["i-0abc1234def567890"]


def test_external_object_downloads_count():
    results = egress_run({}, [flow(0, 60 * MB), download(1 * M, 60 * MB)])
    step = results[1]
    assert step["channels"] == ["network_flow", "object_download"]
    assert sorted(d["ip"] for d in step["destinations"]) == ["203.0.113.9", "8.8.8.8"]


def test_non_external_object_reads_are_ignored():
    state = {}
    assert egress_run(state, [download(0, 500 * MB, external=False), download(1, 0),
                              {"kind": "api", "ts": 2, "id": "x"}]) == [None, None, None]
    assert state == {}


def test_destinations_grouped_by_address_largest_first():
    geo = {"ip": "1.1.1.1", "asn": 13335, "country": "AU"}
    results = egress_run({}, [flow(0, 30 * MB), flow(1 * M, 50 * MB, "1.1.1.1", "i-2", geo),
                              flow(2 * M, 30 * MB, "1.1.1.1", "i-2", geo)])
    assert results[2]["destinations"] == [dict(geo, bytes=80 * MB), {"ip": "8.8.8.8", "bytes": 30 * MB}]
    assert results[2]["workloads"] == ["i-0abc1234def567890", "i-2"]


def test_evidence_covers_only_the_window():
    results = egress_run({}, [flow(0, 100 * MB), flow(2 * H, 100 * MB)])
    assert fired(results) == [0, 1]
    assert (results[1]["transfers"], results[1]["bytes"], results[1]["first_ts"]) == (1, 100 * MB, 2 * H)


def test_bytes_outside_the_window_do_not_count():
    results = egress_run({}, [flow(0, 60 * MB), flow(2 * H, 50 * MB)])
    assert results == [None, None]  # only 50MB left within the last hour


# --- unfamiliar origin ----------------------------------------------------------------------

def geo(ip="81.2.69.10", asn=64496, country="GB"):
    return {"ip": ip, "asn": asn, "as_org": "Example Net", "country": country, "city": "London"}


def assess(state, origin, learning=False, expected=None):
    return familiarity.assess(state, origin, ROLE, CALLER, OUTSIDE, learning, expected or {})


def test_learning_never_calls_an_origin_unfamiliar():
    state = {}
    verdicts = [assess(state, geo(asn=asn, country=cc), learning=True) for asn, cc in [(1, "GB"), (2, "US"), (3, "CN")]]
    assert [v["unfamiliar"] for v in verdicts] == [False, False, False]
    assert verdicts[1]["new_network"] and verdicts[1]["new_country"]


def test_learned_origin_is_familiar_after_learning():
    state = {}
    assess(state, geo(), learning=True)
    verdict = assess(state, geo(ip="81.2.69.99"))
    assert (verdict["unfamiliar"], verdict["new_network"], verdict["network"]) == (False, False, "AS64496")
    assert verdict["known_networks"] == 1


def test_new_asn_after_learning_is_unfamiliar_once():
    state = {}
    assess(state, geo(), learning=True)
    verdict = assess(state, geo(ip="5.6.7.8", asn=64500))
    assert (verdict["unfamiliar"], verdict["new_network"], verdict["new_country"]) == (True, True, False)
    assert assess(state, geo(ip="5.6.7.8", asn=64500))["unfamiliar"] is False  # now remembered


def test_new_country_on_a_known_asn_is_unfamiliar():
    state = {}
    assess(state, geo(), learning=True)
    verdict = assess(state, geo(ip="81.2.69.20", country="RU"))
    assert (verdict["unfamiliar"], verdict["new_network"], verdict["new_country"]) == (True, False, True)


def test_without_asn_networks_are_prefixes():
    state = {}
    assess(state, geo(asn=0), learning=True)
    assert assess(state, geo(ip="81.2.69.200", asn=0))["unfamiliar"] is False
    verdict = assess(state, geo(ip="81.2.70.1", asn=0))
    assert (verdict["unfamiliar"], verdict["network"]) == (True, "net:81.2.70.0/24")
    assert familiarity.network_of({"ip": "2001:db8:1:2::5"}) == "net:2001:db8:1::/48"
    assert familiarity.network_of({"ip": "AWS Internal"}) == "ip:AWS Internal"


@pytest.mark.parametrize("owner", [ROLE, CALLER, OUTSIDE])
def test_expected_network_by_cidr_for_role_caller_or_account(owner):
    verdict = assess({}, geo(), expected={owner: (ipaddress.ip_network("81.2.69.0/24"),)})
    assert (verdict["unfamiliar"], verdict["expected"], verdict["new_network"]) == (False, True, True)


def test_expected_network_by_asn():
    expected = {OUTSIDE: ("AS64496",)}
    assert assess({}, geo(ip="5.6.7.8"), expected=expected)["unfamiliar"] is False
    assert assess({}, geo(ip="5.6.7.8", asn=64497), expected=expected)["unfamiliar"] is True


def test_expected_ipv4_network_does_not_match_ipv6_origin():
    verdict = assess({}, geo(ip="2001:db8::1"), expected={ROLE: (ipaddress.ip_network("81.2.69.0/24"),)})
    assert (verdict["expected"], verdict["unfamiliar"]) == (False, True)


# --- cross-account entry --------------------------------------------------------------------

ORG_ACCOUNTS = ("111122223333",)
TRUSTED_ACCOUNTS = ("777788889999",)
TRUSTED_PRINCIPALS = ("arn:aws:iam::555566667777:role/Vendor", f"arn:aws:iam::{ACCT}:saml-provider/Corp")


def reason(caller_account, method="AssumeRole", caller=CALLER):
    assume = {"caller": caller, "caller_account": caller_account, "method": method}
    return sessions.entry_reason(assume, ACCT, ORG_ACCOUNTS, TRUSTED_ACCOUNTS, TRUSTED_PRINCIPALS)


@pytest.mark.parametrize("caller_account, method, caller", [
    (ACCT, "AssumeRole", ADMIN),                                         # same account
    ("111122223333", "AssumeRole", "arn:aws:iam::111122223333:user/x"),  # organisation
    ("777788889999", "AssumeRole", "arn:aws:iam::777788889999:user/x"),  # trusted partner
    ("555566667777", "AssumeRole", "arn:aws:iam::555566667777:role/Vendor"),  # trusted principal
    ("", "AssumeRole", "service:ec2.amazonaws.com"),                     # AWS service
    (f"arn:aws:iam::{ACCT}:saml-provider/Corp", "SAML", "SAMLUser:corp:bob"),  # trusted provider
])
def test_not_an_outside_entry(caller_account, method, caller):
    assert reason(caller_account, method, caller) is None


def test_outside_account_is_an_entry():
    assert reason(OUTSIDE) == f"principal of {OUTSIDE} outside the organisation"


@pytest.mark.parametrize("method", ["SAML", "WebIdentity"])
def test_federation_is_an_entry(method):
    provider = f"arn:aws:iam::{ACCT}:saml-provider/Okta"
    assert reason(provider, method, "SAMLUser:okta:bob") == f"federated third-party identity via {method} ({provider})"
    assert "unknown provider" in reason("", method, "x")


def test_burst_then_unfamiliar_origin():
    state = {}
    entry = {"ts": 0, "id": "assume", "src_ip": "5.6.7.8",
             "assume": {"role": ROLE, "session": "ASIAKEY", "session_arn": "s", "session_name": "n",
                        "method": "AssumeRole", "caller": CALLER, "caller_account": OUTSIDE}}
    step = sessions.start_session(state, entry, "outside")
    assert (step["step"], step["session"], step["outside_account"]) == ("cross_account_entry", "ASIAKEY", OUTSIDE)
    session = state["sessions"]["ASIAKEY"]
    sessions.note_origin(session, {"unfamiliar": True, "ip": "5.6.7.8"}, entry)

    def call(ts, category):
        event = {"ts": ts, "id": f"c{ts}", "action": "AttachRolePolicy", "service": "iam", "success": True}
        return [s["step"] for s in sessions.observe_call(session, event, category, 5 * M, 3)]

    assert [call(1 * M, "iam_policy_change"), call(2 * M, None), call(3 * M, "iam_policy_change")] == [[], [], []]
    assert call(4 * M, "logging_change") == ["privileged_burst", "unfamiliar_origin"]
    assert call(5 * M, "logging_change") == []  # each step once per session


def test_burst_needs_the_calls_within_the_span():
    session = {"calls": [], "origins": [], "burst_emitted": False, "origin_emitted": False}
    event = lambda ts: {"ts": ts, "id": f"c{ts}", "action": "a", "service": "s", "success": True}  # noqa: E731
    results = [sessions.observe_call(session, event(t), "x", 5 * M, 3) for t in (0, 3 * M, 6 * M, 7 * M)]
    assert [[s["step"] for s in r] for r in results] == [[], [], [], ["privileged_burst"]]
    assert results[3][0]["event_ids"] == ["c180000", "c360000", "c420000"]


# --- network classes ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def classifier():
    return NetworkClassifier(org_cidrs=(ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("198.51.100.0/24")),
                             egress_allowlist=(ipaddress.ip_network("185.199.108.0/22"),))


@pytest.mark.parametrize("ip, expected", [
    ("172.16.4.2", INTERNAL), ("192.168.1.1", INTERNAL), ("127.0.0.1", INTERNAL), ("169.254.169.254", INTERNAL),
    ("fd00::1", INTERNAL),
    ("10.1.2.3", ORG), ("198.51.100.7", ORG),
    ("185.199.109.153", ALLOWLISTED),
    ("100.64.0.1", RESERVED), ("224.0.0.251", RESERVED),
    ("8.8.8.8", EXTERNAL), ("2001:4860:4860::8888", EXTERNAL),
    ("AWS Internal", INVALID), ("", INVALID), ("ec2.amazonaws.com", INVALID),
])
def test_classify(classifier, ip, expected):
    assert classifier.classify(ip) == expected
    assert classifier.is_external(ip) is (expected == EXTERNAL)


@pytest.mark.parametrize("ip", ["192.0.2.1", "203.0.113.9", "0.0.0.0", "240.0.0.1"])
def test_documentation_and_reserved_ranges_are_not_external(classifier, ip):
    assert classifier.classify(ip) in (INTERNAL, RESERVED)
    assert not classifier.is_external(ip)
