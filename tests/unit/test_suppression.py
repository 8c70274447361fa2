"""Suppression (findings/suppression.py, a pattern's `suppress:`): one finding per group and
period, updated with a count. Through the real job: tests/integration/test_acceptance_aws.py."""
from __future__ import annotations

import copy

import pytest
import yaml

from chainwatch.core.errors import ChainwatchError
from chainwatch.findings.suppression import group_key, suppress
from chainwatch.patterns.pattern import Suppression
from chainwatch.patterns.pattern import load_pattern
from tests.conftest import REPO

HOUR = 3_600_000


def finding(uid: str, at: int, principal="arn:aws:iam::1:role/r", key=None) -> dict:
    return {"time": at, "message": "AN1328: r ...", "activity_id": 1, "activity_name": "Create",
            "type_uid": 200401, "type_name": "Detection Finding: Create", "metadata": {"uid": uid},
            "finding_info": {"uid": uid, "first_seen_time": at - HOUR, "analytic": {"uid": "AN1328"}},
            "actor": {"user": {"uid": principal}}, "cloud": {"account": {"uid": "1"}},
            "unmapped": {"chainwatch": {"key": {"name": "principal", "value": key or principal}}}}


def run(findings, suppression=Suppression(("principal",), 24 * HOUR)) -> list[dict]:
    states, out = {}, []
    for item in findings:
        group = group_key(item, suppression)
        states[group], sent = suppress(states.get(group), copy.deepcopy(item), suppression)
        out.append(sent)
    return out


def test_repeats_within_the_period_update_the_first_finding_with_a_count():
    a, b, c = run([finding("m1", 10 * HOUR), finding("m2", 15 * HOUR), finding("m3", 34 * HOUR)])
    assert (a["finding_info"]["uid"], a["count"], a["activity_name"]) == ("m1", 1, "Create")
    assert (b["finding_info"]["uid"], b["metadata"]["uid"], b["count"], b["activity_id"]) == ("m1", "m1", 2, 2)
    assert b["type_uid"] == 200402 and b["finding_info"]["first_seen_time"] == 9 * HOUR
    assert b["message"].startswith("Seen 2 times since ")
    assert b["unmapped"]["chainwatch"]["suppression"]["match_uid"] == "m2"
    # 34h is 24h after the first: a new finding, its own uid
    assert (c["finding_info"]["uid"], c["count"], c["activity_name"]) == ("m3", 1, "Create")


def test_other_groups_are_not_suppressed_and_the_group_is_in_the_finding():
    a, b = run([finding("m1", HOUR), finding("m2", 2 * HOUR, principal="arn:aws:iam::1:role/other")])
    assert (a["finding_info"]["uid"], b["finding_info"]["uid"]) == ("m1", "m2") and b["count"] == 1
    assert b["unmapped"]["chainwatch"]["suppression"]["group"] == {"principal": "arn:aws:iam::1:role/other"}


def test_a_match_delivered_again_is_not_counted_again():
    """After a restore, CEP may send a match again: it keeps its count."""
    first, second, again = run([finding("m1", HOUR), finding("m2", 2 * HOUR), finding("m2", 2 * HOUR)])
    assert [first["count"], second["count"], again["count"]] == [1, 2, 2]
    assert again["finding_info"]["uid"] == "m1"
    resent = run([finding("m1", HOUR), finding("m1", HOUR)])[1]
    assert (resent["count"], resent["activity_name"]) == (1, "Create")


def test_for_0_turns_it_off():
    out = run([finding("m1", HOUR), finding("m2", 2 * HOUR)], Suppression(("principal",), 0))
    assert [f["finding_info"]["uid"] for f in out] == ["m1", "m2"] and [f["count"] for f in out] == [1, 1]


def _pattern(tmp_path, suppress_section):
    data = yaml.safe_load((REPO / "patterns" / "AN1328.yaml").read_text())
    data.pop("suppress", None)
    if suppress_section is not None:
        data["suppress"] = suppress_section
    path = tmp_path / "AN1328.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_pattern_suppresses_by_its_key_for_a_day_unless_it_says_otherwise(tmp_path):
    assert load_pattern(_pattern(tmp_path, None)).suppress == Suppression(("key",), 24 * HOUR)
    assert load_pattern(_pattern(tmp_path, {"by": ["account"], "for": "2h"})).suppress == \
        Suppression(("account",), 2 * HOUR)
    assert load_pattern(_pattern(tmp_path, {"for": "0s"})).suppress.for_ms == 0


@pytest.mark.parametrize("section, key, message", [
    ({"by": ["team"]}, "suppress.by", "group by one or more of key, principal, account"),
    ({"by": []}, "suppress.by", "group by one or more of"),
    ({"for": "soon"}, "suppress.for", ""),
    ({"per": "1h"}, "suppress.per", "unknown key"),
])
def test_a_bad_suppress_section_is_named_by_file_and_key(tmp_path, section, key, message):
    with pytest.raises(ChainwatchError) as raised:
        load_pattern(_pattern(tmp_path, section))
    assert any(p.key == key and message in p.message and p.file.endswith("AN1328.yaml")
               for p in raised.value.problems), raised.value.problems


def test_ecs_carries_the_group_and_its_count(config):
    from chainwatch.case_runner import run_case
    from chainwatch.findings.ecs import to_ecs
    pattern = load_pattern(REPO / "patterns" / "AN1328.yaml")
    (real,) = run_case(config, pattern, pattern.cases[0]).findings
    later = copy.deepcopy(real)
    later["time"] += HOUR
    later["finding_info"]["uid"] = later["metadata"]["uid"] = "another-match"
    _first, update = run([real, later], pattern.suppress)
    doc = to_ecs(update)
    assert doc["event"]["id"] == real["finding_info"]["uid"]
    assert doc["chainwatch"]["suppression"]["count"] == 2
    assert doc["chainwatch"]["suppression"]["group"] == {"principal": "arn:aws:iam::111122223333:role/etl-sync"}
