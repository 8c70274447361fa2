"""`chainwatch explain`: a finding's chain as a terminal timeline.

Reads OCSF findings as the sinks write them (a JSON document, JSON Lines, a folder of .jsonl
files, or Splunk HEC envelopes around OCSF) and prints who, the message, every related event in
time order with its step and the time since the chain began, and each step's figures.
"""
from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

from chainwatch.core.errors import ChainwatchError, Problem
from chainwatch.core.wording import duration, when
from chainwatch.findings.narrative import clause

_EVENTS_PER_STEP = 10       # a spike cites up to job.max_event_ids_per_step reads: show the first ones


def _documents(path: Path):
    """(where, OCSF finding) for every finding in a file or a folder of .jsonl / .json files."""
    files = sorted(p for p in path.rglob("*") if p.suffix in (".jsonl", ".json") and p.is_file()) \
        if path.is_dir() else [path]
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ChainwatchError([Problem(str(file), "", f"cannot read it: {type(exc).__name__}")]) from None
        stripped = text.strip()
        if stripped.startswith("{") and "\n{" not in stripped:
            lines = [(1, stripped)]          # one document, possibly pretty-printed
        else:
            lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        for number, line in lines:
            try:
                document = json.loads(line)
            except json.JSONDecodeError:
                raise ChainwatchError([Problem(str(file), "", "not a JSON finding", number)]) from None
            if isinstance(document, dict) and isinstance(document.get("event"), dict):
                document = document["event"]          # a Splunk HEC envelope
            if not isinstance(document, dict) or document.get("class_uid") != 2004:
                kind = "an ECS document" if isinstance(document, dict) and "ecs" in document else "not an OCSF finding"
                raise ChainwatchError([Problem(str(file), "", f"{kind}: explain reads OCSF Detection Findings "
                                               "(class_uid 2004; sinks format: ocsf)", number)])
            yield f"{file}:{number}", document


def load_finding(path: str, uid: str | None = None) -> dict:
    """The finding in `path` (the one with `uid` when given; else the file must hold one)."""
    source = Path(path)
    if not source.exists():
        raise ChainwatchError([Problem(path, "", "no such file or folder")])
    found = list(_documents(source))
    if uid is not None:
        matches = [doc for _where, doc in found if doc.get("finding_info", {}).get("uid") == uid]
        if not matches:
            raise ChainwatchError([Problem(path, "", f"no finding with uid {uid} among its {len(found)} findings")])
        return matches[-1]         # the latest record of that finding
    if len(found) != 1:
        uids = ", ".join(doc.get("finding_info", {}).get("uid", "?") for _where, doc in found[:5])
        raise ChainwatchError([Problem(path, "", f"holds {len(found)} findings; name one: chainwatch explain UID "
                                       f"--findings {path} (uids: {uids}{', ...' if len(found) > 5 else ''})")])
    return found[0][1]


def _table(rows: list[tuple], headers: tuple) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    line = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()     # noqa: E731
    return [line(headers), line(tuple("-" * w for w in widths))] + [line(r) for r in rows]


def timeline(finding: dict, width: int | None = None) -> str:
    """The finding as text: header, message, the related events in time order, each step's figures."""
    width = width or min(shutil.get_terminal_size((120, 20)).columns, 160)
    info, actor = finding["finding_info"], finding["actor"]
    user, cloud = actor["user"], finding.get("cloud", {})
    out = [f"{info['analytic']['uid']}  {info['title']}  [{finding.get('severity', '')}]",
           f"uid {info['uid']}   {user.get('type', '')} {user['uid']}   {cloud.get('provider', '')} "
           f"{cloud.get('account', {}).get('uid', '')} {cloud.get('region', '')}".rstrip()]
    if "session" in actor:
        out.append(f"session {actor['session']['uid']}   from {user.get('outside_principal', '')} "
                   f"of {user.get('outside_account', {}).get('uid', '')}")
    out += [""] + textwrap.wrap(finding.get("message", ""), width) + [""]
    steps = finding.get("evidences", [])
    names = {s["step"]: s["name"] for s in steps}
    events = sorted(info.get("related_events", []), key=lambda e: e.get("time", 0))
    start = events[0].get("time", 0) if events else 0
    rows, shown = [], {}
    for event in events:
        shown[event["type"]] = shown.get(event["type"], 0) + 1
        if shown[event["type"]] <= _EVENTS_PER_STEP:
            rows.append((when(event.get("time")), duration(event.get("time", start) - start),
                         names.get(event["type"], event["type"]), event["uid"]))
    if rows:
        out += _table(rows, ("time (UTC)", "after", "step", "event"))
    hidden = {t: n - _EVENTS_PER_STEP for t, n in shown.items() if n > _EVENTS_PER_STEP}
    out += [f"  ... and {n:,} more {names.get(t, t)} events" for t, n in hidden.items()]
    out.append("")
    for n, step in enumerate(steps, start=1):
        text = clause({"step": step["step"], "name": step["name"], "evidence": step.get("details", {})})
        out += textwrap.wrap(f"{n}. {step['name']} ({when(step.get('time'))}): {text}", width,
                             subsequent_indent="   ")
    return "\n".join(out)
