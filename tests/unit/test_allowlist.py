"""The allowlist (chainwatch.steps.allowlist): loading with errors that name the file, the entry and the
key, what an entry lets in, and what the identity steps make of an entry's scope."""
from __future__ import annotations

import dataclasses
import ipaddress

import pytest
import yaml

from chainwatch.core.errors import ChainwatchError
from chainwatch.steps.allowlist import Allowlist, expired_entries, load_allowlist
from chainwatch.steps.identity_steps import IdentitySteps

ENTRY = {"id": "partner", "who": {"accounts": ["777788889999"]},
         "may_assume": ["arn:aws:iam::111122223333:role/Partner*"],
         "from": {"cidrs": ["81.2.69.0/24"], "asns": ["AS64496"]}, "categories": ["iam_policy_change"],
         "owner": "partners@acme.example", "reason": "nightly sync", "expires": "2027-06-30"}
ROLE = "arn:aws:iam::111122223333:role/PartnerAccess"
ASSUME = {"caller": "arn:aws:iam::777788889999:user/sync", "caller_account": "777788889999", "method": "AssumeRole"}
JUNE_30 = 1_782_777_600_000        # 2026-06-30T00:00:00Z
YEAR_MS = 365 * 86_400_000


def _write(tmp_path, *entries, **top) -> str:
    path = tmp_path / "allowlist.yaml"
    path.write_text(yaml.safe_dump({"entries": list(entries), **top}))
    return str(path)


def _problems(tmp_path, *entries) -> list[str]:
    with pytest.raises(ChainwatchError) as raised:
        load_allowlist(_write(tmp_path, *entries))
    return [str(p) for p in raised.value.problems]


def test_an_entry_loads_with_its_scope(tmp_path):
    (entry,) = load_allowlist(_write(tmp_path, ENTRY)).entries
    assert entry.accounts == ("777788889999",) and entry.networks == (ipaddress.ip_network("81.2.69.0/24"),)
    assert entry.asns == {64496} and entry.categories == ("iam_policy_change",)
    assert entry.expires == "2027-06-30" and entry.expires_ms == JUNE_30 + YEAR_MS + 86_400_000   # through that day


@pytest.mark.parametrize("change, where, message", [
    ({"owner": None}, "entries[0].owner", "required key is missing"),
    ({"who": {}}, "entries[0].who", "name at least one of accounts, principals, providers"),
    ({"who": None}, "entries[0].who", "required key is missing"),
    ({"who": {"teams": ["x"]}}, "entries[0].who.teams", "unknown key"),
    ({"may_assume": []}, "entries[0].may_assume", "name at least one role"),
    ({"may_assume": None}, "entries[0].may_assume", "name at least one role"),
    ({"from": {"countries": ["GB"]}}, "entries[0].from", "name at least one network"),
    ({"from": {"cidrs": ["81.2.69.0/33"]}}, "entries[0].from.cidrs", "not an IP network"),
    ({"from": {"asns": ["ASX"]}}, "entries[0].from.asns", "expected ASNs written AS<number>"),
    ({"expires": "next year"}, "entries[0].expires", "expected a date"),
    ({"scope": "all"}, "entries[0].scope", "unknown key"),
])
def test_a_bad_entry_is_named_by_file_entry_and_key(tmp_path, change, where, message):
    entry = {k: v for k, v in dict(ENTRY, **change).items() if v is not None}
    problems = _problems(tmp_path, entry)
    assert any(str(tmp_path / "allowlist.yaml") in p and where in p and message in p for p in problems), problems


def test_two_entries_with_one_id_are_refused(tmp_path):
    problems = _problems(tmp_path, ENTRY, ENTRY)
    assert any("entries[1].id" in p and "another entry has this id" in p for p in problems)


def test_inside_an_entry_it_lets_the_assumption_in():
    allowlist = Allowlist("a.yaml", (load_entry(),))
    geo = {"ip": "81.2.69.10", "asn": 20712, "country": "GB"}
    entry, outside = allowlist.judge_entry(ASSUME, ROLE, "81.2.69.10", geo, JUNE_30)
    assert entry.id == "partner" and outside == []
    by_asn, _ = allowlist.judge_entry(ASSUME, ROLE, "203.0.113.9", {"ip": "203.0.113.9", "asn": 64496}, JUNE_30)
    assert by_asn is not None


