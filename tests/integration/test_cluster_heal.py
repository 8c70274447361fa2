"""Issue 10 item 7: the local standalone cluster heals, as Kubernetes would.

The job reads Kafka at parallelism 2 on the standalone cluster the cluster tests share
(tests/conftest.py). Once a checkpoint holds the first half of the telemetry (the consumer
group's committed offsets reach the end of the topic: Flink commits them when a checkpoint
completes), the second half is produced and a TaskManager is SIGKILLed by its PID from
cluster.json, while the job reads it. `cluster status` reports it dead; the supervisor starts it
again; the job restarts from its last checkpoint and every expected finding arrives (a copy only
with the same uid: at-least-once). Then the other TaskManager is killed and `cluster cancel`
must work while it is down. The cluster is whole again at the end, for the tests that share it.
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
import time

import pytest
import yaml

from chainwatch.cli import main
from chainwatch.config import load_config
from chainwatch.ops import cluster
from chainwatch.ops.dev_broker import create_topics, feed
from tests.findings_by_key import is_coverage, key_of
from tests.scenarios import all_scenarios
from tests.streaming import kafka_config_file, write_scenario_files

SCENARIOS = all_scenarios()
EXPECTED_KEYS = sorted(s.key for s in SCENARIOS for _ in range(s.expect))
SPLIT = "2026-10-11T00:20"     # as in test_kafka_job: every chain has steps on both sides of the kill
TIMINGS: dict[str, float] = {}


def _halves(directory):
    first, second = directory / "first", directory / "second"
    first.mkdir(), second.mkdir()
    halves = [[], []]
    for s in SCENARIOS:
        halves[0].append(type(s)(s.name, s.analytic, s.key, 0, [r for r in s.records if r["eventTime"] < SPLIT], []))
        halves[1].append(type(s)(s.name, s.analytic, s.key, 0, [r for r in s.records if r["eventTime"] >= SPLIT],
                                 s.flows))
    write_scenario_files(first, halves[0], with_clock=False)
    write_scenario_files(second, halves[1])
    return first, second


def _wait(what: str, predicate, timeout: float, step: float = 1.0) -> float:
    began = time.monotonic()
    while not predicate():
        assert time.monotonic() - began < timeout, f"not after {timeout:.0f}s: {what}"
        time.sleep(step)
    return time.monotonic() - began


def _committed_to_the_end(bootstrap: str, group: str, topic: str) -> bool:
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:            # no subscribe(): reads the group's offsets without joining it
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(partitions)
        return bool(partitions) and all((consumer.committed(tp) or 0) >= ends[tp] for tp in partitions)
    finally:
        consumer.close()


def _findings(bootstrap: str, topic: str, timeout: float, settle: float = 5.0) -> list[dict]:
    """The topic until it holds as many distinct finding uids as expected, then `settle` s more."""
    import json
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000, group_id=None)
    found, deadline, settled_at = [], time.monotonic() + timeout, None
    try:
        while time.monotonic() < deadline and (settled_at is None or time.monotonic() < settled_at):
            found.extend({"key": m.key.decode() if m.key else None, "value": json.loads(m.value)} for m in consumer)
            # pattern findings: the coverage findings (the scenarios' StopLogging) come besides
            if settled_at is None and len({f["key"] for f in found if not is_coverage(f["value"])}) >= \
                    len(EXPECTED_KEYS):
                settled_at = time.monotonic() + settle
    finally:
        consumer.close()
    return found


def _kill(state_dir, name: str) -> tuple[int, float]:
    """SIGKILL a TaskManager by the PID cluster.json records; returns it and the wall-clock time."""
    pid = cluster.load_state(state_dir).pids[name]
    os.kill(pid, signal.SIGKILL)
    # A JVM takes a moment to die (under load, long enough for `status` to still see it run);
    # the supervisor waits 1-2 s after the death before starting it again.
    deadline = time.monotonic() + 10
    while cluster._alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return pid, time.time()


def _cli(*args) -> tuple[int, str]:
    """The CLI in this process: it answers in milliseconds, before the supervisor acts (1-2 s)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["cluster", *args])
    return code, out.getvalue()


def _whole_since(state_dir, when: float) -> bool:
    """Both TaskManager processes run, registered under their current ids with heartbeats after
    `when`, and nothing else registered (a dead TaskManager stays listed for a while)."""
    info = cluster.status(state_dir)
    registered = {tm["id"]: tm["timeSinceLastHeartbeat"] / 1000 > when for tm in info["taskmanagers"]}
    expected = {cluster.resource_id(name, info["restarts"].get(name, 0)) for name in ("taskmanager-1", "taskmanager-2")}
    # and the dead incarnations no longer listed: the next test counts two TaskManagers
    return set(registered) == expected and all(registered.values()) and \
        all(v == "running" for v in info["processes"].values())


def _restore(state_dir, job_id: str, last_kill: float) -> bool:
    """The job gone and both TaskManagers back, for the tests that share the cluster; quietly, so
    a failure above is not hidden by this one (test_the_cluster_is_whole_again reports it)."""
    with contextlib.suppress(cluster.ClusterError):
        if cluster.rest(cluster.running_state(state_dir), f"/jobs/{job_id}")["state"] not in ("CANCELED", "FAILED"):
            cluster.cancel(state_dir, job_id)
    try:
        _wait("the cluster whole again", lambda: _whole_since(state_dir, last_kill), 240)
        return True
    except (AssertionError, cluster.ClusterError):
        return False


