"""A finding's `message`: one paragraph an analyst reads in ten seconds, with the numbers.

Who, then each step as a clause with its figures (what, how much, against which baseline, to or
from where), each step after the first with how long after the one before it:

  AN1328: svc-sync (Role, AWS account 111122223333) was created 2026-11-05 10:00:00Z by
  arn:aws:iam::111122223333:user/alice; 12m later it read 450 objects (1.2 GB) from 3 buckets
  (a, b, c) within 9m 40s, 56x the peer group's baseline of 8 reads per 10m; 25m later it sent
  1.5 GB in 12 transfers to 45.155.205.17 (XHOST-NET, AS208091, RU).

A step kind without a clause here still gets one naming it. Only evidence fields are used, never
raw event payloads.
"""
from __future__ import annotations

from chainwatch.core.units import format_size as size, format_timestamp

_ACCOUNT_WORD = {"aws": "AWS account", "gcp": "GCP project", "azure": "Azure subscription"}
_LIST = 3        # names listed before "..."


def duration(ms: int) -> str:
    """12m 3s, 1h 5m, 2d 4h, 40s, 0s: the two largest units."""
    seconds = max(0, int(ms) // 1000)
    parts = []
    for unit, span in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= span or (unit == "s" and not parts):
            parts.append(f"{seconds // span}{unit}")
            seconds %= span
    return " ".join(parts[:2])


def when(ms) -> str:
    return format_timestamp(ms).replace("T", " ").replace(".000Z", "Z") if ms is not None else "at an unknown time"


def _names(items, count: int | None = None) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:_LIST])
    more = (count or len(items)) > _LIST
    return shown + (", ..." if more else "")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _place(geo: dict) -> str:
    """45.155.205.17 (XHOST-NET, AS208091, RU), leaving out what the GeoIP data did not know."""
    known = [geo.get("as_org"), f"AS{geo['asn']}" if geo.get("asn") else "", geo.get("country")]
    known = [k for k in known if k]
    return f"{geo.get('ip', '?')} ({', '.join(known)})" if known else str(geo.get("ip", "?"))


def _new_identity(ev: dict) -> str:
    if ev.get("basis") == "created":
        by = f" by {ev['created_by']}" if ev.get("created_by") else ""
        return f"was created {when(ev.get('created_at'))}{by}"
    return f"was first seen {when(ev.get('first_seen'))}, with no creation on record"


def _spike(ev: dict) -> str:
    reads, baseline = ev.get("reads", 0), ev.get("baseline") or 0
    span = duration(ev.get("last_ts", 0) - ev.get("first_ts", 0))
    buckets = ev.get("buckets", [])
    count = ev.get("bucket_count", len(buckets))
    where = f" from {_plural(count, 'bucket')} ({_names(buckets, count)})" if buckets else ""
    whose = "its own" if ev.get("baseline_basis") == "own" else "the peer group's"
    if ev.get("peer_group"):        # learned from its peers (steps.peers)
        whose = f"its {ev.get('peers', 0)} peers' ({ev['peer_group']}) learned"
    against = f"{reads / baseline:.0f}x {whose} baseline of {baseline:g} reads per {duration(ev.get('window_ms', 0))}" \
        if baseline else f"with no baseline (threshold {ev.get('threshold', 0):g} reads)"
    return f"read {_plural(reads, 'object')} ({size(ev.get('bytes', 0))}){where} within {span}, {against}"


def _exfiltration(ev: dict) -> str:
    destinations = ev.get("destinations", [])
    text = f"sent {size(ev.get('bytes', 0))} in {_plural(ev.get('transfers', 0), 'transfer')} to "
    if len(destinations) == 1:
        return text + _place(destinations[0])
    return text + _plural(len(destinations), "external destination") + \
        (f", most to {_place(destinations[0])}" if destinations else "")


def _entry(ev: dict) -> str:
    outsider = ev.get("caller") or "an outside principal"
    home = f" of {ev['outside_account']}" if ev.get("outside_account") else ""
    text = f"was entered by {outsider}{home} via {ev.get('method') or 'an assumption'}"
    text += f" from {ev['src_ip']}" if ev.get("src_ip") else ""
    for outside in ev.get("allowlist", []):
        text += f", outside allowlist entry {outside['id']} ({'; '.join(outside['outside'])})"
    return text


def _burst(ev: dict) -> str:
    actions = list(dict.fromkeys(c["action"] for c in ev.get("calls", [])))
    span = duration(ev.get("last_ts", 0) - ev.get("first_ts", 0))
    what = f" ({', '.join(ev.get('categories', []))}: {_names(actions)})" if actions else ""
    return f"made {_plural(ev.get('call_count', 0), 'privileged call')} within {span} in that session{what}"


def _origin(ev: dict) -> str:
    origins = ev.get("origins", [])
    if not origins:
        return "was reached from an unfamiliar network"
    first = origins[0]
    new = " and ".join(w for w, flag in (("network", first.get("new_network")), ("country", first.get("new_country")))
                       if flag) or "origin"
    return f"was reached from {_place(first)}, a {new} new to it" + \
        (f" (and {_plural(len(origins) - 1, 'more access')} like it)" if len(origins) > 1 else "")


CLAUSES = {"new_identity": _new_identity, "object_access_spike": _spike, "external_exfiltration": _exfiltration,
           "cross_account_entry": _entry, "privileged_burst": _burst, "unfamiliar_origin": _origin}


def clause(step: dict) -> str:
    describe = CLAUSES.get(step["step"])
    return describe(step["evidence"]) if describe else f"completed the step {step['name']}"


def narrative(finding: dict) -> str:
    principal, cloud = finding["principal"], finding["cloud"]
    account = f"{_ACCOUNT_WORD.get(cloud['provider'], 'account')} {cloud['account']}"
    parts = []
    for n, step in enumerate(finding["steps"]):
        if n == 0:
            parts.append(clause(step))
        else:
            gap = step["time"] - finding["steps"][n - 1]["time"]
            parts.append(f"{duration(gap)} later it {clause(step)}" if gap >= 1000 else f"and it {clause(step)}")
    return f"{finding['analytic']['id']}: {principal['name']} ({principal['type']}, {account}) {'; '.join(parts)}."
