"""One finding model, built from a CEP match. Formatters (OCSF now; ECS, HEC later) render it.

Nothing here copies credentials: session access key ids are identifiers, not secrets, and
session tokens and secret keys are never parsed out of events in the first place.
"""
from __future__ import annotations

import hashlib
import json

from chainwatch.core.event import principal_type_of
from chainwatch.patterns.pattern import Pattern


_TYPE_NAMES = {"role": "Role", "user": "User", "root": "Root", "service_account": "Service Account",
               "service_principal": "Service Principal", "managed_identity": "Managed Identity",
               "application": "Application", "federated": "Federated"}


def _identity_type(evidence: dict) -> str:
    kind = evidence.get("principal_type") or principal_type_of(evidence["principal"])
    return _TYPE_NAMES.get(kind, "Other")


def finding_uid(pattern_id: str, key: str, steps: list[dict]) -> str:
    """Stable across replays and restarts: the analytic, the key and each step's first event."""
    basis = "|".join([pattern_id, key] + [(s["event_ids"] or [""])[0] for s in steps])
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def build_finding(pattern: Pattern, match: dict) -> dict:
    """match: the MATCH_RECOGNIZE row as a dict (match_key, account, region, cloud, sN_ts, sN_evidence)."""
    steps = []
    for n, step in enumerate(pattern.steps, start=1):
        evidence = json.loads(match[f"s{n}_evidence"])
        steps.append({"name": step.name, "step": step.step, "time": match[f"s{n}_ts"],
                      "first_time": evidence.get("first_ts", evidence["ts"]),
                      "event_ids": evidence.get("event_ids", []), "event_times": evidence.get("event_times", []),
                      "evidence": evidence})
    first = steps[0]["evidence"]
    principal = first["principal"]
    finding = {
        "uid": finding_uid(pattern.id, match["match_key"], steps),
        "analytic": {"id": pattern.id, "name": pattern.name, "description": pattern.description,
                     "techniques": list(pattern.techniques), "tactics": list(pattern.tactics),
                     "window_ms": pattern.window_ms},
        "severity": pattern.severity,
        "key": {"name": pattern.key, "value": match["match_key"]},
        "principal": {"uid": principal, "type": _identity_type(first),
                      "name": first.get("principal_name") or principal.rsplit("/", 1)[-1]},
        "cloud": {"provider": match["cloud"], "account": match["account"], "region": match["region"]},
        "first_seen": min(s["first_time"] for s in steps),
        "last_seen": max(s["time"] for s in steps),
        "steps": steps,
    }
    if pattern.key == "session":
        entry = steps[0]["evidence"]
        finding["session"] = {"uid": entry.get("session", ""), "arn": entry.get("session_arn", ""),
                              "name": entry.get("session_name", ""), "method": entry.get("method", ""),
                              "outside_account": entry.get("outside_account", ""),
                              "outside_principal": entry.get("caller", "")}
    for step in steps:
        evidence = step["evidence"]
        if "created_at" in evidence or evidence.get("basis"):
            finding["identity"] = {"created_at": evidence.get("created_at"), "first_seen": evidence.get("first_seen"),
                                   "age_ms_at_first_step": evidence.get("identity_age_ms"),
                                   "basis": evidence.get("basis"), "created_by": evidence.get("created_by")}
    return finding
