"""Throughput and memory on enterprise-shaped data: one command, one table.

    .venv/bin/python bench/throughput.py [--sizes 200000,1000000] [--runs parse,engine,replay-p1,replay-p2,eql,kafka-p2]
                                         [--data DIR]

For each size it generates (once; kept in --data) a 3-day AWS set with 25 accounts, 5,000
principals and 1,500 instances (python -m chainwatch.sample ... --accounts 25 --principals 5000
--instances 1500, the three attack chains planted), then runs, each in a fresh process whose
whole process tree (the JVM included) is sampled for its resident memory:
  parse       the plain loop of the parse operators without Flink (read, frame, parse, check,
              enrich): microseconds of CPU a record, and their shares by part
  engine      the plain-Python reference engine (chainwatch.engine), one core
  replay-pN   `chainwatch replay` at job.parallelism N, thread mode: records/s excluding the
              JVM and job start-up (a one-file replay in the same process first)
  process-pN  the same in PyFlink's process mode
  cluster-pN  the same on a local standalone cluster of N TaskManagers started for the row
              (`replay --cluster`): an embedded Python per TaskManager, so N cores of Python
  eql         eql 1.0.1 (the peer a detection engineer would reach for): a 3-step
              `sequence by` principal over the same CloudTrail events, sorted by time
  kafka-pN    `chainwatch run` at job.parallelism N on conf/kafka.yaml's topics, pre-filled (with
              `chainwatch broker feed`) on a local noida-db broker started for the run: records/s
              from every task RUNNING until every record is read and the last finding is out;
              also prints the fill time and the broker's ceiling (a plain consumer's records/s)
and prints records/s, findings and peak RSS. Machine-dependent: compare rows of one run.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ENTERPRISE = ["--days", "3", "--accounts", "25", "--principals", "5000", "--instances", "1500"]
EQL_QUERY = """
sequence by arn with maxspan=2h
  [iam where event_name in ("CreateUser", "CreateRole", "CreateAccessKey")]
  [s3 where event_name in ("GetObject", "ListObjects", "ListObjectsV2")]
  [s3 where event_name in ("GetObject", "PutBucketPolicy", "PutBucketAcl")]
