"""OCSF Detection Finding of a coverage finding (coverage.CoverageWatch): an evidence stream turned
off, silent while the audit stream flows, or back. The same document shape as a pattern's
finding (findings.ocsf), so every sink and format (ECS, HEC) takes it as it is.

A gap and its end share one uid: the end is an update (activity Close, status Resolved).
"""
from __future__ import annotations

from chainwatch import __version__
from chainwatch.core.providers import provider_name
from chainwatch.core.units import format_timestamp
from chainwatch.findings.attack import attacks
from chainwatch.steps.coverage_watch import COVERAGE_ANALYTIC, EVIDENCE_NEEDED_BY, describe

_TITLES = {"change": "Evidence stream turned off", "gap": "Evidence stream silent",
           "gap_end": "Evidence stream back"}
_SEVERITY = {"change": (4, "High"), "gap": (3, "Medium"), "gap_end": (1, "Informational")}


def to_ocsf(found: dict) -> dict:
    kind, ts = found["kind"], found["ts"]
    closing = kind == "gap_end"
    severity_id, severity = _SEVERITY[kind]
    streams = found["streams"]
    related = [{"uid": uid, "type": kind, "time": at, "time_dt": format_timestamp(at)}
               for uid, at in zip(found["event_ids"], found["event_times"])]
    details = {"kind": kind, "streams": streams, "blind": [EVIDENCE_NEEDED_BY[s] for s in streams],
               "since": found["since"], "since_dt": format_timestamp(found["since"])}
    if closing:
        details.update(until=found["until"], until_dt=format_timestamp(found["until"]))
    if kind == "change":
        details.update(service=found["service"], action=found["action"], targets=found["targets"],
                       src_ip=found["src_ip"])
    principal = found.get("principal", "")
    return {
        "class_uid": 2004, "class_name": "Detection Finding", "category_uid": 2, "category_name": "Findings",
        "activity_id": 3 if closing else 1, "activity_name": "Close" if closing else "Create",
        "type_uid": 200403 if closing else 200401,
        "type_name": f"Detection Finding: {'Close' if closing else 'Create'}",
        "severity_id": severity_id, "severity": severity,
        "status_id": 4 if closing else 1, "status": "Resolved" if closing else "New",
        "time": ts, "time_dt": format_timestamp(ts),
        "message": f"{COVERAGE_ANALYTIC}: {describe(found)}",
        "metadata": {"version": "1.3.0", "uid": found["uid"],
                     "product": {"name": "chainwatch", "vendor_name": "chainwatch", "version": __version__}},
        "finding_info": {
            "uid": found["uid"], "title": _TITLES[kind],
            "desc": "An evidence stream chainwatch's analytics need was turned off or went silent: "
                    "findings that need it cannot be raised until it is back.",
            "analytic": {"uid": COVERAGE_ANALYTIC, "name": "Evidence stream coverage", "type_id": 1, "type": "Rule"},
            "attacks": attacks(["T1562.008"], ["Defense Evasion"]) if kind == "change" else [],
            "first_seen_time": found["since"], "first_seen_time_dt": format_timestamp(found["since"]),
            "last_seen_time": ts, "last_seen_time_dt": format_timestamp(ts),
            "related_events": related,
            "types": [kind],
        },
        "actor": {"user": {"uid": principal, "name": principal.rsplit("/", 1)[-1],
                           "type": found.get("principal_type", ""), "account": {"uid": found["account"]}}},
        "cloud": {"provider": provider_name(found["cloud"]), "account": {"uid": found["account"]},
                  "region": found.get("region", "")},
        "src_endpoints": [], "dst_endpoints": [],
        "evidences": [{"name": _TITLES[kind], "step": kind, "time": ts, "time_dt": format_timestamp(ts),
                       "first_time": found["since"], "event_uids": found["event_ids"],
                       "event_times": found["event_times"], "details": details}],
        "unmapped": {"chainwatch": {"key": f"{found['cloud']}:{found['account']}", "coverage": details}},
    }
