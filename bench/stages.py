"""Where the replay's time goes: the same input through growing prefixes of the real pipeline.

    .venv/bin/python bench/stages.py DATA [--parallelism N] [--stages parse,shuffle,buffer,steps,full]

Each stage is one Flink job on the embedded mini-cluster, run after a warm-up job in the same
process (so the JVM start is not in any figure), ending in a sink that drops everything:
  parse    files -> read + parse + enrich (the ReadFiles operator)
  shuffle  + the identity lane keyed by identity, a keyed operator that passes batches through
  buffer   + the event-time ordering buffer (MapState + a timer per key), no steps
  steps    the whole graph up to the step rows (flink.graph.build_steps), no CEP
  full     the whole replay: steps, CEP, findings (chainwatch.flink.replay_job.replay)
The differences between stages are what each layer costs.
"""
from __future__ import annotations

import argparse
import platform
import time

from pyflink.datastream import KeyedProcessFunction

from chainwatch.config import load_config
from chainwatch.flink import jvm
from chainwatch.flink.graph import FILES, build_steps, watermark_strategy
from chainwatch.flink.parse_operators import DEAD_LETTERS, READ_STATS, read_files
from chainwatch.flink.replay_job import replay
from chainwatch.flink.runtime import make_env
from chainwatch.flink.step_operators import EventTimeOrdered
from chainwatch.patterns.pattern import load_patterns
from chainwatch.sources.files import discover, records_from_file
from chainwatch.steps.lanes import IDENTITY


class PassThrough(KeyedProcessFunction):
    def process_element(self, event, ctx):
        yield event


class BufferOnly(EventTimeOrdered):
    lane = IDENTITY

    def on_key_events(self, key, events, changed):
        yield from events


def _prefix(config, files, stage: str) -> float:
    env = make_env(config, streaming=False)
    normalised = read_files(env, config, files, name="read + parse")
    for tag in (DEAD_LETTERS, READ_STATS):       # PyFlink routes (tag, value) only to requested side outputs
        normalised.get_side_output(tag).filter(lambda e: False).print()
    events = normalised.assign_timestamps_and_watermarks(watermark_strategy(config, FILES))
    if stage == "steps":
        steps, unattributed, late, notices = build_steps(config, events)
        late.union(notices).filter(lambda r: False).print()
        steps.filter(lambda r: False).print()
        unattributed.filter(lambda r: False).print()
    elif stage != "parse":
        keyed = jvm.keyed_by_bucket(jvm.lane(events, IDENTITY, "identity activity"))
        events = keyed.process(PassThrough() if stage == "shuffle" else BufferOnly())
    if stage != "steps":
        events.filter(lambda e: False).print()
    began = time.monotonic()
    env.execute(f"stage {stage}")
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("data")
    parser.add_argument("--conf")
    parser.add_argument("--parallelism", type=int)
    parser.add_argument("--stages", default="parse,shuffle,buffer,steps,full")
    args = parser.parse_args()
    config = load_config(args.conf)
    if args.parallelism:
        import dataclasses
        config = dataclasses.replace(config, job=dataclasses.replace(config.job, parallelism=args.parallelism))
    patterns = load_patterns(config.patterns_dir)
    files = discover([args.data])
    began = time.monotonic()
    records = sum(1 for path in files for _ in records_from_file(path))
    print(f"plain Python read + JSON decode of {records:,} records: {time.monotonic() - began:.1f} s")
    _prefix(config, files[:1], "parse")            # warm-up: JVM, Python, classes
    replay(config, patterns, files[:1])            # warm-up of the full graph, too
    print(f"{platform.machine()}, Python {platform.python_version()}, mode={config.job.python_execution_mode}, "
          f"parallelism={config.job.parallelism}, {len(files)} files")
    for stage in args.stages.split(","):
        if stage == "full":
            result = replay(config, patterns, files)
            seconds = result.seconds
            print(f"  findings: {dict(result.findings_by_analytic())}")
        else:
            seconds = _prefix(config, files, stage)
        print(f"  {stage:<8} {seconds:7.1f} s  {records / seconds:9,.0f} records/s  (records: {records:,})", flush=True)


if __name__ == "__main__":
    main()