"""
EXPECTED_FINDINGS = 3        # the three planted chains; a replay of the same data finds all three
END_MARK = "chainwatch_bench_end"


def _tree(root: int) -> list[int]:
    """A process and all its descendants (the JVM is a grandchild)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants."""
    total = 0
    for pid in _tree(root):
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def _tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of a tree."""
    ticks = 0
    for pid in _tree(root):
        try:
            ticks += sum(int(f) for f in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13])
        except OSError:
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def _measured(command: list[str], env: dict | None = None, also=()) -> tuple[dict, int]:
    """Runs a child (its last stdout line is JSON), sampling its tree's RSS plus that of the
    processes `also` (a cluster's); (result, peak bytes)."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss(child.pid) + sum(_tree_rss(pid) for pid in also))
        time.sleep(0.5)
    out, err = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak


def run_on_cluster(run: str, data: Path) -> tuple[dict, int]:
    """`replay --cluster` on a local standalone cluster of N TaskManagers (one slot each), each
    with its own embedded Python: the figure for more than one core. The cluster is started for
    the row and stopped by its PIDs; its processes count in the peak RSS."""
    import tempfile
    from chainwatch.config import load_config
    from chainwatch.ops import cluster
    taskmanagers = int(run.split("-p")[1])
    with tempfile.TemporaryDirectory(prefix="chainwatch-bench-cluster-") as state_dir:
        state = cluster.start(state_dir, load_config(None), taskmanagers=taskmanagers, state_backend="hashmap",
                              progress=lambda *_: None)
        try:
            env = dict(os.environ, CHAINWATCH_BENCH_CLUSTER=state_dir)
            return _measured(_command(run, data), env=env, also=list(state.pids.values()))
        finally:
            cluster.stop(state_dir, progress=lambda *_: None)


# --- the runs, each in its own process -------------------------------------------------------

def run_engine(data: str) -> dict:
    from chainwatch import engine
    from chainwatch.config import load_config
    from chainwatch.patterns.pattern import load_patterns
    config = load_config(None)
    result = engine.run(config, load_patterns(config.patterns_dir), [data])
    return {"records": result.counts["read"], "seconds": result.seconds, "findings": len(result.findings)}


def run_replay(data: str, parallelism: int, mode: str, cluster_dir: str | None = None) -> dict:
    from chainwatch.config import load_config
    from chainwatch.flink.replay_job import replay
    from chainwatch.patterns.pattern import load_patterns
    from chainwatch.sources.files import discover
    config = load_config(None)
    config = dataclasses.replace(config, job=dataclasses.replace(
        config.job, parallelism=parallelism, python_execution_mode=mode))
    patterns = load_patterns(config.patterns_dir)
    files = discover([data])
    cluster = None
    if cluster_dir:
        from chainwatch.ops.cluster import running_state
        cluster = running_state(cluster_dir)
    warm = replay(config, patterns, files[:1], cluster=cluster)   # JVM, Python workers, classes: not the job's cost
    result = replay(config, patterns, files, cluster=cluster)
    return {"records": result.counts["read"], "seconds": result.seconds, "startup": warm.seconds,
            "findings": len(result.findings)}


def run_parse(data: str) -> dict:
    """The plain loop the job's parse operators run, without Flink: read and frame every file
    (sources.files), parse (parsers), check (enrich.normalise.event_problem) and enrich, timed
    per part in CPU seconds (time.process_time), CloudTrail and flows apart."""
    from chainwatch.config import load_config
    from chainwatch.core.event import set_time_bounds
    from chainwatch.enrich.normalise import Normaliser, event_problem
    from chainwatch.parsers import parse_record
    from chainwatch.sources.files import discover, records_from_file
    normaliser = Normaliser(load_config(None))
    set_time_bounds(normaliser.time_bounds)
    cost: dict = {}
    records = 0

    def timed(part, work):
        began = time.process_time()
        out = work()
        cost[part] = cost.get(part, 0.0) + time.process_time() - began
        return out
    for path in discover([data]):
        family = "flows" if "vpcflow" in path else "CloudTrail"
        framed = timed(f"{family} framing", lambda: list(records_from_file(path)))
        events = timed(f"{family} parse", lambda: [e for _r, p, f in framed
                                                   for e in parse_record(p, f, normaliser.reference)])
        timed("checks", lambda: [event_problem(e) for e in events])
        timed("enrichment", lambda: [normaliser._enrich(e) for e in events])
        records += len(framed)
    seconds = sum(cost.values())
    shares = ", ".join(f"{part} {1e6 * spent / records:.1f}" for part, spent in cost.items())
    return {"records": records, "seconds": seconds, "findings": 0,
            "note": f"{1e6 * seconds / records:.1f} us of CPU a record: {shares} (us a record)"}


def run_eql(data: str) -> dict:
    import eql
    from chainwatch.core.units import parse_timestamp_ms
    from chainwatch.sources.files import discover, records_from_file
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


# --- kafka-pN: the streaming job on pre-filled topics, driven from here ---------------------------
# Only `chainwatch run` is the measured process (its tree's RSS, like the rows above); the broker,
# the feeder and the consumers that watch the job are other processes, or this one.

def _kafka_conf(work: Path, parallelism: int) -> tuple[Path, dict]:
    """conf/kafka.yaml as shipped, but from the earliest offset, at `parallelism`, checkpoints in
    `work`. Written beside a copy of the packaged conf folder, since `include:` only reads its own
    folder and chainwatch.yaml's relative paths (../patterns, ../sample/geoip) need their siblings."""
    import yaml
    from chainwatch.config import DEFAULT_CONFIG
    defaults = DEFAULT_CONFIG.parent.parent
    shutil.copytree(defaults / "conf", work / "conf")
    for sibling in defaults.iterdir():
        if sibling.name != "conf":
            (work / sibling.name).symlink_to(sibling)
    conf = yaml.safe_load((defaults / "conf" / "kafka.yaml").read_text())
    for source in conf["sources"]:
        source["start"] = "earliest"
    # KAFKA_BOOTSTRAP names the broker (it wins over kafka.bootstrap_servers). The findings and
    # dead-letter topics are the shipped Kafka sinks' (`sinks:`), both watched by _Outputs.
    conf["job"].update(parallelism=parallelism, checkpoint_dir=str(work / "checkpoints"))
    path = work / "conf" / "kafka-bench.yaml"
    path.write_text(yaml.safe_dump(conf, sort_keys=False))
    return path, conf


def _end_offsets(bootstrap: str, topics: list[str]) -> dict:
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return consumer.end_offsets([TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t)])
    finally:
        consumer.close()


def _plain_read(bootstrap: str, ends: dict) -> tuple[int, float]:
    """A plain consumer reading every partition from its start to `ends`: (records, seconds), the
    broker's ceiling. CRCs unchecked: kafka-python checks them in pure Python (~10x slower, its own
    cost, not the broker's); the job's Java client checks them natively."""
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             check_crcs=False)
    consumer.assign(list(ends))
    consumer.seek_to_beginning()
    left, records = {tp: end for tp, end in ends.items() if end > 0}, 0
    began = time.monotonic()
    try:
        while left:
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                records += len(messages)
                if messages[-1].offset + 1 >= left.get(tp, 0):
                    left.pop(tp, None)
    finally:
        consumer.close()
    return records, time.monotonic() - began