@pytest.mark.parametrize("role, ip, geo, ts, why", [
    ("arn:aws:iam::111122223333:role/Admin", "81.2.69.10", {"asn": 20712}, JUNE_30,
     ["arn:aws:iam::111122223333:role/Admin is not among the roles it may assume"]),
    (ROLE, "91.219.236.15", {"asn": 48693, "country": "UA"}, JUNE_30,
     ["91.219.236.15 (AS48693) is not in its networks"]),
    (ROLE, "sts.amazonaws.com", None, JUNE_30, ["the origin is not an IP address"]),
    (ROLE, "81.2.69.10", {"asn": 20712}, JUNE_30 + 2 * YEAR_MS, ["expired 2027-06-30"]),
])
def test_outside_an_entry_it_says_which_entry_and_why(role, ip, geo, ts, why):
    allowlist = Allowlist("a.yaml", (load_entry(),))
    entry, outside = allowlist.judge_entry(ASSUME, role, ip, geo, ts)
    assert entry is None
    assert outside == [{"id": "partner", "owner": "partners@acme.example", "reason": "nightly sync",
                        "expires": "2027-06-30", "outside": why}]


def test_countries_narrow_the_networks():
    entry = load_entry(**{"from": {"cidrs": ["81.2.69.0/24"], "countries": ["gb"]}})
    assert entry.origin_outside("81.2.69.10", {"asn": 20712, "country": "GB"}) == []
    assert entry.origin_outside("81.2.69.10", {"asn": 20712, "country": "FR"}) == \
        ["country FR is not among its countries"]


def test_who_names_accounts_principals_or_providers_of_federation():
    entry = load_entry(who={"principals": ["arn:aws:iam::999900001111:user/ops"], "providers": ["token.actions.x"]})
    assert entry.covers({"caller": "arn:aws:iam::999900001111:user/ops", "caller_account": "999900001111",
                         "method": "AssumeRole"})
    assert entry.covers({"caller": "repo:acme/app", "caller_account": "token.actions.x", "method": "WebIdentity"})
    assert not entry.covers({"caller": "u", "caller_account": "token.actions.x", "method": "AssumeRole"})
    assert not load_entry().covers(dict(ASSUME, caller_account="999900001111"))


def test_validate_warns_about_expired_entries(tmp_path):
    allowlist = load_allowlist(_write(tmp_path, ENTRY, dict(ENTRY, id="old", expires="2026-01-31")))
    (warning,) = expired_entries(allowlist, JUNE_30)
    assert warning.key == "entries[1]" and "old expired 2026-01-31" in warning.message


def test_validate_prints_expired_entries_and_how_to_migrate_trusted_accounts(tmp_path, capsys):
    from chainwatch.cli import main
    from tests.unit.test_config import config_data, write_yaml
    _write(tmp_path, ENTRY, dict(ENTRY, id="old", expires="2020-01-31"))
    data = config_data(allowlist="allowlist.yaml")
    data["steps"]["cross_account_entry"] = {"trusted_accounts": ["777788889999"]}
    assert main(["validate", "--conf", str(write_yaml(tmp_path / "chainwatch.yaml", data))]) == 0
    err = capsys.readouterr().err
    assert "allowlist.yaml: entries[1]: old expired 2020-01-31" in err
    assert "steps.cross_account_entry.trusted_accounts: 777788889999 is trusted from any network" in err
    assert "who: {accounts: ['777788889999']}, may_assume: [<role ARNs>]" in err


def test_validate_warns_about_entries_the_last_replay_found_unused(tmp_path, monkeypatch, capsys):
    from collections import Counter
    from chainwatch.cli import main
    from chainwatch.config import load_config
    from chainwatch.steps.allowlist import record_usage
    from tests.unit.test_config import config_data, write_yaml
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    _write(tmp_path, ENTRY, dict(ENTRY, id="vendor", expires="2099-01-01"))
    path = write_yaml(tmp_path / "chainwatch.yaml", config_data(allowlist="allowlist.yaml"))
    assert main(["validate", "--conf", str(path)]) == 0
    assert "let no session in" not in capsys.readouterr().err          # no replay yet: nothing to say
    written = record_usage(load_config(path).allowlist, Counter({"partner": 4}), "2026-11-30 10:00 UTC")
    assert written.parent == tmp_path / "state" / "chainwatch"
    assert main(["validate", "--conf", str(path)]) == 0
    err = capsys.readouterr().err
    assert "allowlist.yaml: entries[1]: vendor let no session in during the last replay (2026-11-30 10:00 UTC)" in err
    assert "entries[0]: partner let no" not in err


