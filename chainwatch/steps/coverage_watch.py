"""Blind spots: which evidence streams each account / project / subscription sends, the calls that
turn one off, and the gaps while it is silent. An account whose object-access or flow logs are
absent, or whose trail was just stopped, cannot produce AN1328 or AN1348 findings: say so, never
stay silent. No PyFlink here.

Two views:
  * counts (observe, merge, blind_spots): per account and stream over a replay, for its summary
    ("no flow events -> blind: ...");
  * coverage findings (CoverageWatch), in `run` and replay alike, keyed by account in event time:
      - a change: a call that really reduces an evidence stream (conf/*/evidence_changes.yaml,
        marked by parsers.evidence): StopLogging, DeleteFlowLogs, deleting the bucket or log group
        a trail or flow log writes to, ... Deleting any other log group or stream is housekeeping.
      - a gap: the account's audit stream flows while its object-access or flow stream, steady
        before (events in STEADY_HOURS of the hours before it stopped: a stream that only comes
        now and then has no gaps, only pauses), has been silent for `coverage.silence`; an
        end-of-gap update (same uid) when it returns.
    What the watch sees of each stream are beats (Beats, in the parse operator): one per
    account, stream and beat span of event time (beat_ms: an eighth of the silence, between a
    minute and an hour), so it costs a few elements an hour per account, not one per event.
"""
from __future__ import annotations

import hashlib

from chainwatch.core.units import format_timestamp

# Which analytic step goes blind without each evidence stream.
EVIDENCE_NEEDED_BY = {
    "audit": "AN1328 steps 1-2 and all of AN1348 (control-plane audit logs)",
    "object_access": "AN1328 step 2 (object-access logs: S3 data events, GCS data access, storage logs)",
    "flow": "AN1328 step 3 by network (flow logs); only downloads from external IPs remain visible",
}
MINUTE_MS = 60_000
HOUR_MS = 3600_000
STEADY_HOURS = (3, 4)           # events in 3 of the 4 hours up to its last: a steady stream
COVERAGE_ANALYTIC = "CW-COVERAGE"
_MAX_CHANGES_KEPT = 200         # change event ids remembered per account: a redelivery is not raised twice


def evidence_of(event: dict) -> str | None:
    kind = event["kind"]
    if kind == "object_access":
        return "object_access"
    if kind == "flow":
        return "flow"
    return "audit" if kind == "api" else None


def account_key(event: dict) -> str:
    return f"{event['cloud']}:{event['account']}"


def observe(coverage: dict, event: dict) -> None:
    """Count the event's evidence stream for its account (the replay summary)."""
    evidence = evidence_of(event)
    if evidence is None:
        return
    per_account = coverage.setdefault("accounts", {}).setdefault(account_key(event), {})
    per_account[evidence] = per_account.get(evidence, 0) + 1


def merge(total: dict, part: dict) -> None:
    for account, counts in part.get("accounts", {}).items():
        mine = total.setdefault("accounts", {}).setdefault(account, {})
        for evidence, n in counts.items():
            mine[evidence] = mine.get(evidence, 0) + n


def blind_spots(coverage: dict) -> list[str]:
    """One line per account missing an evidence stream altogether."""
    lines = []
    for account, counts in sorted(coverage.get("accounts", {}).items()):
        for evidence, needed_by in EVIDENCE_NEEDED_BY.items():
            if not counts.get(evidence):
                lines.append(f"{account}: no {evidence.replace('_', '-')} events -> blind: {needed_by}")
    return lines


