"""chainwatch command line: replay | run | test | validate | init | cluster | broker."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from chainwatch.core.errors import ChainwatchError


def _load(conf_path, only=()):
    from chainwatch.config import load_config
    from chainwatch.patterns.pattern import load_patterns
    config = load_config(conf_path)
    return config, load_patterns(config.patterns_dir, only)


def _write_jsonl(path, items) -> None:
    handle = open(path, "w", encoding="utf-8") if path and path != "-" else sys.stdout
    try:
        for item in items:
            handle.write(json.dumps(item, separators=(",", ":")) + "\n")
    finally:
        if handle is not sys.stdout:
            handle.close()


def _preflight(*folders) -> None:
    """Python, Java and disk, before anything starts a JVM: one actionable line, not a stack trace."""
    from chainwatch.ops.preflight import check_job_machine
    check_job_machine(*folders)


def _file_source_paths(config) -> list[str]:
    paths = [p for source in config.sources if source.type == "files" for p in source.paths]
    if not paths:
        raise FileNotFoundError(f"{config.path}: no INPUT given and the config has no `files` source to replay")
    return paths


def cmd_replay(args) -> int:
    from chainwatch.flink.replay_job import print_progress, replay, summary_lines
    config, patterns = _load(args.conf)
    inputs = args.inputs or _file_source_paths(config)
    _preflight()
    cluster = None
    if args.cluster:
        from chainwatch.ops.cluster import running_state
        cluster = running_state(args.cluster)
    result = replay(config, patterns, inputs, hold_all=args.hold_all, cluster=cluster,
                    progress=print_progress if sys.stderr.isatty() else None)
    _write_jsonl(args.out, result.findings)
    if args.dlq:
        _write_jsonl(args.dlq, result.dead_letters)
    print("\n".join(["chainwatch replay:"] + summary_lines(result, config.allowlist)), file=sys.stderr)
    from chainwatch.steps.allowlist import record_usage
    record_usage(config.allowlist, result.allowlist_uses, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    if result.dead_letters and not args.dlq:
        print(f"  ({len(result.dead_letters)} dead letters not written: pass --dlq FILE)", file=sys.stderr)
    return 0


def cmd_validate(args) -> int:
    config, patterns = _load(args.conf)
    from chainwatch.patterns.compiler import compile_pattern
    for pattern in patterns:
        compile_pattern(pattern)
    from chainwatch.steps.allowlist import expired_entries, unused_entries
    for warning in config.warnings:      # deprecated keys: still honoured, each says how to migrate
        print(f"warning: {warning}", file=sys.stderr)
    for warning in expired_entries(config.allowlist, int(time.time() * 1000)) + unused_entries(config.allowlist):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{config.path}: ok ({len(config.sources)} sources, {len(patterns)} patterns: "
          f"{', '.join(p.id for p in patterns)})")
    return 0


def cmd_explain(args) -> int:
    from chainwatch.findings.explain import load_finding, timeline
    if args.findings:
        finding = load_finding(args.findings, uid=args.target)
    else:
        finding = load_finding(args.target)
    print(timeline(finding))
    return 0


def cmd_test(args) -> int:
    from chainwatch.case_runner import run_cases
    config, patterns = _load(args.conf, tuple(args.patterns))
    if args.flink:  # the plain-Python engine needs no Java
        _preflight()
    return 0 if run_cases(config, patterns, flink=args.flink) else 1


def cmd_run(args) -> int:
    from chainwatch.flink.live_job import run
    config, patterns = _load(args.conf)
    _preflight(*(folder for folder in (args.out, args.dlq) if folder and folder != "-"))
    run(config, patterns, out=args.out, dlq=args.dlq)
    return 0


def cmd_broker(args) -> int:
    """Development broker (noida-db): up, feed telemetry onto the configured topics, down."""
    from chainwatch.ops import dev_broker
    if args.action == "down":
        stopped = dev_broker.stop_recorded(args.data_dir)
        print("broker stopped" if stopped else f"no broker recorded in {args.data_dir}")
        return 0 if stopped else 1
    config, _patterns = _load(args.conf)
    if args.action == "up":
        broker = dev_broker.LocalBroker(args.data_dir, args.port).start()
        topics = dev_broker.config_topics(config)
        dev_broker.create_topics(broker.bootstrap, topics)
        print(f"broker up: KAFKA_BOOTSTRAP={broker.bootstrap} (pid {broker.process.pid}); topics: {', '.join(topics)}")
        print(f"stop it with: chainwatch broker down --data-dir {args.data_dir}")
        return 0
    counts = dev_broker.feed(config, args.inputs)
    for topic, n in sorted(counts.items()):
        print(f"  {topic}: {n:,} records")
    return 0


def _add_broker_parser(sub) -> None:
    p = sub.add_parser("broker", help="local Kafka-protocol broker for development: up | feed | down")
    p.add_argument("action", choices=("up", "feed", "down"))
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="feed: telemetry files or folders")
    p.add_argument("--conf", help="job config naming the Kafka topics (e.g. conf/kafka.yaml)")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--data-dir", default=".chainwatch/broker", help="broker data and PID file")
    p.set_defaults(func=cmd_broker)


def cmd_cluster(args) -> int:
    """Local standalone cluster (JobManager + TaskManagers from the venv's PyFlink) and submission."""
    from chainwatch.ops import cluster
    try:
        if args.action in ("start", "submit"):
            _preflight(args.state_dir)
        if args.action == "start":
            config, _ = _load(args.conf)
            began = time.monotonic()
            state = cluster.start(args.state_dir, config, taskmanagers=args.taskmanagers, slots=args.slots,
                                  state_backend=args.state_backend)
            print(f"cluster up in {time.monotonic() - began:.1f}s: {state.rest_url} (web UI and REST); "
                  f"PIDs {state.pids}; logs in {state.state_dir}/log")
            from chainwatch.flink.cluster_env import prometheus_ports
            ports = prometheus_ports(state.conf_dir)
            print(f"metrics: Prometheus at http://127.0.0.1:PORT/metrics, PORT in {ports[0]}-{ports[-1]} "
                  f"(the JobManager the first, each TaskManager the next free one)")
        elif args.action == "stop":
            cluster.stop(args.state_dir)
        elif args.action == "status":
            info = cluster.status(args.state_dir)
            o = info["overview"]
            print(f"{info['rest_url']}: " + (f"{o['taskmanagers']} TaskManagers registered, {o['slots-available']}/"
                  f"{o['slots-total']} slots free, Flink {o['flink-version']}" if o else "JobManager not running"))
            supervised = info["processes"]["supervisor"] == "running"
            for name, shown in info["processes"].items():
                if shown == "dead":
                    shown = "DEAD" + ("" if not name.startswith("taskmanager-") else
                                      ": the supervisor is starting it again" if supervised else
                                      ": no supervisor to start it again (`cluster stop`, then `start`)")
                restarts = info["restarts"].get(name)
                print(f"  {name:<14} pid {info['pids'][name] or '-':<8} {shown}"
                      + (f" (restarted {restarts}x)" if restarts else ""))
            if info["taskmanagers"]:   # a dead TaskManager stays registered until its heartbeats fail
                print("  registered: " + ", ".join(f"{tm['id']} ({_heartbeat(tm)})" for tm in
                                                   sorted(info["taskmanagers"], key=lambda tm: tm["id"])))
            for job in info["jobs"]:
                print(f"  {job['jid']}  {job['state']:<10} {job['name']}  ({job['duration'] // 1000}s)")
        elif args.action == "submit":
            began = time.monotonic()
            job_id = cluster.submit(args.state_dir, args.conf, out=args.out, dlq=args.dlq,
                                    parallelism=args.parallelism, detached=args.detached,
                                    from_savepoint=args.from_savepoint, echo=print)
            if args.detached:
                cluster.wait_for_job(args.state_dir, job_id, timeout=300)
                print(f"running {time.monotonic() - began:.1f}s after submission", file=sys.stderr)
        elif args.action == "cancel":
            location = cluster.cancel(args.state_dir, args.job_id, savepoint=args.savepoint)
            print(f"savepoint: {location}" if location else f"cancelled {args.job_id}")
    except cluster.ClusterError as exc:
        print(f"chainwatch cluster: {exc}", file=sys.stderr)
        return 1
    return 0


def _heartbeat(taskmanager: dict) -> str:
    last = taskmanager["timeSinceLastHeartbeat"]     # despite its name, the epoch ms of the last one (0: none yet)
    return f"last heartbeat {max(0.0, time.time() - last / 1000):.0f}s ago" if last else "no heartbeat yet"


def _add_cluster_parser(sub) -> None:
    p = sub.add_parser("cluster", help="local Flink standalone cluster: start | stop | status | submit | cancel")
    p.set_defaults(func=cmd_cluster)
    actions = p.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=".chainwatch/cluster",
                        help="generated Flink conf, PIDs, logs, checkpoints, savepoints (default: %(default)s)")
    a = actions.add_parser("start", parents=[common], help="a JobManager and TaskManagers as separate processes")
    a.add_argument("--conf", help="job config (its job.python_execution_mode is the cluster's default)")
    a.add_argument("--taskmanagers", type=int, default=2)
    a.add_argument("--slots", type=int, default=1, help="task slots per TaskManager")
    a.add_argument("--state-backend", choices=("rocksdb", "hashmap"), default="rocksdb")
    actions.add_parser("stop", parents=[common], help="stop exactly the processes `start` started (supervisor first)")
    actions.add_parser("status", parents=[common],
                       help="each process (a dead one too), TaskManagers, slots and jobs (REST API)")
    a = actions.add_parser("submit", parents=[common], help="`flink run` the streaming job; prints the job id")
    a.add_argument("--conf", help="job config (default: $CHAINWATCH_CONF, else the packaged one)")
    a.add_argument("--out", help="findings folder instead of the config's sinks (- for the TaskManagers' stdout)")
    a.add_argument("--dlq", help="dead-letter folder")
    a.add_argument("--parallelism", type=int, default=2)
    a.add_argument("--detached", action="store_true", help="return once the job runs")
    a.add_argument("--from-savepoint", metavar="PATH", help="resume from a savepoint or retained checkpoint")
    a = actions.add_parser("cancel", parents=[common], help="cancel a job, optionally with a savepoint")
    a.add_argument("job_id")
    a.add_argument("--savepoint", nargs="?", const="", metavar="DIR",
                   help="stop with a savepoint (into DIR, default the cluster's savepoint folder)")


