"""Suppression: one finding per group and period, counting its repeats (a pattern's `suppress:`).

A pattern's findings are grouped by some of their fields (`by`: the match key, the principal,
the account, the outside account or principal of an AN1348 session). The first finding of a
group goes out at once, as always. Any further match of the group within `for` of the first
(event time) goes out as an update of that same finding: the first's uid, OCSF activity Update,
`count` the matches so far, the new match's evidence, first_seen the group's earliest. A SIEM
keyed by the finding uid (Elastic alert suppression, Panther deduplication, Sigma correlation
group-by) so shows one alert per group and period with a count. `for: 0` turns it off.

Pure functions over one group's state (a dict): the Flink operator (flink.graph.Suppress) keeps it
in keyed state, the plain-Python engine in a dict, so both send the same records.
"""
from __future__ import annotations

import copy
import json
from chainwatch.core.units import format_timestamp
from chainwatch.patterns.pattern import SUPPRESS_BY, Suppression

_MAX_MATCHES = 200       # match uids a group remembers, so a match sent again is not counted again


def _key(f):
    return f["unmapped"]["chainwatch"]["key"]["value"]


GROUP_FIELDS = {
    "key": _key,                                           # what the pattern is keyed by
    "principal": lambda f: f["actor"]["user"]["uid"],
    "account": lambda f: f["cloud"]["account"]["uid"],
    "outside_account": lambda f: f["actor"]["user"].get("outside_account", {}).get("uid", ""),
    "outside_principal": lambda f: f["actor"]["user"].get("outside_principal", ""),
}
assert tuple(GROUP_FIELDS) == SUPPRESS_BY, "a pattern may group by exactly the fields a finding is grouped by"


def group_values(finding: dict, suppression: Suppression) -> dict:
    return {field: GROUP_FIELDS[field](finding) for field in suppression.by}


def group_key(finding: dict, suppression: Suppression) -> str:
    """What the operator is keyed by: the analytic and the group's values."""
    return json.dumps([finding["finding_info"]["analytic"]["uid"]] + list(group_values(finding, suppression).values()))


def suppress(state: dict | None, finding: dict, suppression: Suppression) -> tuple[dict, dict]:
    """(the group's new state, the finding record to send) for one new match of the group."""
    info = finding["finding_info"]
    at = finding["time"]
    in_period = state is not None and suppression.for_ms > 0 and abs(at - state["since"]) < suppression.for_ms
    if not in_period:
        state = {"uid": info["uid"], "since": at, "first_seen": info["first_seen_time"], "count": 1,
                 "matches": [info["uid"]]}
    elif info["uid"] not in state["matches"]:    # else the same match again (redelivered after a restore)
        state = dict(state, count=state["count"] + 1, first_seen=min(state["first_seen"], info["first_seen_time"]),
                     matches=(state["matches"] + [info["uid"]])[-_MAX_MATCHES:])
    repeat = info["uid"] != state["uid"]
    out = copy.deepcopy(finding)
    out["count"] = state["count"]
    out["unmapped"]["chainwatch"]["suppression"] = {
        "by": list(suppression.by), "group": group_values(finding, suppression), "period_ms": suppression.for_ms,
        "count": state["count"], "since": state["since"], "until": state["since"] + suppression.for_ms,
        "match_uid": info["uid"]}
    if repeat:
        out["activity_id"], out["activity_name"] = 2, "Update"
        out["type_uid"], out["type_name"] = 200402, "Detection Finding: Update"
        out["metadata"]["uid"] = out["finding_info"]["uid"] = state["uid"]
        out["finding_info"]["first_seen_time"] = state["first_seen"]
        out["finding_info"]["first_seen_time_dt"] = format_timestamp(state["first_seen"])
        out["message"] = f"Seen {state['count']} times since {format_timestamp(state['since'])}. {out['message']}"
    return state, out