def beat_ms(silence_ms: int) -> int:
    """The span a beat stands for: fine enough to tell `silence`, coarse enough to be cheap (at
    one per minute, a replay of 25 accounts over 3 days had 91,000 beats for 228,000 events)."""
    return min(max(silence_ms // 8, MINUTE_MS), HOUR_MS)


class Beats:
    """One beat per account, stream and beat span of event time, from the events a parse
    operator sees: what CoverageWatch needs to tell a stream's silence."""

    def __init__(self, span_ms: int, limit: int = 100_000):
        self.sent: set = set()
        self.span_ms, self.limit = span_ms, limit

    def observe(self, event: dict) -> dict | None:
        stream = evidence_of(event)
        if stream is None:
            return None
        slot = event["ts"] // self.span_ms
        key = (event["cloud"], event["account"], stream, slot)
        if key in self.sent:
            return None
        if len(self.sent) >= self.limit:     # a beat sent twice is harmless: forget, do not grow
            self.sent.clear()
        self.sent.add(key)
        return {"kind": "beat", "id": f"beat:{event['cloud']}:{event['account']}:{stream}:{slot}",
                "ts": slot * self.span_ms, "cloud": event["cloud"], "account": event["account"], "stream": stream}


def _uid(*parts) -> str:
    return hashlib.sha256("|".join(["coverage", *map(str, parts)]).encode()).hexdigest()[:32]


class CoverageWatch:
    """Coverage findings (finding dicts for findings.coverage) from one account's beats and
    marked calls, in event-time order, over that account's plain state."""

    def __init__(self, silence_ms: int):
        self.silence_ms, self.beat_ms = silence_ms, beat_ms(silence_ms)

    def process(self, state: dict, event: dict) -> list[dict]:
        if event["kind"] == "beat":
            return self._beat(state, event)
        evidence = event.get("evidence")
        if not evidence:
            return []
        if evidence["role"] == "destination":
            for target in evidence["targets"].split():
                state.setdefault("destinations", {})[target] = evidence["stream"]
            return []
        return self._change(state, event, evidence)

    def _beat(self, state: dict, beat: dict) -> list[dict]:
        stream, ts, found = beat["stream"], beat["ts"], []
        last, gaps = state.setdefault("last", {}), state.setdefault("gaps", {})
        gap = gaps.pop(stream, None)
        if gap is not None:
            found.append(dict(gap, kind="gap_end", until=ts, ts=ts))
        last[stream] = max(last.get(stream, ts), ts)
        hours = state.setdefault("hours", {}).setdefault(stream, [])
        if ts // HOUR_MS not in hours:
            hours.append(ts // HOUR_MS)
            hours.sort()
            del hours[:-STEADY_HOURS[1]]
        if stream == "audit":
            for other, seen in sorted(last.items()):
                if other != "audit" and other not in gaps and ts - seen >= self.silence_ms \
                        and self._steady(state["hours"].get(other, []), seen):
                    gaps[other] = {"kind": "gap", "uid": _uid("gap", beat["cloud"], beat["account"], other, seen),
                                   "cloud": beat["cloud"], "account": beat["account"], "streams": [other],
                                   "since": seen + self.beat_ms, "ts": ts, "event_ids": [], "event_times": []}
                    found.append(dict(gaps[other]))
        return found

    @staticmethod
    def _steady(hours: list, last_seen: int) -> bool:
        needed, of = STEADY_HOURS
        last_hour = last_seen // HOUR_MS
        return sum(1 for h in hours if last_hour - of < h <= last_hour) >= needed

    def _change(self, state: dict, event: dict, evidence: dict) -> list[dict]:
        targets = evidence["targets"].split()
        if evidence["when"] == "log_destination":
            destinations = state.get("destinations", {})
            streams = sorted({destinations[t] for t in targets if t in destinations})
            if not streams:          # housekeeping: no trail or flow log writes there
                return []
        else:
            streams = [evidence["stream"]]
        seen = state.setdefault("changes", [])
        if event["id"] in seen:
            return []
        seen.append(event["id"])
        del seen[:-_MAX_CHANGES_KEPT]
        return [{"kind": "change", "uid": _uid("change", event["id"]), "cloud": event["cloud"],
                 "account": event["account"], "region": event.get("region", ""), "streams": streams,
                 "ts": event["ts"], "since": event["ts"], "service": event["service"], "action": event["action"],
                 "principal": event.get("principal", ""), "principal_type": event.get("principal_type", ""),
                 "src_ip": event.get("src_ip", ""), "targets": targets,
                 "event_ids": [event["id"]], "event_times": [event["ts"]]}]


def describe(found: dict) -> str:
    """One line for the replay summary and the finding's message."""
    blind = "; ".join(EVIDENCE_NEEDED_BY[s] for s in found["streams"])
    streams = ", ".join(s.replace("_", "-") for s in found["streams"])
    where = f"{found['cloud']}:{found['account']}"
    if found["kind"] == "change":
        targets = f" ({', '.join(found['targets'])})" if found["targets"] else ""
        return (f"{where}: {found['service']} {found['action']}{targets} by {found['principal'] or 'unknown'} at "
                f"{format_timestamp(found['ts'])} turned off its {streams} evidence -> blind: {blind}")
    if found["kind"] == "gap":
        return (f"{where}: no {streams} events since {format_timestamp(found['since'])} while its audit events "
                f"continue -> blind: {blind}")
    return (f"{where}: {streams} events back at {format_timestamp(found['until'])} after a gap since "
            f"{format_timestamp(found['since'])}")
