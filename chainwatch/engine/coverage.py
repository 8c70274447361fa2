"""Coverage findings, as flink.step_operators.CoverageOperator emits them: the parse operators' beats
(coverage.Beats, in read order) and the marked calls, each account's in event-time order
through the same CoverageWatch, rendered as OCSF and read back (JSON both ways)."""
from __future__ import annotations

import json

from chainwatch.findings.coverage_finding import to_ocsf
from chainwatch.steps.coverage_watch import Beats, CoverageWatch, beat_ms
from chainwatch.steps.lanes import COVERAGE, event_order, lanes


def coverage_findings(config, events: list[dict]) -> list[dict]:
    beats, routed = Beats(beat_ms(config.coverage.silence_ms)), []
    for event in events:
        beat = beats.observe(event)
        routed += [(key, e) for lane, key, e in lanes(beat) if lane == COVERAGE] if beat else []
        routed += [(key, e) for lane, key, e in lanes(event) if lane == COVERAGE]
    watch, states, found = CoverageWatch(config.coverage.silence_ms), {}, []
    for key, event in sorted(routed, key=lambda item: event_order(item[1])):
        for each in watch.process(states.setdefault(key, {}), event):
            found.append(json.loads(json.dumps(to_ocsf(each), separators=(",", ":"))))
    found.sort(key=lambda f: (f["time"], f["metadata"]["uid"], f["activity_id"]))
    return found