def cmd_init(args) -> int:
    from chainwatch.ops.distribution import init
    written = init(args.dir, force=args.force)
    print(f"wrote {len(written)} files to {args.dir}: conf/ (job config, reference catalogs), patterns/, sample/")
    print(f"  check it:   chainwatch validate --conf {args.dir}/conf/chainwatch.yaml")
    print(f"  replay it:  chainwatch replay --conf {args.dir}/conf/chainwatch.yaml   (the sample; or give INPUTs)")
    return 0


class _Version(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        from chainwatch.ops.distribution import versions
        print(", ".join(f"{name} {version}" for name, version in versions().items()))
        parser.exit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="chainwatch", description=__doc__)
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="chainwatch's, Flink's and the Kafka connector's versions")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("replay", help="run the job over files or folders, in event time, and exit")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="files or folders (default: the config's `files` sources: the packaged sample)")
    p.add_argument("--conf", help="job config (default: $CHAINWATCH_CONF, else the packaged conf/chainwatch.yaml)")
    p.add_argument("--out", default="-", help="findings as OCSF JSON Lines (default: stdout)")
    p.add_argument("--dlq", help="dead-letter output, JSON Lines with reason and raw record")
    p.add_argument("--hold-all", action="store_true",
                   help="advance event time only at the end of input: exact however far out of order the "
                        "records are, but memory grows with the input (default: files by start time, "
                        "time.watermark_delay behind)")
    p.add_argument("--cluster", metavar="STATE_DIR",
                   help="run on the local cluster started from STATE_DIR (`chainwatch cluster start`): "
                        "a Python interpreter per TaskManager, so more than one core")
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser("run", help="the streaming job as configured")
    p.add_argument("--conf")
    p.add_argument("--out", help="findings folder (rolling JSONL files) or - for stdout; default: the configured sinks")
    p.add_argument("--dlq", help="dead-letter folder")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("test", help="run the patterns' embedded cases (plain-Python engine; --flink: the real job)")
    p.add_argument("patterns", nargs="*", metavar="PATTERN")
    p.add_argument("--conf")
    p.add_argument("--flink", action="store_true",
                   help="run the cases through the real Flink pipeline (one job, tens of seconds) "
                        "instead of the plain-Python engine (milliseconds)")
    p.set_defaults(func=cmd_test)
    p = sub.add_parser("validate", help="check config and patterns")
    p.add_argument("--conf")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("explain", help="a finding's chain as a timeline: who, what, when, the figures")
    p.add_argument("target", metavar="FINDING",
                   help="a file holding one OCSF finding, or a finding uid with --findings")
    p.add_argument("--findings", metavar="FILE", help="OCSF findings (JSON Lines, a folder of them, or HEC envelopes)")
    p.set_defaults(func=cmd_explain)
    p = sub.add_parser("init", help="write an editable copy of the default conf/, patterns/ and sample/ to DIR")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.set_defaults(func=cmd_init)
    _add_cluster_parser(sub)
    _add_broker_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ChainwatchError as exc:
        if not exc.problems:        # one message: the machine, the jar, the cluster, a secret
            print(f"chainwatch: {exc}", file=sys.stderr)
            return 2
        print(f"chainwatch: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError) as exc:
        print(f"chainwatch: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