def _mark_ends(bootstrap: str, ends: dict) -> list[str]:
    """One unparseable record after the last one of each source partition. Partitions are read in
    order, so the job sends a mark to the dead-letter topic only once it has read and parsed every
    record before it: a precise "consumed everything", where Flink's REST metrics lag up to 10 s."""
    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    marks = [f"{tp.topic}/{tp.partition}" for tp in ends]
    try:
        for tp, mark in zip(ends, marks):
            producer.send(tp.topic, json.dumps({END_MARK: mark}).encode(), partition=tp.partition)
        producer.flush()
    finally:
        producer.close()
    return marks


class _Outputs:
    """What the job writes, as it arrives: the first arrival (epoch s) of each finding uid and end mark."""

    def __init__(self, bootstrap: str, findings_topic: str, dead_letter_topic: str):
        from kafka import KafkaConsumer, TopicPartition
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      check_crcs=False, auto_offset_reset="earliest")
        self.consumer.assign([TopicPartition(t, p) for t in (findings_topic, dead_letter_topic)
                              for p in self.consumer.partitions_for_topic(t)])
        self.findings_topic, self.findings, self.analytics, self.marks = findings_topic, {}, {}, {}
        self.late = 0       # `late` dead-letter notices: events that arrived behind event time

    def poll(self) -> None:
        # Never a blocking poll: on noida-db, kafka-python spins through empty fetches for the whole
        # timeout (a core taken from the job being measured).
        batches, now = self.consumer.poll(timeout_ms=0), time.time()
        for tp, messages in batches.items():
            for message in messages:
                value = json.loads(message.value)
                if tp.topic == self.findings_topic:
                    uid = message.key.decode() if message.key else value["metadata"]["uid"]
                    self.findings.setdefault(uid, now)        # at-least-once: a finding may come twice
                    self.analytics[uid] = value.get("finding_info", {}).get("analytic", {}).get("uid", "?")
                elif END_MARK in str(value.get("raw", "")):
                    self.marks.setdefault(json.loads(value["raw"])[END_MARK], now)
                elif value.get("late"):
                    self.late += 1

    def close(self) -> None:
        self.consumer.close()


def _rest_url(log_dir: Path) -> str | None:
    """The mini-cluster's REST endpoint (a free port): PyFlink's JVM logs it under FLINK_LOG_DIR."""
    for log in log_dir.glob("*.log"):
        found = re.search(r"Rest endpoint listening at (\S+)", log.read_text(errors="replace"))
        if found:
            return f"http://{found.group(1)}"
    return None


def _all_running(rest_url: str) -> tuple[str, float] | None:
    """(job id, epoch seconds when its last task turned RUNNING) once every task runs: Flink's own
    timestamps, so the REST API's few seconds of caching do not move the start."""
    from chainwatch.ops.cluster import ClusterError, rest
    api = SimpleNamespace(rest_url=rest_url)
    try:
        jobs = rest(api, "/jobs/overview", timeout=5)["jobs"]
        if not jobs:
            return None
        job_id = jobs[0]["jid"]
        vertices = rest(api, f"/jobs/{job_id}", timeout=5)["vertices"]     # empty until the graph is built
        if not vertices or any(v["status"] != "RUNNING" for v in vertices):
            return None
        times = [s["timestamps"]["RUNNING"] for v in vertices
                 for s in rest(api, f"/jobs/{job_id}/vertices/{v['id']}/subtasktimes", timeout=5)["subtasks"]]
    except (ClusterError, OSError, KeyError):
        return None
    return job_id, max(times) / 1000


def _source_records(rest_url: str, job_id: str) -> int:
    """Records the job's Kafka sources have emitted (their operators' numRecordsOut, every subtask)."""
    from chainwatch.ops.cluster import rest
    api, total = SimpleNamespace(rest_url=rest_url), 0
    for vertex in rest(api, f"/jobs/{job_id}")["vertices"]:
        path = f"/jobs/{job_id}/vertices/{vertex['id']}/metrics"
        wanted = [m["id"] for m in rest(api, path) if ".Source__" in m["id"] and m["id"].endswith(".numRecordsOut")]
        if wanted:
            total += sum(int(float(m["value"])) for m in rest(api, f"{path}?get={','.join(wanted)}"))
    return total


