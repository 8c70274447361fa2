"""Issue 4: the streaming job on a local Flink standalone cluster, submitted with `flink run` the
way production submits it.

A JobManager and two TaskManagers run as separate processes (chainwatch.ops.cluster); the job goes
in with `flink run` at parallelism 2, its package shipped with -pyfs to a Python that does not
have chainwatch installed. It watches a folder: the AWS scenario files are moved in, then a
"clock" file with events two days later, which moves event time past the chains (a live stream
always has newer events coming; a test has to send them). Findings must then appear in the
--out folder, committed by FileSink at a checkpoint. The cluster is stopped by PID even when a
test fails.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from chainwatch import engine

from chainwatch.config import load_config
from chainwatch.flink import cluster_env
from chainwatch.ops import cluster
from chainwatch.patterns.pattern import load_patterns
from tests.builders import write_cloudtrail, write_flows
from tests.conftest import REPO, TEST_CONF
from tests.findings_by_key import is_coverage, key_of
from tests.scenarios import all_scenarios
from tests.streaming import clock_records, write_scenario_files

SCENARIOS = all_scenarios()
EXPECTED_KEYS = sorted(s.key for s in SCENARIOS for _ in range(s.expect))
TIMINGS: dict[str, float] = {}



def _files_config(path: Path, geoip_dir: Path, watched: Path) -> None:
    """The test config, with the watched folder as its only source.

    idle_timeout is longer than the few seconds between the scenario files and the clock file:
    when inputs go idle and then resume, keyed subtasks that buffered events resume at different
    times, and MATCH_RECOGNIZE drops the step rows of the later ones as late (seen with 3 s:
    one finding of three, 47 rows dropped). That is a limitation of the job, not of the cluster."""
    data = yaml.safe_load(TEST_CONF.format(repo=REPO, geo=geoip_dir, inputs=watched, parallelism=2))
    data["sources"] = [{"name": "watched", "type": "files", "paths": [str(watched)], "monitor_interval": "1s"}]
    data["time"]["idle_timeout"] = "30s"
    data["job"]["checkpoint_interval"] = "2s"      # FileSink commits part files at checkpoints
    data["job"]["parallelism"] = 1                  # for `chainwatch run`; on the cluster `flink run -p` decides
    path.write_text(yaml.safe_dump(data))


def _move_in(staging: Path, watched: Path, names) -> None:
    """Whole files appear at once (rename), as a collector that writes elsewhere first does."""
    for name in names:
        os.replace(staging / name, watched / name)


def _findings(out: Path) -> list[dict]:
    """Committed part files only: FileSink's in-progress files are hidden (leading dot)."""
    return [json.loads(line) for part in sorted(out.rglob("findings-*")) for line in part.read_text().splitlines()]


_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _scrape(running) -> list[tuple[str, dict, float]]:
    """Every chainwatch_* sample of every process's Prometheus endpoint (the ports of the range
    that answer: one per process, README "Metrics"), as (name, labels, value)."""
    samples = []
    for port in cluster_env.prometheus_ports(running.conf_dir):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                text = response.read().decode()
        except OSError:
            continue           # a spare port of the range: nobody serves it
        for line in text.splitlines():
            found = _SAMPLE.match(line)
            if found and "_chainwatch_" in found["name"]:
                samples.append((found["name"], dict(_LABEL.findall(found["labels"] or "")), float(found["value"])))
    return samples


def _total(samples, name: str, **labels) -> float:
    return sum(value for n, found, value in samples
               if n == f"flink_taskmanager_job_task_operator_chainwatch_{name}"
               and all(found.get(k) == v for k, v in labels.items()))


@pytest.fixture(scope="module")
def running(tmp_path_factory, config):
    state_dir = tmp_path_factory.mktemp("cluster")
    began = time.monotonic()
    try:
        state = cluster.start(state_dir, config, timeout=240, progress=lambda line: print(line, flush=True))
        TIMINGS["cluster start"] = time.monotonic() - began
        yield state
    finally:
        cluster.stop(state_dir, progress=lambda *_: None)   # by PID; a no-op when a test already stopped it


