"""The local cluster's supervision without Flink: real processes stand in for the JobManager and
TaskManagers (a Python that sleeps, in the state folder as Flink's scripts and JVMs run), a
loopback HTTP server for the REST API. The real thing is tests/integration/test_cluster_heal.py."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainwatch.cli import main
from chainwatch.ops import cluster, cluster_supervisor
from tests.fake_rest import fake_rest

REGISTERED: list[str] = []


def _sleeper(state_dir: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], cwd=state_dir)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _flink(path: str):
    return 200, {"/overview": {"taskmanagers": len(REGISTERED), "slots-available": 0,
                               "slots-total": len(REGISTERED), "flink-version": "2.0.0"},
                 "/jobs/overview": {"jobs": []},
                 "/taskmanagers": {"taskmanagers": [{"id": tm, "timeSinceLastHeartbeat": time.time() * 1000}
                                                    for tm in REGISTERED]}}[path]


@pytest.fixture
def fake(tmp_path):
    """A recorded cluster: JobManager and taskmanager-1 running, taskmanager-2 dead."""
    processes = [_sleeper(str(tmp_path)), _sleeper(str(tmp_path))]
    with fake_rest(_flink) as url:
        state = cluster.ClusterState(str(tmp_path), str(tmp_path / "conf"), url,
                                     {"jobmanager": processes[0].pid, "taskmanager-1": processes[1].pid,
                                      "taskmanager-2": _dead_pid()}, time.time())
        cluster.save_state(state)
        REGISTERED[:] = ["tm-1"]
        try:
            yield state, processes
        finally:
            for process in processes:
                process.kill()
                process.wait()


def test_a_dead_taskmanager_is_started_again_after_a_growing_back_off(fake, capsys):
    state, processes = fake
    now, started = [100.0], []

    def start(state, name, env):      # as cluster.launch: a process, its PID recorded
        process = _sleeper(state.state_dir)
        processes.append(process)
        started.append(name)
        state.pids[name] = process.pid
        cluster.save_state(state)
        return process.pid

    supervisor = cluster_supervisor.Supervisor(state.state_dir, start=start, clock=lambda: now[0])
    assert supervisor.tick() and started == []                      # seen dead: due in 1 s
    now[0] += cluster_supervisor.FIRST_DELAY_S
    assert supervisor.tick() and started == ["taskmanager-2"]
    recorded = cluster.load_state(state.state_dir)
    assert recorded.pids["taskmanager-2"] == processes[-1].pid and recorded.restarts == {"taskmanager-2": 1}
    assert recorded.pids["taskmanager-1"] == state.pids["taskmanager-1"]

    processes[-1].kill()                                             # dies again soon after: twice the delay
    processes[-1].wait()
    now[0] += 5
    supervisor.tick()
    now[0] += cluster_supervisor.FIRST_DELAY_S
    supervisor.tick()
    assert started == ["taskmanager-2"]
    now[0] += cluster_supervisor.FIRST_DELAY_S
    supervisor.tick()
    assert started == ["taskmanager-2"] * 2
    assert cluster.load_state(state.state_dir).restarts == {"taskmanager-2": 2}
    log = capsys.readouterr().out
    assert "taskmanager-2 (pid" in log and "starting it again in 2s" in log and "(restart 2)" in log


def test_no_restart_without_the_jobmanager(fake):
    state, processes = fake
    processes[0].kill()
    processes[0].wait()
    started = []
    supervisor = cluster_supervisor.Supervisor(state.state_dir, start=lambda *a: started.append(a))
    assert not supervisor.tick() and not started


def test_status_reports_the_dead_taskmanager_and_cancel_finds_the_cluster(fake, tmp_path):
    state, processes = fake
    elsewhere = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], cwd=tmp_path.parent)
    processes.append(elsewhere)
    state.pids["taskmanager-3"] = elsewhere.pid       # a PID reused by a process that is not the cluster's
    cluster.save_state(state)
    info = cluster.status(state.state_dir)
    assert info["processes"] == {"jobmanager": "running", "taskmanager-1": "running", "taskmanager-2": "dead",
                                 "taskmanager-3": "dead", "supervisor": "dead"}
    assert [tm["id"] for tm in info["taskmanagers"]] == ["tm-1"]
    assert cluster.running_state(state.state_dir).rest_url == state.rest_url    # what cancel and submit use
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        assert main(["cluster", "status", "--state-dir", state.state_dir]) == 0
    assert "1 TaskManagers registered" in shown.getvalue() and "registered: tm-1 (last heartbeat" in shown.getvalue()
    assert f"taskmanager-2  pid {state.pids['taskmanager-2']}" in shown.getvalue()
    assert "DEAD: no supervisor to start it again" in shown.getvalue()


def test_stop_ends_the_supervisor_first_then_the_processes_it_recorded(fake, tmp_path):
    """The supervisor may be starting a TaskManager when `stop` comes: it records it, then exits,
    and `stop` ends that one too."""
    state, processes = fake
    late = _sleeper(state.state_dir)          # the TaskManager the supervisor is starting
    processes.append(late)
    on_term = ("import json, signal, sys, time\n"
               "def bye(*_):\n"
               f"    p = {str(Path(state.state_dir) / cluster.STATE_FILE)!r}\n"
               "    s = json.load(open(p)); s['pids']['taskmanager-2'] = " + str(late.pid) + "\n"
               "    json.dump(s, open(p, 'w')); sys.exit(0)\n"
               "signal.signal(signal.SIGTERM, bye)\n"
               "time.sleep(120)\n")
    supervisor = subprocess.Popen([sys.executable, "-c", on_term], cwd=state.state_dir)
    state.supervisor = supervisor.pid
    cluster.save_state(state)
    time.sleep(0.5)      # its SIGTERM handler is in place
    stopped = cluster.stop(state.state_dir, timeout=10, progress=lambda *_: None)
    assert stopped == [supervisor.pid, processes[0].pid, processes[1].pid, late.pid]
    assert all(p.wait(timeout=10) is not None for p in (supervisor, *processes))
    assert not (tmp_path / cluster.STATE_FILE).exists()
