"""Pattern cases through the real Flink pipeline, all in one job: one job start instead of one
per case. Each case is its own sub-pipeline (its own source, config, keyed state and CEP
queries), so cases cannot disturb each other; its outputs come back tagged with its index."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pyflink.common import Types
from pyflink.table import StreamTableEnvironment

from chainwatch.findings.run_result import DEAD, FINDING, LATE_NOTICE, NOTICE, STATS, UNATTRIBUTED, ReplayResult
from chainwatch.flink.graph import HOLD_ALL, build_pipeline, watermark_strategy
from chainwatch.flink.parse_operators import DEAD_LETTERS, READ_STATS, read_files
from chainwatch.flink.runtime import make_env
from chainwatch.patterns.cases import case_config, write_case
from chainwatch.sources.files import discover



def _tag(stream, n: int, kind: str):
    return stream.map(lambda text, tag=f"{n}{kind}|": tag + text, Types.STRING())


def _case_outputs(env, config, n: int, pattern, case, folder: Path):
    events = write_case(folder, case)
    job_config = case_config(config, case, events)
    files = discover([folder])
    normalised = read_files(env, job_config, files, hold_all=True, name=f"case {n} read + parse + enrich")
    stream = normalised.assign_timestamps_and_watermarks(watermark_strategy(job_config, HOLD_ALL))
    # A table environment per case: each registers its own `steps` view.
    out = build_pipeline(env, job_config, [pattern], stream, StreamTableEnvironment.create(env))
    return len(files), _tag(out.findings, n, FINDING).union(
        _tag(normalised.get_side_output(DEAD_LETTERS), n, DEAD), _tag(out.late, n, LATE_NOTICE),
        _tag(out.notices, n, NOTICE), _tag(normalised.get_side_output(READ_STATS), n, STATS),
        _tag(out.unattributed, n, UNATTRIBUTED))


def replay_cases(config, cases) -> list[ReplayResult]:
    """cases: [(pattern, case)]. One ReplayResult per case, as replay.replay gives for it alone."""
    started = time.monotonic()
    results, outputs = [], None
    with tempfile.TemporaryDirectory(prefix="chainwatch-cases-") as root:
        env = make_env(config, streaming=False)
        for n, (pattern, case) in enumerate(cases):
            folder = Path(root) / str(n)
            folder.mkdir()
            files, tagged = _case_outputs(env, config, n, pattern, case, folder)
            results.append(ReplayResult(files=files))
            outputs = tagged if outputs is None else outputs.union(tagged)
        if outputs is None:
            return results
        with outputs.execute_and_collect("chainwatch test") as collected:
            for item in collected:
                tag, _, body = item.partition("|")
                results[int(tag[:-1])].absorb(tag[-1], body)
    for result in results:
        result.sort_findings()
        result.seconds = time.monotonic() - started
    return results
