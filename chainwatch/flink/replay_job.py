"""chainwatch replay: the job over files, in event time, on the embedded mini-cluster."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from pyflink.common import Types

from chainwatch.findings.run_result import DEAD, FINDING, LATE_NOTICE, NOTICE, STATS, UNATTRIBUTED, ReplayResult
from chainwatch.flink.cluster_env import stage_package
from chainwatch.flink.graph import FILES, HOLD_ALL, build_pipeline, watermark_strategy
from chainwatch.flink.parse_operators import DEAD_LETTERS, READ_STATS, read_files
from chainwatch.flink.runtime import make_env
from chainwatch.sources.files import find_inputs
from chainwatch.steps.coverage_watch import blind_spots


def _tag(stream, tag):
    return stream.map(lambda text, t=tag: t + text, Types.STRING())


def replay(config, patterns, inputs, *, hold_all: bool = False, cluster=None, progress=None) -> ReplayResult:
    """Run the job over `inputs` (files or folders) and collect everything it produced.

    Files are read by start time and event time advances time.watermark_delay behind them, so
    the job holds a window of events, not the input (sources.order); hold_all: event time
    advances only at the end of input, exact whatever the disorder, memory grows with input.
    cluster: a running local cluster (cluster.ClusterState) to run on, at its parallelism."""
    started = time.monotonic()
    files, skipped = find_inputs(inputs)
    result = ReplayResult(files=len(files), skipped=skipped)
    if not files:
        return result
    env = make_env(config, streaming=False, remote=cluster.rest_url if cluster else None)
    if cluster:    # its TaskManagers import chainwatch from the copy shipped with the job
        env.add_python_file(str(stage_package(Path(cluster.state_dir))))
    normalised = read_files(env, config, files, hold_all=hold_all)
    events = normalised.assign_timestamps_and_watermarks(watermark_strategy(config, HOLD_ALL if hold_all else FILES))
    out = build_pipeline(env, config, patterns, events)
    outputs = _tag(out.findings, FINDING).union(
        _tag(normalised.get_side_output(DEAD_LETTERS), DEAD), _tag(out.late, LATE_NOTICE),
        _tag(out.notices, NOTICE), _tag(normalised.get_side_output(READ_STATS), STATS),
        _tag(out.unattributed, UNATTRIBUTED))
    with outputs.execute_and_collect("chainwatch replay") as collected:
        for item in collected:
            result.absorb(item[0], item[1:])
            if progress and item[0] == STATS:
                progress(result.counts)
    result.sort_findings()
    result.seconds = time.monotonic() - started
    return result


def summary_lines(result: ReplayResult, allowlist=None) -> list[str]:
    counts = result.counts
    accounted = counts["normalised"] + counts["dead_lettered"]
    lines = [
        f"files read:            {result.files}",
        *result.skipped_lines(),
        f"records read:          {counts['read']}",
        f"  normalised:          {counts['normalised']} ({counts['events']} events)",
        f"  dead-lettered:       {counts['dead_lettered']}",
        f"  accounted for:       {accounted} of {counts['read']}" + ("" if accounted == counts["read"] else "  <-- MISMATCH"),
    ]
    if counts["late"] or counts["late_arrivals"]:
        lines.append(f"  late:                {counts['late']} events more than time.watermark_delay behind the "
                     f"files read before them, {counts['late_arrivals']} arrived behind event time (dead-letter "
                     "notices): a finding needing them may be missed (raise the delay, or --hold-all)")
    lines += [
        f"egress flows with no identity bound: {result.unattributed_egress}",
        *(["egress bytes by account:"] + result.attribution_lines() if result.egress_attribution else []),
        f"findings:              {len(result.findings)}" + (f" ({updates} of them updates of an earlier one: a "
                                                               "repeat within the pattern's suppress period)"
                                                               if (updates := result.finding_updates()) else ""),
    ]
    for analytic, n in sorted(result.findings_by_analytic().items()):
        lines.append(f"  {analytic}: {n}")
    if allowlist is not None and allowlist.entries:
        lines.append(f"allowlist entries:     {len(allowlist.entries)}, sessions let in: "
                     + (", ".join(f"{e.id} {result.allowlist_uses[e.id]}" for e in allowlist.entries)))
        unused = [e for e in allowlist.entries if not result.allowlist_uses[e.id]]
        lines += [f"  {e.id} (owner {e.owner}) let nothing in: still needed?" for e in unused]
    if result.first_party_providers:
        lines.append(f"first-party providers learned: {len(result.first_party_providers)} (their federated sessions "
                     "are not cross-account entries; list them in steps.cross_account_entry.first_party_providers "
                     "to keep them past job.state_ttl)")
        lines += [f"  {provider}: {how}" for provider, how in sorted(result.first_party_providers.items())]
    gaps = blind_spots(result.coverage) + [f["message"].partition(": ")[2] for f in result.coverage_findings]
    lines.append(f"blind spots:           {len(gaps)}" + ("" if gaps else " (every account sent audit, object-access "
                                                                     "and flow events, and none was turned off)"))
    lines.extend(f"  {gap}" for gap in gaps)
    rate = counts["read"] / result.seconds if result.seconds else 0
    lines.append(f"time:                  {result.seconds:.1f}s ({rate:,.0f} records/s including job start-up)")
    return lines


def print_progress(counts) -> None:
    print(f"\r  ... {counts['read']:,} records read", end="", file=sys.stderr, flush=True)