@pytest.fixture(scope="module")
def run(tmp_path_factory, geoip_dir, running):
    work = tmp_path_factory.mktemp("cluster-job")
    watched, staging, out, dlq = (work / n for n in ("watched", "staging", "out", "dlq"))
    watched.mkdir()
    staging.mkdir()
    conf = work / "chainwatch.yaml"
    _files_config(conf, geoip_dir, watched)
    sent = write_scenario_files(staging, SCENARIOS, with_clock=False)
    (staging / "garbage.json").write_text('{"not": "a cloud log"}\n')
    clock_ct, clock_flows = clock_records()
    write_cloudtrail(staging / "clock-cloudtrail.json.gz", clock_ct)
    write_flows(staging / "clock-vpcflow.log", clock_flows)
    # Coverage findings (the scenarios' StopLogging calls) come out beside the patterns': as many
    # as the reference engine gives on the same files.
    config = load_config(conf)
    coverage = engine.run(config, load_patterns(config.patterns_dir), [staging]).coverage_findings
    expected = len(EXPECTED_KEYS) + len(coverage)

    submitted = time.monotonic()
    job_id = cluster.submit(running.state_dir, conf, out=out, dlq=dlq, parallelism=2, detached=True, timeout=400)
    cluster.wait_for_job(running.state_dir, job_id, timeout=300)
    TIMINGS["submit to running"] = time.monotonic() - submitted
    job = cluster.rest(running, f"/jobs/{job_id}")
    placement = {v["name"]: {tm["taskmanager-id"] for tm in cluster.rest(
        running, f"/jobs/{job_id}/vertices/{v['id']}/taskmanagers")["taskmanagers"]} for v in job["vertices"]}

    fed = time.monotonic()
    _move_in(staging, watched, ["cloudtrail.json.gz", "vpcflow.log", "garbage.json"])
    time.sleep(3)    # the enumerator (monitor_interval 1s) has handed out the scenario files by now
    _move_in(staging, watched, ["clock-cloudtrail.json.gz", "clock-vpcflow.log"])
    deadline, findings = time.monotonic() + 420, []
    while time.monotonic() < deadline and len(findings) < expected:
        time.sleep(2)
        findings = _findings(out)
        state = cluster.rest(running, f"/jobs/{job_id}")["state"]
        assert state == "RUNNING", cluster.job_exception(running.state_dir, job_id)
    TIMINGS["files in to findings out"] = time.monotonic() - fed
    TIMINGS["end to end (submit to findings)"] = time.monotonic() - submitted
    time.sleep(6)    # three more checkpoints: anything extra would be committed by now
    findings = _findings(out)
    metrics = _scrape(running)      # while the job runs: its metrics go with it
    savepoint = cluster.cancel(running.state_dir, job_id, savepoint=str(work / "savepoints"))
    print("\ncluster timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items()), flush=True)
    return {"job": job, "placement": placement, "findings": findings, "dlq": dlq, "savepoint": savepoint,
            "state_dir": Path(running.state_dir), "job_id": job_id, "metrics": metrics, "coverage": coverage,
            "records": sent + 1 + len(clock_ct) + len(clock_flows)}     # + garbage.json + the clock


def test_jobmanager_and_two_taskmanagers_are_separate_processes_on_loopback(running):
    assert len(set(running.pids.values())) == 3
    commands = {name: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for name, pid in running.pids.items()}
    assert b"org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint" in commands["jobmanager"]
    for n in (1, 2):
        assert b"org.apache.flink.runtime.taskexecutor.TaskManagerRunner" in commands[f"taskmanager-{n}"]
    assert running.rest_url.startswith("http://127.0.0.1:")
    taskmanagers = cluster.rest(running, "/taskmanagers")["taskmanagers"]
    assert sorted(tm["id"] for tm in taskmanagers) == ["tm-1", "tm-2"]


def test_job_runs_at_the_submitted_parallelism_across_both_taskmanagers(run):
    assert {v["parallelism"] for v in run["job"]["vertices"]} == {2}     # -p 2, config says 1
    steps = next(names for vertex, names in run["placement"].items() if vertex.startswith("identity steps"))
    assert steps == {"tm-1", "tm-2"}


def test_chainwatch_comes_only_from_the_shipped_files(run):
    python = cluster.worker_python(run["state_dir"])
    # Without this process's PYTHONPATH (replay jobs earlier in the session put the repo on it);
    # the cluster's processes start without it too (cluster_env.process_env).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    missing = subprocess.run([str(python), "-c", "import chainwatch"], cwd=run["state_dir"], capture_output=True,
                             env=env)
    assert missing.returncode != 0 and b"No module named 'chainwatch'" in missing.stderr
    logs = "".join(p.read_text(errors="replace") for p in (run["state_dir"] / "log").glob("flink-*taskexecutor*.log"))
    assert "/python-files/python-src/python-src" in logs      # -pyfs: the folder holding chainwatch/


