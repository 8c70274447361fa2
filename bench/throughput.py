"""Throughput and memory on enterprise-shaped data: one command, one table.

    .venv/bin/python bench/throughput.py [--sizes 200000,1000000] [--runs engine,replay-p1,replay-p2,eql]
                                         [--data DIR]

For each size it generates (once; kept in --data) a 3-day AWS set with 25 accounts, 5,000
principals and 1,500 instances (python -m chainwatch.sample ... --accounts 25 --principals 5000
--instances 1500, the three attack chains planted), then runs, each in a fresh process whose
whole process tree (the JVM included) is sampled for its resident memory:
  engine      the plain-Python reference engine (chainwatch.engine), one core
  replay-pN   `chainwatch replay` at job.parallelism N, thread mode: records/s excluding the
              JVM and job start-up (a one-file replay in the same process first)
  process-pN  the same in PyFlink's process mode
  eql         eql 1.0.1 (the peer a detection engineer would reach for): a 3-step
              `sequence by` principal over the same CloudTrail events, sorted by time
and prints records/s, findings and peak RSS. Machine-dependent: compare rows of one run.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ENTERPRISE = ["--days", "3", "--accounts", "25", "--principals", "5000", "--instances", "1500"]
EQL_QUERY = """
sequence by arn with maxspan=2h
  [iam where event_name in ("CreateUser", "CreateRole", "CreateAccessKey")]
  [s3 where event_name in ("GetObject", "ListObjects", "ListObjectsV2")]
  [s3 where event_name in ("GetObject", "PutBucketPolicy", "PutBucketAcl")]
"""


def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (the JVM is a grandchild)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def _measured(command: list[str]) -> tuple[dict, int]:
    """Runs a child (its last stdout line is JSON), sampling its tree's RSS; (result, peak bytes)."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss(child.pid))
        time.sleep(0.5)
    out, err = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak


# --- the runs, each in its own process -------------------------------------------------------

def run_engine(data: str) -> dict:
    from chainwatch import engine
    from chainwatch.config import load_config
    from chainwatch.patterns.model import load_patterns
    config = load_config(None)
    result = engine.run(config, load_patterns(config.patterns_dir), [data])
    return {"records": result.counts["read"], "seconds": result.seconds, "findings": len(result.findings)}


def run_replay(data: str, parallelism: int, mode: str) -> dict:
    from chainwatch.config import load_config
    from chainwatch.patterns.model import load_patterns
    from chainwatch.replay import replay
    from chainwatch.sources.files import discover
    config = load_config(None)
    config = dataclasses.replace(config, job=dataclasses.replace(
        config.job, parallelism=parallelism, python_execution_mode=mode))
    patterns = load_patterns(config.patterns_dir)
    files = discover([data])
    warm = replay(config, patterns, files[:1])        # JVM, Python workers, classes: not the job's cost
    result = replay(config, patterns, files)
    return {"records": result.counts["read"], "seconds": result.seconds, "startup": warm.seconds,
            "findings": len(result.findings)}


def run_eql(data: str) -> dict:
    import eql
    from chainwatch.sources.files import discover, records_from_file
    from chainwatch.units import parse_timestamp_ms
    began = time.monotonic()
    events = []
    for path in discover([Path(data) / "cloudtrail"]):
        for _ref, record, framing in records_from_file(path):
            if framing != "json":
                continue
            identity = record.get("userIdentity") or {}
            arn = identity.get("arn", "")
            if identity.get("type") == "AssumedRole":    # sessions count as their role, as chainwatch keys them
                arn = identity.get("sessionContext", {}).get("sessionIssuer", {}).get("arn", arn)
            events.append(eql.Event(record["eventSource"].split(".")[0], parse_timestamp_ms(record["eventTime"]),
                                    {"arn": arn, "event_name": record["eventName"],
                                     "source_ip": record.get("sourceIPAddress", "")}))
    events.sort(key=lambda e: e.time)
    loaded = time.monotonic()
    engine, matches = eql.PythonEngine({"flatten": True, "time_unit": 1000}), []    # times in ms
    engine.add_output_hook(matches.append)
    engine.add_query(eql.parse_query(EQL_QUERY))
    engine.stream_events(events)
    done = time.monotonic()
    return {"records": len(events), "seconds": done - loaded, "load_seconds": loaded - began,
            "findings": len(matches)}


# --- the driver --------------------------------------------------------------------------------

def _generate(data: Path, size: int) -> None:
    if (data / "done").exists():
        return
    print(f"generating {size:,} records in {data} ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "chainwatch.sample", str(data), "--events", str(size), *ENTERPRISE],
                   check=True, stdout=subprocess.DEVNULL)
    (data / "done").write_text("")


def _command(run: str, data: Path) -> list[str]:
    me = [sys.executable, __file__, "--child", run, str(data)]
    return me


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="200000,1000000")
    parser.add_argument("--runs", default="engine,replay-p1,replay-p2,eql")
    parser.add_argument("--data", default="/tmp/chainwatch-bench")
    parser.add_argument("--child", nargs=2, metavar=("RUN", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run, data = args.child
        if run == "engine":
            result = run_engine(data)
        elif run == "eql":
            result = run_eql(data)
        else:
            mode, parallelism = run.split("-p")
            result = run_replay(data, int(parallelism), "thread" if mode == "replay" else "process")
        print(json.dumps(result))
        return

    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; data: 3 days, 25 accounts, 5,000 principals, 1,500 instances")
    print(f"{'records':>10}  {'run':<11} {'seconds':>8} {'records/s':>10} {'findings':>8} {'peak RSS':>9}  note")
    for size in (int(s) for s in args.sizes.split(",")):
        data = Path(args.data) / str(size)
        _generate(data, size)
        for run in args.runs.split(","):
            try:
                result, peak = _measured(_command(run, data))
            except RuntimeError as exc:
                print(f"{size:>10,}  {run:<11} failed: {str(exc).splitlines()[-1]}", flush=True)
                continue
            note = (f"start-up {result['startup']:.1f}s excluded" if "startup" in result else
                    f"CloudTrail only; load {result['load_seconds']:.1f}s excluded" if "load_seconds" in result else "")
            print(f"{size:>10,}  {run:<11} {result['seconds']:8.1f} {result['records'] / result['seconds']:10,.0f} "
                  f"{result['findings']:8} {peak / 2**20:7,.0f} MB  {note}", flush=True)


if __name__ == "__main__":
    main()