@pytest.fixture(scope="module")
def healed(tmp_path_factory, geoip_dir, kafka_bootstrap, standalone_cluster):
    state_dir = standalone_cluster
    directory = tmp_path_factory.mktemp("cluster-heal")
    conf = directory / "chainwatch.yaml"
    topics = kafka_config_file(conf, geoip_dir, kafka_bootstrap, parallelism=2)
    group = yaml.safe_load(conf.read_text())["kafka"]["group_id"]
    first, second = _halves(directory)
    create_topics(kafka_bootstrap, topics.values())
    config = load_config(conf)
    out = {"state_dir": state_dir}
    submitted = time.monotonic()
    job_id = out["job_id"] = cluster.submit(state_dir, conf, parallelism=2, detached=True)
    last_kill = time.time()
    try:
        cluster.wait_for_job(state_dir, job_id, timeout=300)
        TIMINGS["submit to running"] = time.monotonic() - submitted
        feed(config, [first], progress=None)
        TIMINGS["first half fed to checkpointed"] = _wait(
            "a checkpoint with the first half", lambda: _committed_to_the_end(kafka_bootstrap, group,
                                                                              topics["cloudtrail"]), 180)
        state = cluster.running_state(state_dir)
        out["checkpoint_before"] = cluster.rest(state, f"/jobs/{job_id}/checkpoints")["latest"]["completed"]["id"]

        feed(config, [second], progress=None)
        out["killed"], last_kill = _kill(state_dir, "taskmanager-2")
        killed = time.monotonic()
        out["status"] = cluster.status(state_dir)
        out["status_cli"] = _cli("status", "--state-dir", str(state_dir))
        _wait("taskmanager-2 started again and registered", lambda: _whole_since(state_dir, last_kill), 240)
        TIMINGS["kill to TaskManager back"] = time.monotonic() - killed
        out["findings"] = _findings(kafka_bootstrap, topics["findings"], timeout=300)
        TIMINGS["kill to every finding"] = time.monotonic() - killed
        out["checkpoints"] = cluster.rest(state, f"/jobs/{job_id}/checkpoints")
        out["exceptions"] = cluster.rest(state, f"/jobs/{job_id}/exceptions")["exceptionHistory"]["entries"]
        out["job_state"] = cluster.rest(state, f"/jobs/{job_id}")["state"]
        out["supervisor_log"] = (state_dir / "log" / "supervisor.log").read_text()
        out["recorded"] = cluster.load_state(state_dir)

        out["killed_for_cancel"], last_kill = _kill(state_dir, "taskmanager-1")
        cancelling = time.monotonic()
        out["cancel_cli"] = _cli("cancel", job_id, "--state-dir", str(state_dir))
        TIMINGS["cancel with a TaskManager down"] = time.monotonic() - cancelling
        out["cancelled_state"] = cluster.rest(state, f"/jobs/{job_id}")["state"]
    finally:
        out["whole_again"] = _restore(state_dir, job_id, last_kill)
    print("\ncluster heal timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items()), flush=True)
    return out


def test_status_reports_the_killed_taskmanager_dead(healed):
    assert healed["status"]["processes"]["taskmanager-2"] == "dead"
    assert healed["status"]["pids"]["taskmanager-2"] == healed["killed"]
    assert healed["status"]["processes"]["jobmanager"] == "running"
    code, shown = healed["status_cli"]
    assert code == 0
    assert f"taskmanager-2  pid {healed['killed']:<8} DEAD: the supervisor is starting it again" in shown, shown
    assert healed["job_id"] in shown


def test_the_supervisor_started_it_again_under_a_new_resource_id(healed):
    recorded = healed["recorded"]
    assert recorded.pids["taskmanager-2"] != healed["killed"]
    assert recorded.restarts == {"taskmanager-2": 1}
    assert f"taskmanager-2 (pid {healed['killed']}) is gone" in healed["supervisor_log"]
    assert f"taskmanager-2 started again: pid {recorded.pids['taskmanager-2']} (restart 1)" in healed["supervisor_log"]
    # the command of `start` with the id of a new incarnation (cluster.resource_id), registered
    # with the JobManager (_whole_since)
    argv = open(f"/proc/{recorded.pids['taskmanager-2']}/cmdline", "rb").read().split(b"\0")
    assert b"taskmanager.resource-id=tm-2.r1" in argv and str(healed["state_dir"] / "conf").encode() in argv


def test_the_job_restarted_from_its_last_checkpoint(healed):
    assert healed["job_state"] == "RUNNING", [(e["exceptionName"], e["stacktrace"][:300]) for e in healed["exceptions"][:5]]
    restored = healed["checkpoints"]["latest"]["restored"]
    assert restored and not restored["is_savepoint"] and restored["id"] >= healed["checkpoint_before"]
    causes = [(e.get("taskManagerId"), e["exceptionName"], e["stacktrace"][:300]) for e in healed["exceptions"]]
    assert any(tm == "tm-2" or "tm-2" in trace for tm, _name, trace in causes), causes


def test_every_expected_finding_arrives_duplicates_only_with_the_same_uid(healed):
    findings = healed["findings"]
    by_uid = {}
    for item in findings:
        assert item["key"] == item["value"]["metadata"]["uid"]
        if not is_coverage(item["value"]):
            by_uid.setdefault(item["key"], []).append(key_of(item["value"]))
    assert sorted(keys[0] for keys in by_uid.values()) == EXPECTED_KEYS
    assert all(len(set(keys)) == 1 for keys in by_uid.values())


def test_cancel_works_while_a_taskmanager_is_down(healed):
    code, shown = healed["cancel_cli"]
    assert code == 0 and f"cancelled {healed['job_id']}" in shown
    assert healed["cancelled_state"] == "CANCELED"


def test_the_cluster_is_whole_again(healed):
    assert healed["whole_again"]
