"""chainwatch test: run each pattern's embedded cases (patterns.cases), on the plain-Python engine
by default (milliseconds) or through the real Flink pipeline (`--flink`, one job for all cases).

Each case runs on its own (its own engine run, or its own sub-pipeline of the Flink job), so
cases cannot disturb each other's state.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from chainwatch.patterns.cases import case_config, case_problem, write_case


def run_case(config, pattern, case, *, flink: bool = False):
    """The case's result (engine.EngineResult, or findings.run_result.ReplayResult with flink=True)."""
    if flink:
        from chainwatch.flink.case_job import replay_cases
        return replay_cases(config, [(pattern, case)])[0]
    from chainwatch.engine import run
    with tempfile.TemporaryDirectory(prefix="chainwatch-case-") as folder:
        events = write_case(Path(folder), case)
        return run(case_config(config, case, events), [pattern], [folder])


def run_cases(config, patterns, out=print, *, flink: bool = False) -> bool:
    cases = [(pattern, case) for pattern in patterns for case in pattern.cases]
    started = time.monotonic()
    if flink:  # one job start (tens of seconds) for all cases, not one per case
        from chainwatch.flink.case_job import replay_cases
        results = replay_cases(config, cases)
    else:
        results = [run_case(config, pattern, case) for pattern, case in cases]
    failed = 0
    for (pattern, case), result in zip(cases, results):
        problem = case_problem(case, result)
        failed += bool(problem)
        timing = "" if flink else f" ({result.seconds * 1000:.0f} ms)"  # a job's cases share its time
        out(f"{'FAIL' if problem else 'PASS'} {pattern.id} :: {case.name}{timing}" + (f"  {problem}" * bool(problem)))
    out(f"{len(cases) - failed} passed, {failed} failed ({'Flink' if flink else 'engine'}, "
        f"{time.monotonic() - started:.1f}s)")
    return failed == 0
