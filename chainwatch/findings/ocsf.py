"""OCSF 1.3 Detection Finding (class_uid 2004) rendering of a finding."""
from __future__ import annotations

from chainwatch import __version__
from chainwatch.core.providers import provider_name
from chainwatch.core.units import format_timestamp
from chainwatch.findings.attack import attacks
from chainwatch.findings.narrative import narrative

_SEVERITY_ID = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


def _step_summary(step: dict) -> dict:
    evidence = {k: v for k, v in step["evidence"].items()
                if k not in ("event_ids", "event_times", "principal", "account", "region", "cloud", "step")}
    return {"name": step["name"], "step": step["step"], "time": step["time"],
            "time_dt": format_timestamp(step["time"]), "first_time": step["first_time"],
            "event_uids": step["event_ids"], "event_times": _event_times(step), "details": evidence}


def _event_times(step: dict) -> list[int]:
    """Each event's own time; the step's for a step without them (a state from before 2026-11-30)."""
    times = step.get("event_times") or []
    return times if len(times) == len(step["event_ids"]) else [step["time"]] * len(step["event_ids"])


def _endpoints(finding: dict) -> tuple[list, list]:
    destinations, sources = [], []
    for step in finding["steps"]:
        evidence = step["evidence"]
        for dest in evidence.get("destinations", []):
            destinations.append({"ip": dest["ip"], "autonomous_system": {"number": dest.get("asn", 0),
                                 "name": dest.get("as_org", "")},
                                 "location": {"country": dest.get("country", ""), "city": dest.get("city", "")},
                                 "bytes": dest.get("bytes", 0)})
        origins = evidence.get("origins") or ([evidence["origin"]] if evidence.get("origin") else [])
        for origin in origins:
            sources.append({"ip": origin["ip"], "autonomous_system": {"number": origin.get("asn", 0),
                            "name": origin.get("as_org", "")},
                            "location": {"country": origin.get("country", ""), "city": origin.get("city", "")}})
    return sources, destinations


def to_ocsf(finding: dict) -> dict:
    analytic = finding["analytic"]
    principal = finding["principal"]
    sources, destinations = _endpoints(finding)
    related = [{"uid": uid, "type": step["step"], "time": at, "time_dt": format_timestamp(at)}
               for step in finding["steps"] for uid, at in zip(step["event_ids"], _event_times(step))]
    actor = {"user": {"uid": principal["uid"], "name": principal["name"], "type": principal["type"],
                      "account": {"uid": finding["cloud"]["account"]}}}
    if "session" in finding:
        session = finding["session"]
        actor["session"] = {"uid": session["uid"], "uid_alt": session["arn"], "name": session["name"],
                            "issuer": principal["uid"]}
        actor["user"]["outside_account"] = {"uid": session["outside_account"]}
        actor["user"]["outside_principal"] = session["outside_principal"]
    return {
        "class_uid": 2004, "class_name": "Detection Finding", "category_uid": 2, "category_name": "Findings",
        "activity_id": 1, "activity_name": "Create", "type_uid": 200401, "type_name": "Detection Finding: Create",
        "severity_id": _SEVERITY_ID[finding["severity"]], "severity": finding["severity"].capitalize(),
        "status_id": 1, "status": "New",
        "time": finding["last_seen"], "time_dt": format_timestamp(finding["last_seen"]),
        "message": narrative(finding),
        "metadata": {"version": "1.3.0", "uid": finding["uid"],
                     "product": {"name": "chainwatch", "vendor_name": "chainwatch", "version": __version__}},
        "finding_info": {
            "uid": finding["uid"], "title": analytic["name"], "desc": analytic["description"],
            "analytic": {"uid": analytic["id"], "name": analytic["name"], "type_id": 2, "type": "Behavioral"},
            "attacks": attacks(analytic["techniques"], analytic["tactics"]),
            "first_seen_time": finding["first_seen"], "first_seen_time_dt": format_timestamp(finding["first_seen"]),
            "last_seen_time": finding["last_seen"], "last_seen_time_dt": format_timestamp(finding["last_seen"]),
            "related_events": related,
            "types": [s["step"] for s in finding["steps"]],
        },
        "actor": actor,
        "cloud": {"provider": provider_name(finding["cloud"]["provider"]),
                  "account": {"uid": finding["cloud"]["account"]}, "region": finding["cloud"]["region"]},
        "src_endpoints": sources,
        "dst_endpoints": destinations,
        "evidences": [_step_summary(s) for s in finding["steps"]],
        "unmapped": {"chainwatch": {"key": finding["key"], "identity": finding.get("identity"),
                                    "session": finding.get("session"), "window_ms": analytic["window_ms"]}},
    }
