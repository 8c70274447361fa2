"""chainwatch replay: the job over files, in event time, on the embedded mini-cluster."""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from pyflink.common import Types

from chainwatch.coverage import blind_spots, merge as merge_coverage
from chainwatch.pipeline import build_pipeline, watermark_strategy
from chainwatch.runtime import make_env
from chainwatch.sources.files import discover
from chainwatch.sources.flink import DEAD_LETTERS, READ_STATS, ReadFiles

_FINDING, _DEAD, _STATS, _UNATTRIBUTED = "F", "D", "S", "U"


@dataclass
class ReplayResult:
    files: int = 0
    counts: Counter = field(default_factory=Counter)
    findings: list = field(default_factory=list)
    dead_letters: list = field(default_factory=list)
    unattributed_egress: int = 0
    coverage: dict = field(default_factory=dict)
    seconds: float = 0.0

    def findings_by_analytic(self) -> Counter:
        return Counter(f["finding_info"]["analytic"]["uid"] for f in self.findings)


def _tag(stream, tag):
    return stream.map(lambda text, t=tag: t + text, Types.STRING())


def replay(config, patterns, inputs, *, streaming_watermarks: bool = False, progress=None) -> ReplayResult:
    """Run the job over `inputs` (files or folders) and collect everything it produced."""
    started = time.monotonic()
    files = discover(inputs)
    result = ReplayResult(files=len(files))
    if not files:
        return result
    env = make_env(config, streaming=False)
    normalised = (env.from_collection(files, type_info=Types.STRING()).name("input files")
                  .process(ReadFiles(config)).name("read + parse + enrich"))
    events = normalised.assign_timestamps_and_watermarks(watermark_strategy(config, not streaming_watermarks))
    findings, unattributed = build_pipeline(env, config, patterns, events, live=streaming_watermarks)
    outputs = _tag(findings, _FINDING).union(
        _tag(normalised.get_side_output(DEAD_LETTERS), _DEAD),
        _tag(normalised.get_side_output(READ_STATS), _STATS),
        _tag(unattributed, _UNATTRIBUTED))
    with outputs.execute_and_collect("chainwatch replay") as collected:
        for item in collected:
            kind, body = item[0], item[1:]
            if kind == _FINDING:
                result.findings.append(json.loads(body))
            elif kind == _DEAD:
                result.dead_letters.append(json.loads(body))
            elif kind == _STATS:
                stats = json.loads(body)
                merge_coverage(result.coverage, stats.pop("coverage", {}))
                result.counts.update(stats)
                if progress:
                    progress(result.counts)
            else:
                result.unattributed_egress += 1
    result.findings.sort(key=lambda f: (f["finding_info"]["first_seen_time"], f["metadata"]["uid"]))
    result.seconds = time.monotonic() - started
    return result


def summary_lines(result: ReplayResult) -> list[str]:
    counts = result.counts
    accounted = counts["normalised"] + counts["dead_lettered"]
    lines = [
        f"files read:            {result.files}",
        f"records read:          {counts['read']}",
        f"  normalised:          {counts['normalised']} ({counts['events']} events)",
        f"  dead-lettered:       {counts['dead_lettered']}",
        f"  accounted for:       {accounted} of {counts['read']}" + ("" if accounted == counts["read"] else "  <-- MISMATCH"),
        f"egress flows with no identity bound: {result.unattributed_egress}",
        f"findings:              {len(result.findings)}",
    ]
    for analytic, n in sorted(result.findings_by_analytic().items()):
        lines.append(f"  {analytic}: {n}")
    gaps = blind_spots(result.coverage)
    lines.append(f"blind spots:           {len(gaps)}" + ("" if gaps else " (every account sent audit, object-access "
                                                                     "and flow events)"))
    lines.extend(f"  {gap}" for gap in gaps)
    rate = counts["read"] / result.seconds if result.seconds else 0
    lines.append(f"time:                  {result.seconds:.1f}s ({rate:,.0f} records/s including job start-up)")
    return lines


def print_progress(counts) -> None:
    print(f"\r  ... {counts['read']:,} records read", end="", file=sys.stderr, flush=True)
