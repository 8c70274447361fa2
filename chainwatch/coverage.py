"""Blind spots: which evidence streams each account / project / subscription actually sends,
and the events that turn one off. An account whose object-access or flow logs are absent, or
whose trail was just stopped, cannot produce AN1328 or AN1348 findings: say so, never stay silent.
"""
from __future__ import annotations

from chainwatch.units import format_timestamp

# Which analytic step goes blind without each evidence stream.
EVIDENCE_NEEDED_BY = {
    "audit": "AN1328 steps 1-2 and all of AN1348 (control-plane audit logs)",
    "object_access": "AN1328 step 2 (object-access logs: S3 data events, GCS data access, storage logs)",
    "flow": "AN1328 step 3 by network (flow logs); only downloads from external IPs remain visible",
}
_LOGGING_CATEGORY = "logging_change"


def evidence_of(event: dict) -> str | None:
    kind = event["kind"]
    if kind == "object_access":
        return "object_access"
    if kind == "flow":
        return "flow"
    return "audit" if kind == "api" else None


def observe(coverage: dict, event: dict, reference) -> None:
    """Count the event's evidence stream for its account; note calls that turn logging off."""
    evidence = evidence_of(event)
    if evidence is None:
        return
    account = f"{event['cloud']}:{event['account']}"
    per_account = coverage.setdefault("accounts", {}).setdefault(account, {})
    per_account[evidence] = per_account.get(evidence, 0) + 1
    if evidence == "audit" and event["success"] and reference.privileged_category(
            event["cloud"], event["service"], event["action"]) == _LOGGING_CATEGORY:
        coverage.setdefault("logging_changes", []).append(
            {"account": account, "action": event["action"], "service": event["service"],
             "principal": event["principal"], "ts": event["ts"], "id": event["id"]})


def merge(total: dict, part: dict) -> None:
    for account, counts in part.get("accounts", {}).items():
        mine = total.setdefault("accounts", {}).setdefault(account, {})
        for evidence, n in counts.items():
            mine[evidence] = mine.get(evidence, 0) + n
    total.setdefault("logging_changes", []).extend(part.get("logging_changes", []))


def blind_spots(coverage: dict) -> list[str]:
    """One line per gap: an account missing an evidence stream, or a logging change seen."""
    lines = []
    for account, counts in sorted(coverage.get("accounts", {}).items()):
        for evidence, needed_by in EVIDENCE_NEEDED_BY.items():
            if not counts.get(evidence):
                lines.append(f"{account}: no {evidence.replace('_', '-')} events -> blind: {needed_by}")
    for change in sorted(coverage.get("logging_changes", []), key=lambda c: c["ts"]):
        lines.append(f"{change['account']}: {change['service']} {change['action']} by {change['principal']} at "
                     f"{format_timestamp(change['ts'])} (event {change['id']}): an evidence stream may have stopped")
    return lines
