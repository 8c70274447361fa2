"""The fuzz test's replay (tests/integration/test_fuzz.py), in a process of its own so that the
test reads everything the job wrote: its Flink log, its stdout and its stderr.

Run as `python -m tests.integration.fuzz_job CONF INPUT OUT` with FLINK_LOG_DIR set (a fresh JVM
then writes its log there, alone: the default log file in the venv is shared by every PyFlink
process on the machine). It runs chainwatch.flink.replay_job.replay over INPUT as `chainwatch replay` does,
prints summary_lines to stderr, and writes the result to OUT as JSON: {summary, files, skipped,
counts, findings, dead_letters, unattributed_egress, coverage}. An exception leaves it with a
non-zero exit status, as it would leave `chainwatch replay`.

PyFlink starts its JVM with stderr to a pipe it reads only if the JVM fails to start. In thread
mode the job's Python runs inside that JVM and writes there too (tracebacks, warnings), so this
process passes the JVM's stderr through to its own instead, where the test captures it.
"""
from __future__ import annotations

import json
import sys

import pyflink.pyflink_gateway_server as gateway_server


def _stderr_passed_through(popen):
    def launch(*args, **kwargs):
        kwargs["stderr"] = None          # inherit this process's stderr
        return popen(*args, **kwargs)
    return launch


def main(conf: str, inputs: str, out: str) -> None:
    gateway_server.Popen = _stderr_passed_through(gateway_server.Popen)
    from chainwatch.config import load_config
    from chainwatch.flink.replay_job import replay, summary_lines
    from chainwatch.patterns.pattern import load_patterns

    config = load_config(conf)
    result = replay(config, load_patterns(config.patterns_dir), [inputs])
    summary = summary_lines(result)
    print("\n".join(["chainwatch replay:"] + summary), file=sys.stderr, flush=True)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"summary": summary, "files": result.files, "skipped": result.skipped, "counts": result.counts,
                   "findings": result.findings, "dead_letters": result.dead_letters,
                   "unattributed_egress": result.unattributed_egress, "coverage": result.coverage,
                   "coverage_findings": result.coverage_findings}, handle)


if __name__ == "__main__":
    main(*sys.argv[1:4])
