"""End-to-end replay throughput on generated telemetry: python bench/replay_throughput.py --events N

Generates N raw records (CloudTrail + VPC flows, with the three attack chains), replays them
through the real job on the embedded mini-cluster and prints records/s, with and without
the job's start-up (measured as the time of a replay of one tiny file in the same process).
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from chainwatch.config import load_config
from chainwatch.patterns.model import load_patterns
from chainwatch.replay import replay
from chainwatch.sample import build_geoip, generate
from chainwatch.sample.generator import background_rate_for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--conf", default=None)
    args = parser.parse_args()
    config = load_config(args.conf)
    patterns = load_patterns(config.patterns_dir)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "aws"
        generate(data, days=args.days, background_per_hour=background_rate_for(args.events, args.days))
        build_geoip(Path(tmp) / "geoip")
        warm_file = next(data.rglob("*.json.gz"))
        replay(config, patterns, [warm_file])   # the first job in a process also starts the JVM
        started = time.monotonic()
        replay(config, patterns, [warm_file])
        startup = time.monotonic() - started
        result = replay(config, patterns, [data])
    records = result.counts["read"]
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
          f"mode={config.job.python_execution_mode}, parallelism={config.job.parallelism}")
    print(f"records: {records:,} ({result.counts['events']:,} events), findings: {len(result.findings)}")
    print(f"wall: {result.seconds:.1f}s -> {records / result.seconds:,.0f} records/s end to end")
    print(f"one-file replay (start-up + teardown): {startup:.1f}s -> "
          f"{records / max(result.seconds - startup, 0.1):,.0f} records/s excluding it")


if __name__ == "__main__":
    main()
