"""ECS 8.x alert document for Elastic, converted from the OCSF Detection Finding.

Why from OCSF and not from the finding model: the pipeline's findings stream carries OCSF JSON
strings (replay, `chainwatch test` and every sink read them), so formatting at the sink keeps
one pipeline graph and one stream type. The OCSF document is a complete rendering of the
finding model: analytic, principal and type, session, identity age, cloud, every step's
evidence and event ids, endpoints with ASN and geo (tests/unit/test_formats.py checks that
every one of them reaches the ECS document).

ECS fields hold what ECS defines (event.*, rule.*, threat.*, user.*, cloud.*, source.*,
destination.*, related.*); everything chainwatch-specific sits under `chainwatch.*` (custom
fields are namespaced so they never collide with a future ECS field). Map `chainwatch.steps`
as `flattened` in the index template: step details differ per step type.
"""
from __future__ import annotations

from chainwatch.core.units import format_timestamp
from chainwatch.findings.attack import TACTICS, TECHNIQUES, tactic_reference, technique_reference
from chainwatch.steps.registry import ecs_categories

ECS_VERSION = "8.11.0"

# ECS event.category per step (a finding is always intrusion_detection); event.type "info"
# is an expected type of each of these categories.


def _unique(values) -> list:
    return list(dict.fromkeys(v for v in values if v))


def _endpoint(endpoint: dict) -> dict:
    """OCSF network endpoint -> ECS source/destination fields (empty values left out)."""
    result = {"ip": endpoint["ip"]}
    location = endpoint.get("location") or {}
    geo = {"country_iso_code": location.get("country"), "city_name": location.get("city")}
    if any(geo.values()):
        result["geo"] = {k: v for k, v in geo.items() if v}
    system = endpoint.get("autonomous_system") or {}
    if system.get("number"):
        result["as"] = {"number": system["number"], "organization": {"name": system.get("name", "")}}
    if "bytes" in endpoint:
        result["bytes"] = endpoint["bytes"]
    return result


def _threat(attacks: list[dict]) -> dict:
    """ECS threat.*: parallel arrays (ECS `normalize: array`); a sub-technique also names its parent."""
    techniques, subtechniques, tactics = [], [], []
    for attack in attacks:
        uid = attack.get("technique", {}).get("uid", "")
        if "." in uid:
            subtechniques.append(uid)
            uid = uid.split(".")[0]
        techniques.append(uid)
        tactics.extend(t["name"] for t in attack.get("tactics", []))
    threat = {"framework": "MITRE ATT&CK"}
    if techniques:
        threat["technique"] = _techniques(_unique(techniques))
        if subtechniques:
            threat["technique"]["subtechnique"] = _techniques(_unique(subtechniques))
    tactics = _unique(tactics)
    if tactics:
        threat["tactic"] = {"id": [TACTICS.get(n, "") for n in tactics], "name": tactics,
                            "reference": [tactic_reference(TACTICS[n]) if n in TACTICS else "" for n in tactics]}
    return threat


def _techniques(ids: list[str]) -> dict:
    return {"id": ids, "name": [TECHNIQUES.get(i, "") for i in ids], "reference": [technique_reference(i) for i in ids]}


def to_ecs(ocsf: dict) -> dict:
    info = ocsf["finding_info"]
    analytic = info["analytic"]
    user = ocsf["actor"]["user"]
    session = ocsf["actor"].get("session")
    extra = ocsf.get("unmapped", {}).get("chainwatch", {})
    steps = info["types"]
    sources = [_endpoint(e) for e in ocsf.get("src_endpoints", [])]
    destinations = [_endpoint(e) for e in ocsf.get("dst_endpoints", [])]
    provider = ocsf["cloud"]["provider"].lower()
    account = ocsf["cloud"]["account"]["uid"]

    doc = {
        "@timestamp": format_timestamp(ocsf["time"]),
        "ecs": {"version": ECS_VERSION},
        "message": ocsf["message"],
        "tags": ["chainwatch", analytic["uid"]],
        "event": {
            "kind": "alert",
            "category": ["intrusion_detection"] + _unique(c for s in steps for c in ecs_categories(s)),
            "type": ["info"],
            "id": info["uid"],
            "severity": ocsf["severity_id"],
            "start": format_timestamp(info["first_seen_time"]),
            "end": format_timestamp(info["last_seen_time"]),
            "duration": (info["last_seen_time"] - info["first_seen_time"]) * 1_000_000,  # nanoseconds
            "module": "chainwatch",
            "dataset": "chainwatch.finding",
        },
        "rule": {
            "id": analytic["uid"], "name": analytic["name"], "description": info.get("desc", ""),
            "reference": [technique_reference(a["technique"]["uid"]) for a in info.get("attacks", [])],
            "ruleset": "chainwatch", "version": ocsf["metadata"]["product"]["version"],
        },
        "threat": _threat(info.get("attacks", [])),
        "observer": {"vendor": "chainwatch", "product": "chainwatch",
                     "version": ocsf["metadata"]["product"]["version"]},
        "user": {"id": user["uid"], "name": user["name"]},
        "cloud": {"provider": provider, "account": {"id": account}},
        "related": {"ip": _unique([e["ip"] for e in sources + destinations]),
                    "user": _unique([user["uid"], user["name"], user.get("outside_principal"),
                                     (extra.get("identity") or {}).get("created_by")])},
        "chainwatch": {
            "finding_uid": info["uid"],
            "analytic": {"id": analytic["uid"], "window_ms": extra.get("window_ms")},
            "severity": ocsf["severity"].lower(),
            "key": extra.get("key"),
            "principal": {"uid": user["uid"], "name": user["name"], "type": user["type"]},
            "identity": extra.get("identity"),
            "session": extra.get("session"),
            "suppression": extra.get("suppression"),       # the group, its count, the period
            "steps": ocsf["evidences"],
            "sources": sources,
            "destinations": destinations,
        },
    }
    # A field left out is "unknown"; an empty string would be a value to search and aggregate.
    doc["chainwatch"] = {k: v for k, v in doc["chainwatch"].items() if v is not None}
    if ocsf["cloud"].get("region"):
        doc["cloud"]["region"] = ocsf["cloud"]["region"]
    if provider == "gcp":
        doc["cloud"]["project"] = {"id": account}
    if sources:
        doc["source"] = dict(sources[0])
    if destinations:
        # One entity per ECS endpoint: the destination that received the most bytes; all of
        # them are under chainwatch.destinations and related.ip.
        doc["destination"] = dict(max(destinations, key=lambda d: d.get("bytes", 0)))
    if session:
        outside = user.get("outside_principal")
        if outside:
            doc.setdefault("source", {})["user"] = {"id": outside}
        if user.get("outside_account", {}).get("uid"):
            doc["cloud"]["origin"] = {"account": {"id": user["outside_account"]["uid"]}}
    return doc
