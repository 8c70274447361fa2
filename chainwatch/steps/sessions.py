"""Cross-account / third-party entry and the privileged burst of the session it created.

Entry: AssumeRole by a caller from another account that is neither in the organisation nor
trusted; AssumeRoleWithSAML / AssumeRoleWithWebIdentity (a third-party identity) unless the
provider is trusted. Burst: `min_calls` privileged calls (conf catalog) by that session within
`span`. Origin: once the burst stands, the session's access (entry and calls) is judged for
unfamiliar networks; the step follows the burst so the chain reads entry -> burst -> origin.
"""
from __future__ import annotations

from chainwatch.core.wording import duration, names, plural
from chainwatch.steps import CROSS_ACCOUNT_ENTRY, PRIVILEGED_BURST, UNFAMILIAR_ORIGIN

_MAX_CALLS = 200
# Entry methods where the caller is a third-party identity (an identity provider vouches for it),
# not a principal of another account: outside by nature unless the provider is trusted.
FEDERATED_METHODS = frozenset({"SAML", "WebIdentity", "WorkloadIdentityFederation"})


def entry_reason(assume: dict, role_account: str, org_accounts, trusted_accounts, trusted_principals) -> str | None:
    """Why this assumption is an outside entry, or None when it is not one.

    `account` is the caller's home: AWS account, GCP project or domain, Azure tenant."""
    caller, account = assume["caller"], assume["caller_account"]
    if caller in trusted_principals or account in trusted_principals:
        return None
    if assume["method"] in FEDERATED_METHODS:
        return f"federated third-party identity via {assume['method']} ({account or 'unknown provider'})"
    if not account or account == role_account or account in org_accounts or account in trusted_accounts:
        return None
    return f"principal of {account} outside the organisation"


def start_session(state: dict, event: dict, reason: str) -> dict:
    assume = event["assume"]
    sessions = state.setdefault("sessions", {})
    earlier = sessions.get(assume["session"])
    session = {"entry_ts": event["ts"], "entry_id": event["id"], "reason": reason, "calls": [],
               "origins": [], "burst_emitted": False, "origin_emitted": False,
               "caller": assume["caller"], "caller_account": assume["caller_account"], "method": assume["method"]}
    if earlier is not None:
        # A re-entry into a live session (token refresh, a second sign-in) keeps what the session
        # did so far: a burst that straddles a refresh is still one burst.
        session.update(calls=earlier["calls"], origins=earlier["origins"],
                       burst_emitted=earlier["burst_emitted"], origin_emitted=earlier["origin_emitted"])
    sessions[assume["session"]] = session
    return {
        "step": CROSS_ACCOUNT_ENTRY, "ts": event["ts"], "event_ids": [event["id"]], "event_times": [event["ts"]],
        "reason": reason,
        "role": assume["role"], "session": assume["session"], "session_arn": assume["session_arn"],
        "session_name": assume["session_name"], "method": assume["method"], "caller": assume["caller"],
        "caller_type": assume.get("caller_type", ""), "outside_account": assume["caller_account"],
        "external_id_used": assume.get("external_id_used", False), "src_ip": event.get("src_ip", ""),
    }


def caller_of(session: dict) -> dict:
    """Who entered the session, as the assumption named them (allowlist.Entry.covers)."""
    return {"caller": session["caller"], "caller_account": session["caller_account"],
            "method": session.get("method", "")}


def expire(state: dict, ts: int, ttl_ms: int) -> None:
    sessions = state.get("sessions", {})
    for key in [k for k, s in sessions.items() if ts - s["entry_ts"] > ttl_ms]:
        del sessions[key]


def note_origin(session: dict, verdict: dict, event: dict) -> None:
    if len(session["origins"]) < _MAX_CALLS:
        session["origins"].append(dict(verdict, event_id=event["id"], event_ts=event["ts"]))


def observe_call(session: dict, event: dict, category: str | None, span_ms: int, min_calls: int) -> list[dict]:
    """Steps a session call completes: the burst, then the unfamiliar origin behind it."""
    steps = []
    ts = event["ts"]
    if category and len(session["calls"]) < _MAX_CALLS:
        session["calls"].append({"ts": ts, "id": event["id"], "action": event["action"],
                                 "service": event["service"], "category": category,
                                 "success": event["success"], "src_ip": event.get("src_ip", "")})
    recent = [c for c in session["calls"] if c["ts"] > ts - span_ms]
    if category and not session["burst_emitted"] and len(recent) >= min_calls:
        session["burst_emitted"] = True
        steps.append({"step": PRIVILEGED_BURST, "ts": ts, "first_ts": recent[0]["ts"], "last_ts": ts,
                      "calls": recent, "call_count": len(recent), "min_calls": min_calls, "span_ms": span_ms,
                      "categories": sorted({c["category"] for c in recent}),
                      "event_ids": [c["id"] for c in recent], "event_times": [c["ts"] for c in recent]})
    if session["burst_emitted"] and not session["origin_emitted"]:
        unfamiliar = [o for o in session["origins"] if o["unfamiliar"]]
        if unfamiliar:
            session["origin_emitted"] = True
            times = {o["event_id"]: o.get("event_ts", ts) for o in unfamiliar}   # event_ts: states before 2026-11-30
            steps.append({"step": UNFAMILIAR_ORIGIN, "ts": ts, "origins": unfamiliar[:20],
                          "event_ids": sorted(times), "event_times": [times[i] for i in sorted(times)]})
    return steps


def entry_clause(ev: dict) -> str:
    """The narrative's words for this step, from its evidence."""
    outsider = ev.get("caller") or "an outside principal"
    home = f" of {ev['outside_account']}" if ev.get("outside_account") else ""
    text = f"was entered by {outsider}{home} via {ev.get('method') or 'an assumption'}"
    text += f" from {ev['src_ip']}" if ev.get("src_ip") else ""
    for outside in ev.get("allowlist", []):
        text += f", outside allowlist entry {outside['id']} ({'; '.join(outside['outside'])})"
    return text


def burst_clause(ev: dict) -> str:
    """The narrative's words for this step, from its evidence."""
    actions = list(dict.fromkeys(c["action"] for c in ev.get("calls", [])))
    span = duration(ev.get("last_ts", 0) - ev.get("first_ts", 0))
    what = f" ({', '.join(ev.get('categories', []))}: {names(actions)})" if actions else ""
    return f"made {plural(ev.get('call_count', 0), 'privileged call')} within {span} in that session{what}"
