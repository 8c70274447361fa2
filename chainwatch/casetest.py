"""chainwatch test: run each pattern's embedded cases through the real pipeline.

A case lists raw CloudTrail events (only the fields that matter) and flow-log lines. An event
may be a `repeat` block: {repeat: N, every: 3s, event: {...}} expands to N events spaced
`every` apart. Each case runs as its own replay, so cases cannot disturb each other's state.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import tempfile
import time
from pathlib import Path

from chainwatch.units import format_timestamp, parse_duration_ms, parse_timestamp_ms


def expand_events(events) -> list[dict]:
    expanded = []
    for item in events:
        if "repeat" not in item:
            expanded.append(dict(item))
            continue
        template, every = item["event"], parse_duration_ms(item.get("every", "1s"))
        start = parse_timestamp_ms(template["eventTime"])
        for n in range(int(item["repeat"])):
            event = json.loads(json.dumps(template))
            event["eventTime"] = format_timestamp(start + n * every)
            if "eventID" in template:
                event["eventID"] = f"{template['eventID']}-{n}"
            expanded.append(event)
    return expanded


def _case_config(config, case, events):
    if case.history_start:
        start = parse_timestamp_ms(case.history_start)
    else:  # default: all the case's history counts, learning is over at its first event
        earliest = min((parse_timestamp_ms(e["eventTime"]) for e in events), default=0)
        start = earliest - max(config.novelty.learning_period_ms, config.familiarity.learning_period_ms)
    return dataclasses.replace(config, novelty=dataclasses.replace(config.novelty, history_start_ms=start))


def run_case(config, pattern, case):
    from chainwatch.replay import replay
    events = expand_events(case.events)
    with tempfile.TemporaryDirectory(prefix="chainwatch-case-") as folder:
        folder = Path(folder)
        if events:
            (folder / "cloudtrail.json.gz").write_bytes(gzip.compress(json.dumps({"Records": events}).encode()))
        if case.flows:
            (folder / "flows.log").write_text("\n".join(case.flows) + "\n")
        result = replay(_case_config(config, case, events), [pattern], [folder])
    return result


def run_cases(config, patterns, out=print) -> bool:
    passed = failed = 0
    for pattern in patterns:
        for case in pattern.cases:
            started = time.monotonic()
            result = run_case(config, pattern, case)
            got = len(result.findings)
            ok = got == case.expect_findings and not result.dead_letters
            passed, failed = passed + ok, failed + (not ok)
            detail = "" if ok else f"  expected {case.expect_findings} finding(s), got {got}" + (
                f"; {len(result.dead_letters)} dead letter(s): {result.dead_letters[0]['reason']}"
                if result.dead_letters else "")
            out(f"{'PASS' if ok else 'FAIL'} {pattern.id} :: {case.name} ({time.monotonic() - started:.1f}s){detail}")
    out(f"{passed} passed, {failed} failed")
    return failed == 0