def _stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the job's process group (its own session: the JVM and any Python workers), then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _fill(conf: Path, data: Path, env: dict) -> float:
    """`chainwatch broker feed` (the existing feeder, oldest first) in its own process: it holds every
    record in memory to sort them, which this process should not keep while the job runs."""
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "chainwatch.cli", "broker", "feed", str(data), "--conf", str(conf)],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"chainwatch broker feed failed:\n{done.stderr[-3000:]}")
    return time.monotonic() - began


def run_kafka(data: Path, parallelism: int, say=print) -> tuple[dict, int]:
    """kafka-pN: a broker for this run, topics filled, its ceiling, then the job timed; always
    stops the job and the broker by their PIDs. (result, peak RSS of the job's tree)."""
    from chainwatch.ops.dev_broker import LocalBroker, create_topics
    # kafka-python warns whenever its event loop is held >100 ms: noise on a busy 2-core machine.
    logging.getLogger("kafka").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="chainwatch-kafka-"))
    broker = LocalBroker(work / "broker")
    try:
        broker.start()
        conf, settings = _kafka_conf(work, parallelism)
        topic = {s.get("stream", "findings"): s["topic"] for s in settings["sinks"] if s["type"] == "kafka"}
        sources = [s["topic"] for s in settings["sources"]]
        # As `chainwatch broker up` does, plus as many partitions as readers (README: extra readers idle).
        create_topics(broker.bootstrap, sources + [topic["findings"], topic["dead_letters"]],
                      partitions=max(2, parallelism))
        env = {**os.environ, "KAFKA_BOOTSTRAP": broker.bootstrap}
        fill_seconds = _fill(conf, data, env)
        ends = _end_offsets(broker.bootstrap, sources)
        records = sum(ends.values())
        say(f"filled {len(ends)} partitions of {', '.join(sources)}: {records:,} records in {fill_seconds:.1f}s "
            f"({records / fill_seconds:,.0f} records/s; not counted)")
        read, seconds = _plain_read(broker.bootstrap, ends)
        say(f"broker ceiling: a plain consumer (kafka-python) reads them at {read / seconds:,.0f} records/s")
        marks = _mark_ends(broker.bootstrap, ends)
        outputs = _Outputs(broker.bootstrap, topic["findings"], topic["dead_letters"])
        try:
            return _timed_job(conf, env, work, records, marks, outputs, broker.process.pid)
        finally:
            outputs.close()
    finally:
        broker.stop()
        _wait_group(broker.process.pid if broker.process else None)
        shutil.rmtree(work, ignore_errors=True)