def test_every_expected_finding_arrives_in_the_out_folder(run):
    findings = [f for f in run["findings"] if not is_coverage(f)]
    assert sorted(key_of(f) for f in findings) == EXPECTED_KEYS, [f["finding_info"]["uid"] for f in findings]
    by_key = {s.key: s for s in SCENARIOS}
    for finding in findings:
        scenario = by_key[key_of(finding)]
        assert finding["class_uid"] == 2004
        assert finding["finding_info"]["analytic"]["uid"] == scenario.analytic
        assert set(scenario.must_cite) <= {e["uid"] for e in finding["finding_info"]["related_events"]}


def test_each_coverage_finding_arrives_once(run):
    """The scenarios stop the trail: a change finding per StopLogging call, as the engine gives."""
    coverage = sorted(f["metadata"]["uid"] for f in run["findings"] if is_coverage(f))
    assert coverage and coverage == sorted(f["metadata"]["uid"] for f in run["coverage"])


def test_unparseable_record_goes_to_the_dead_letter_folder(run):
    dead = [json.loads(line) for part in run["dlq"].rglob("dead-letters-*") for line in part.read_text().splitlines()]
    assert len(dead) == 1 and "a cloud log" in json.dumps(dead[0])


def test_prometheus_endpoints_count_records_dead_letters_and_findings(run):
    """chainwatch.flink.metrics through the Prometheus reporter `cluster start` configures."""
    metrics = run["metrics"]
    assert metrics, "no chainwatch_* metric on any Prometheus port of the cluster"
    assert _total(metrics, "records_read") == run["records"]
    assert _total(metrics, "records_normalised") == run["records"] - 1
    assert _total(metrics, "reason_dead_lettered", reason="unrecognised") == 1        # garbage.json
    assert _total(metrics, "reason_dead_lettered") == 1
    reasons = {labels["reason"] for name, labels, _ in metrics if name.endswith("_chainwatch_reason_dead_lettered")}
    assert {"unrecognised", "event_time", "late", "malformed"} <= reasons         # every class, at 0 too
    expected = {}
    for scenario in SCENARIOS:
        expected[scenario.analytic] = expected.get(scenario.analytic, 0) + scenario.expect
    for analytic, n in expected.items():
        assert _total(metrics, "analytic_findings", analytic=analytic) == n, analytic
    for kind in ("change", "gap"):
        assert _total(metrics, "kind_coverage_findings", kind=kind) == \
            sum(1 for f in run["coverage"] if f["finding_info"]["types"] == [kind])
    assert all(labels.get("job_name") for _, labels, _ in metrics)


def test_stop_with_savepoint_writes_a_savepoint(run):
    location = Path(run["savepoint"].removeprefix("file:"))
    assert (location / "_metadata").is_file()


def test_cli_status_shows_the_taskmanagers_and_the_job(run):
    shown = subprocess.run([str(REPO / ".venv" / "bin" / "chainwatch"), "cluster", "status",
                            "--state-dir", str(run["state_dir"])], capture_output=True, text=True, check=True).stdout
    assert "2 TaskManagers" in shown and run["job_id"] in shown


def test_stop_ends_exactly_the_cluster_processes(running, run):
    assert running.supervisor and cluster.is_running(running.supervisor, running.state_dir)
    pids = sorted([*running.pids.values(), running.supervisor])    # the supervisor too
    assert sorted(cluster.stop(running.state_dir, progress=lambda *_: None)) == pids
    assert not any(Path(f"/proc/{pid}").exists() and cluster._alive(pid) for pid in pids)
