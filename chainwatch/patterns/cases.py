"""A pattern's embedded cases as input files and expectations: what `chainwatch test` runs on
either host (chainwatch.case_runner picks the engine or the Flink job).

A case lists raw CloudTrail events (only the fields that matter) and flow-log lines. An event
may be a `repeat` block: {repeat: N, every: 3s, event: {...}} expands to N events spaced
`every` apart.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

from chainwatch.core.units import format_timestamp, parse_duration_ms, parse_timestamp_ms


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


def case_config(config, case, events):
    if case.history_start:
        start = parse_timestamp_ms(case.history_start)
    else:  # default: all the case's history counts, learning is over at its first event
        earliest = min((parse_timestamp_ms(e["eventTime"]) for e in events), default=0)
        start = earliest - max(config.novelty.learning_period_ms, config.familiarity.learning_period_ms)
    return dataclasses.replace(config, novelty=dataclasses.replace(config.novelty, history_start_ms=start))


def write_case(folder: Path, case) -> list[dict]:
    """The case's input files in `folder`; returns its expanded CloudTrail events."""
    events = expand_events(case.events)
    if events:
        (folder / "cloudtrail.json.gz").write_bytes(gzip.compress(json.dumps({"Records": events}).encode()))
    if case.flows:
        (folder / "flows.log").write_text("\n".join(case.flows) + "\n")
    return events


def case_problem(case, result) -> str:
    """'' when the result is what the case expects, else what is wrong."""
    got = len(result.findings)
    if got == case.expect_findings and not result.dead_letters:
        return ""
    return f"expected {case.expect_findings} finding(s), got {got}" + (
        f"; {len(result.dead_letters)} dead letter(s): {result.dead_letters[0]['reason']}"
        if result.dead_letters else "")