def _wait_group(pgid: int | None, timeout: float = 30) -> None:
    """noida-db's server is a child of the PID we stop, in its process group, and goes on saving its
    data after that PID exits: wait for the whole group (then SIGKILL it), or it runs into the next row."""
    def alive() -> bool:
        for entry in os.listdir("/proc"):
            try:
                state, _ppid, group = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[:3]
            except (OSError, ValueError):
                continue
            if entry.isdigit() and int(group) == pgid and state != "Z":
                return True
        return False
    deadline = time.monotonic() + timeout
    while pgid and alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if pgid and alive():
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _timed_job(conf: Path, env: dict, work: Path, records: int, marks: list[str], outputs: _Outputs,
               broker_pid: int) -> tuple[dict, int]:
    """`chainwatch run` as a fresh process. The clock runs from the moment its last task is RUNNING
    (JVM, job graph, deployment and the tasks' Python start-up excluded, as the replay runs exclude
    theirs with a warm-up replay; a source running earlier can only fill network buffers until then)
    until every end mark and the last expected finding are out."""
    log_dir = work / "log"
    env = {**env, "FLINK_LOG_DIR": str(log_dir)}      # its own JVM log, where the REST port is
    with open(work / "job.out", "wb") as out, open(work / "job.err", "wb") as err:
        started = time.time()
        job = subprocess.Popen([sys.executable, "-m", "chainwatch.cli", "run", "--conf", str(conf)],
                               env=env, stdout=out, stderr=err, start_new_session=True)
    peak, broker_peak, rest_url, running, cpu = 0, 0, None, None, None
    # Generous: a stalled job fails the run rather than hanging the benchmark (>= 500 records/s).
    allowed = 300 + records / 500
    deadline, marked_at = time.monotonic() + allowed, None
    try:
        while True:
            peak, broker_peak = max(peak, _tree_rss(job.pid)), max(broker_peak, _tree_rss(broker_pid))
            if job.poll() is not None:
                raise RuntimeError(f"chainwatch run exited with {job.returncode}:\n"
                                   + (work / "job.err").read_text(errors="replace")[-3000:])
            if running is None:
                rest_url = rest_url or _rest_url(log_dir)
                running = rest_url and _all_running(rest_url)
                if running:
                    cpu = (time.time(), _tree_cpu(job.pid), _tree_cpu(broker_pid))
            outputs.poll()
            if running and len(outputs.marks) == len(marks):
                marked_at = marked_at or time.monotonic()
                # A missing finding: wait past time.idle_timeout (1 min), when a quiet source stops
                # holding event time back, then report what came.
                if len(outputs.findings) >= EXPECTED_FINDINGS or time.monotonic() - marked_at > 90:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"not done after {allowed:.0f}s: " + (
                    f"{len(outputs.marks)}/{len(marks)} partitions read, {len(outputs.findings)} findings"
                    if running else "its tasks were never all RUNNING on its REST API"))
            time.sleep(0.5)
        cpu_end = (time.time(), _tree_cpu(job.pid), _tree_cpu(broker_pid))
        read_at, found_at = max(outputs.marks.values()), max(outputs.findings.values(), default=None)
        ended = max(read_at, found_at or read_at)
        emitted = _wait_source_count(rest_url, running[0], records + len(marks))
    finally:
        _stop(job)
    job_id, running_at = running
    wall = cpu_end[0] - cpu[0]
    note = (f"start-up {running_at - started:.1f}s excluded; all read at {read_at - running_at:.1f}s, "
            + (f"last finding at {found_at - running_at:.1f}s" if found_at else "no finding")
            + f"; job {(cpu_end[1] - cpu[1]) / wall:.1f} cores, broker {(cpu_end[2] - cpu[2]) / wall:.1f} cores "
            f"and {broker_peak / 2**20:,.0f} MB")
    if outputs.late:
        note += f"; {outputs.late:,} events arrived late (dead-letter notices)"
    if emitted != records + len(marks):
        note += f"; sources emitted {emitted - len(marks):,} of {records:,} records"
    if len(outputs.findings) < EXPECTED_FINDINGS:
        note += (f"; expected {EXPECTED_FINDINGS} findings (2 AN1328, 1 AN1348), got "
                 + (", ".join(sorted(outputs.analytics.values())) or "none"))
    return {"records": records, "seconds": ended - running_at, "findings": len(outputs.findings),
            "note": note}, peak


def _wait_source_count(rest_url: str, job_id: str, expected: int, timeout: float = 25) -> int:
    """The sources' own count, to confirm the marks: Flink refreshes REST metrics every 10 s."""
    from chainwatch.ops.cluster import ClusterError
    deadline, emitted = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        try:
            emitted = _source_records(rest_url, job_id)
        except (ClusterError, OSError):
            pass
        if emitted >= expected:
            break
        time.sleep(1)
    return emitted


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
    parser.add_argument("--runs", default="parse,engine,replay-p1,replay-p2,eql,kafka-p2")
    parser.add_argument("--data", default="/tmp/chainwatch-bench")
    parser.add_argument("--child", nargs=2, metavar=("RUN", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run, data = args.child
        if run == "engine":
            result = run_engine(data)
        elif run == "parse":
            result = run_parse(data)
        elif run == "eql":
            result = run_eql(data)
        else:
            mode, parallelism = run.split("-p")
            result = run_replay(data, int(parallelism), "process" if mode == "process" else "thread",
                                os.environ.get("CHAINWATCH_BENCH_CLUSTER") if mode == "cluster" else None)
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
                if run.startswith("kafka-p"):     # driven from here: broker, topics, then the job's process
                    result, peak = run_kafka(data, int(run.split("-p")[1]),
                                             lambda line: print(f"{size:>10,}  {run:<11} {line}", flush=True))
                elif run.startswith("cluster-p"):
                    result, peak = run_on_cluster(run, data)
                else:
                    result, peak = _measured(_command(run, data))
            except RuntimeError as exc:
                print(f"{size:>10,}  {run:<11} failed: {str(exc).splitlines()[-1]}", flush=True)
                continue
            note = (result["note"] if "note" in result else
                    f"start-up {result['startup']:.1f}s excluded" if "startup" in result else
                    f"CloudTrail only; load {result['load_seconds']:.1f}s excluded" if "load_seconds" in result else "")
            print(f"{size:>10,}  {run:<11} {result['seconds']:8.1f} {result['records'] / result['seconds']:10,.0f} "
                  f"{result['findings']:8} {peak / 2**20:7,.0f} MB  {note}", flush=True)


if __name__ == "__main__":
    main()