def test_a_config_naming_a_missing_allowlist_says_which_file(tmp_path):
    from tests.unit.test_config import config_data, write_yaml
    from chainwatch.config import load_config
    path = write_yaml(tmp_path / "chainwatch.yaml", config_data(allowlist="nowhere.yaml"))
    with pytest.raises(ChainwatchError) as raised:
        load_config(path)
    assert str(tmp_path / "nowhere.yaml") in str(raised.value)


def load_entry(**change):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as folder:
        (entry,) = load_allowlist(_write(Path(folder), dict(ENTRY, **change))).entries
    return entry


# --- the identity steps: an entry's scope ---------------------------------------------------------

T0 = JUNE_30 + 10 * 86_400_000


def _assume(ip, ts=T0, session="s1"):
    return {"id": f"assume-{session}-{ts}", "ts": ts, "kind": "api", "cloud": "aws", "account": "111122223333",
            "region": "us-east-1", "service": "sts.amazonaws.com", "action": "AssumeRole", "success": True,
            "principal": ASSUME["caller"], "principal_type": "user", "session": "", "src_ip": ip,
            "geo": {"ip": ip, "asn": 20712 if ip.startswith("81.2.69.") else 48693,
                    "country": "GB" if ip.startswith("81.2.69.") else "UA"},
            "assume": dict(ASSUME, role=ROLE, session=session, session_arn="", session_name="ops")}


def _call(ip, n, action="AttachRolePolicy", session="s1"):
    event = _assume(ip, T0 + 60_000 * (n + 1), session)
    del event["assume"]
    return dict(event, id=f"call-{session}-{n}", service="iam.amazonaws.com", action=action,
                principal=ROLE, principal_type="role", session=session)


@pytest.fixture
def steps(config):
    allowlist = Allowlist("a.yaml", (load_entry(),))
    return IdentitySteps(dataclasses.replace(config, allowlist=allowlist))


def _run(steps, events) -> list[dict]:
    """AN1348's steps (the role is also first seen here: new_identity, which is AN1328's)."""
    state, rows = {}, []
    for event in events:
        rows += steps.process(ROLE, state, event, T0 - 30 * 86_400_000)
    return [row for row in rows if row["step"] != "new_identity"]


def test_inside_its_entry_a_session_makes_no_step(steps):
    rows = _run(steps, [_assume("81.2.69.10")] + [_call("81.2.69.10", n) for n in range(4)])
    assert rows == []


def test_from_another_network_the_entry_step_names_the_entry(steps):
    rows = _run(steps, [_assume("91.219.236.15")] + [_call("91.219.236.15", n) for n in range(3)])
    assert [r["step"] for r in rows] == ["cross_account_entry", "privileged_burst", "unfamiliar_origin"]
    assert rows[0]["allowlist"][0]["id"] == "partner" and "outside allowlist entry partner" in rows[0]["reason"]


def test_a_session_it_let_in_becomes_an_entry_at_its_first_call_outside(steps):
    """Let in from the office; then a call of a category the entry does not name: the entry step
    comes at that call, and the burst counts from there."""
    events = [_assume("81.2.69.10"), _call("81.2.69.10", 0), _call("81.2.69.10", 1, "CreateAccessKey")] + \
        [_call("81.2.69.10", n, "CreateAccessKey") for n in (2, 3)]
    rows = _run(steps, events)
    assert [r["step"] for r in rows] == ["cross_account_entry", "privileged_burst"]
    entry, burst = rows
    assert entry["event_ids"] == ["assume-s1-" + str(T0), "call-s1-1"] and entry["ts"] == events[2]["ts"]
    assert entry["allowlist"][0]["outside"] == ["a credential_creation call, a category it may not call"]
    assert burst["event_ids"] == ["call-s1-1", "call-s1-2", "call-s1-3"]


def test_a_call_a_cloud_service_makes_for_the_session_is_not_judged_by_network(steps):
    """sourceIPAddress of a call CloudFormation makes with the session: a service name."""
    service_call = dict(_call("81.2.69.10", 0), src_ip="cloudformation.amazonaws.com")
    del service_call["geo"]
    rows = _run(steps, [_assume("81.2.69.10"), service_call, _call("81.2.69.10", 1)])
    assert rows == []
    elsewhere = _run(steps, [_assume("81.2.69.10"), _call("91.219.236.15", 0)])
    assert [r["step"] for r in elsewhere] == ["cross_account_entry"]
