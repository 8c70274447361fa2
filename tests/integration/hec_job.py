"""A findings -> HEC sinks job in its own process, for tests that must read what the job logged.

Run as `python -m tests.integration.hec_job SPEC OUT` with FLINK_LOG_DIR set: a fresh JVM then
writes its log there, alone (the default log file in the venv is shared by every PyFlink process
on the machine and truncated by each one that starts). SPEC is JSON: {"conf", "mode", "findings",
"sinks": [SinkConfig fields, with token_file]}; OUT receives the dead letters, one per line.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time

from pyflink.common import Types

from chainwatch.config import load_config
from chainwatch.config.sink_settings import SinkConfig
from chainwatch.flink.runtime import make_env
from chainwatch.flink.sinks import attach_finding_sinks
from chainwatch.sinks.secrets import SecretSource


def _linger(item):
    time.sleep(4)
    return item


def main(spec_path: str, out_path: str) -> None:
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    config = load_config(spec["conf"])
    sinks = []
    for fields in spec["sinks"]:
        token = SecretSource(file=fields.pop("token_file"))
        sinks.append(SinkConfig(**fields, token=token))
    config = dataclasses.replace(config, sinks=tuple(sinks),
                                 job=dataclasses.replace(config.job, python_execution_mode=spec["mode"]))
    env = make_env(config, streaming=False)
    findings = env.from_collection(spec["findings"], type_info=Types.STRING())
    dead_letters = attach_finding_sinks(findings, config, None)
    # In process mode the Python worker ships log records to the TaskManager from a queue on a
    # background thread, and a bounded job that ends right after the sinks' last flush can take
    # the worker down before the last records are sent (2 runs of 3 lost the final retry lines).
    # A branch that outlives the sinks by a few seconds keeps the worker, and so its log stream,
    # up until they are sent. It emits nothing.
    linger = env.from_collection(["linger"], type_info=Types.STRING()).map(_linger, Types.STRING())
    with dead_letters.union(linger.filter(lambda _: False)).execute_and_collect() as results:
        dead_letters = list(results)
    with open(out_path, "w", encoding="utf-8") as out:
        out.writelines(d + "\n" for d in dead_letters)
    time.sleep(1)       # the JVM goes with this process: let it write the log records it received


if __name__ == "__main__":
    main(*sys.argv[1:3])
