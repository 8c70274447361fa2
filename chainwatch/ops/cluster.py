"""A local Flink standalone cluster from the installed PyFlink, and `flink run` submission.

`start` runs one JobManager and N TaskManagers as separate processes (pyflink/bin's
jobmanager.sh / taskmanager.sh in the foreground, so the PID we get is the JVM's own: the
scripts `exec` java), with a generated conf dir under a state folder, then a supervisor
(chainwatch.ops.cluster_supervisor) that starts a dead TaskManager again, as Kubernetes would. `stop`
ends exactly those PIDs, the supervisor first. `submit` runs `flink run` as production does: the
job file with -py, the package source shipped with -pyfs, the interpreter with -pyexec.
Everything listens on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chainwatch.config import config_file
from chainwatch.core.errors import ChainwatchError
from chainwatch.flink.cluster_env import (PACKAGE_DIR, flink_home, flink_settings, free_port, lib_dir, process_env,
                                    stage_package, worker_python, write_conf_dir)

JOB_FILE = Path("chainwatch") / "flink" / "entry_point.py"       # inside the shipped copy of the package
STATE_FILE = "cluster.json"
_JOB_ID = re.compile(r"JobID ([0-9a-f]{32})")     # `flink run`: "Job has been submitted with JobID ..."


class ClusterError(ChainwatchError):
    """The local cluster could not do what was asked: the message says what and why."""


class NotReady(ClusterError):
    """HTTP 503 from the REST API: the JobManager is up but still electing its leader."""


@dataclass
class ClusterState:
    state_dir: str
    conf_dir: str
    rest_url: str
    pids: dict            # Flink process name -> PID (the supervisor updates a TaskManager's)
    started: float
    supervisor: int | None = None     # PID of chainwatch.ops.cluster_supervisor
    restarts: dict = field(default_factory=dict)   # TaskManager name -> times the supervisor started it again


def load_state(state_dir) -> ClusterState | None:
    path = Path(state_dir) / STATE_FILE
    try:
        return ClusterState(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None


def save_state(state: ClusterState) -> None:
    """Whole file or nothing (write, then rename): the supervisor rewrites it while the CLI reads it."""
    path = Path(state.state_dir) / STATE_FILE
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(state), indent=1))
    os.replace(temporary, path)


def _alive(pid: int) -> bool:
    try:   # our own child: reap it, or a dead one stays a zombie that kill(0) calls alive
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _ours(pid: int, state_dir: str) -> bool:
    """The PID still runs a process of this cluster (PIDs get reused): `start` and the supervisor
    run every process in the state folder, and Flink's scripts and JVMs never leave it. (The
    arguments name the conf dir only once taskmanager.sh has exec'd java, seconds after a start.)"""
    try:
        return os.readlink(f"/proc/{pid}/cwd") == state_dir
    except OSError:      # gone, or another user's
        return False


def is_running(pid: int | None, state_dir: str) -> bool:
    return bool(pid) and _alive(pid) and _ours(pid, state_dir)


def resource_id(name: str, restarts: int = 0) -> str:
    """The Flink resource id of a TaskManager process: tm-N, and tm-N.rK for its K-th restart.

    A new id per incarnation, as Kubernetes gives a new pod a new name: a TaskManager that came
    back under its old id raced the JobManager's heartbeat monitor of the dead one, which then
    disconnected the new registration by that id (seen in the JobManager log: `tm-2 is no longer
    reachable` after the new tm-2 had registered), and the job kept restarting onto the dead one."""
    n = name.removeprefix("taskmanager-")
    return f"tm-{n}" if not restarts else f"tm-{n}.r{restarts}"


def _command(name: str, restarts: int = 0) -> list[str]:
    """What `start` runs for a process, and the supervisor again for a dead TaskManager."""
    if name == "jobmanager":
        return [str(flink_home() / "bin" / "jobmanager.sh"), "start-foreground"]
    return [str(flink_home() / "bin" / "taskmanager.sh"), "start-foreground", "-D",
            f"taskmanager.resource-id={resource_id(name, restarts)}"]


def launch(state: ClusterState, name: str, env: dict) -> int:
    """Start one process of the cluster, detached, and record its PID in the state file."""
    state_dir = Path(state.state_dir)
    with open(state_dir / "log" / f"{name}.console", "ab") as console:
        # cwd: the state folder, so no Python started from there finds the repo's chainwatch/ by accident
        process = subprocess.Popen(_command(name, state.restarts.get(name, 0)), env=env, cwd=state_dir,
                                   stdin=subprocess.DEVNULL,
                                   stdout=console, stderr=subprocess.STDOUT,
                                   start_new_session=True)   # survives the CLI and its terminal
    state.pids[name] = process.pid
    save_state(state)    # stop works from here on
    return process.pid


def _launch_supervisor(state: ClusterState) -> int:
    """python -m chainwatch.ops.cluster_supervisor STATE_DIR, detached like the JVMs; this very
    chainwatch on its path (not whatever the caller's PYTHONPATH holds)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(PACKAGE_DIR.parent)
    with open(Path(state.state_dir) / "log" / "supervisor.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "chainwatch.ops.cluster_supervisor", state.state_dir],
                                   env=env, cwd=state.state_dir, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    state.supervisor = process.pid
    save_state(state)
    return process.pid


def rest(state: ClusterState, path: str, method: str = "GET", body: dict | None = None, timeout: float = 10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(state.rest_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:   # e.g. an unknown job id: say what Flink said
        raise (NotReady if exc.code == 503 else ClusterError)(f"{method} {path}: HTTP {exc.code}: {exc.read().decode(errors='replace')[:500]}") from exc
    return json.loads(text) if text else {}


def _log_tail(state_dir: Path, name: str, lines: int = 30) -> str:
    logs = sorted((state_dir / "log").glob(f"{name}*"), key=lambda p: p.stat().st_mtime)
    return "\n".join(l for p in logs[-2:] for l in p.read_text(errors="replace").splitlines()[-lines:])


def start(state_dir, config, *, taskmanagers: int = 2, slots: int = 1, state_backend: str = "rocksdb",
          timeout: float = 120, progress=print) -> ClusterState:
    state_dir = Path(state_dir).resolve()
    previous = load_state(state_dir)
    if previous and (any(is_running(p, previous.state_dir) for p in previous.pids.values())
                     or is_running(previous.supervisor, previous.state_dir)):
        raise ClusterError(f"a cluster from {state_dir} is already running ({previous.rest_url}): stop it first")
    (state_dir / "log" / "rocksdb").mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    rest_port = free_port()
    settings = flink_settings(state_dir, config, python=worker_python(state_dir), rest_port=rest_port,
                              rpc_port=free_port(),
                              taskmanagers=taskmanagers, slots=slots, state_backend=state_backend)
    conf_dir = write_conf_dir(state_dir, settings)
    lib_dir(state_dir)
    env = process_env(state_dir, conf_dir)
    state = ClusterState(str(state_dir), str(conf_dir), f"http://127.0.0.1:{rest_port}", {}, time.time())
    try:
        for name in ["jobmanager", *(f"taskmanager-{n}" for n in range(1, taskmanagers + 1))]:
            launch(state, name, env)
        seen = None
        while True:
            dead = [name for name, pid in state.pids.items() if not _alive(pid)]
            if dead:
                raise ClusterError(f"{', '.join(dead)} exited during start-up; log:\n"
                                   + _log_tail(state_dir, dead[0]))
            try:
                registered = len(rest(state, "/taskmanagers", timeout=5)["taskmanagers"])
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, NotReady):
                registered = -1 if seen is None or seen < 0 else seen   # a slow answer is not a step back
            if registered != seen:
                seen = registered
                progress(f"  {time.monotonic() - began:5.1f}s  " + ("waiting for the JobManager's REST API"
                         if registered < 0 else f"TaskManagers registered: {registered}/{taskmanagers}"))
            if registered >= taskmanagers:
                break
            if time.monotonic() - began > timeout:
                raise ClusterError(f"cluster not up after {timeout:.0f}s; JobManager log:\n"
                                   + _log_tail(state_dir, "jobmanager"))
            time.sleep(0.5)
        # Only once the cluster is up: a TaskManager that dies during start-up is a failed start,
        # reported with its log above, not something to retry.
        _launch_supervisor(state)
    except BaseException:
        stop(state_dir, progress=lambda *_: None)
        raise
    return state


def _terminate(pids: list[int], timeout: float) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    while any(_alive(p) for p in pids):
        time.sleep(0.1)


def stop(state_dir, *, timeout: float = 30, progress=print) -> list[int]:
    """SIGTERM exactly the recorded PIDs (only if they still run this cluster), wait, then SIGKILL.
    The supervisor goes first, or it would start the TaskManagers we stop again."""
    state_dir = Path(state_dir).resolve()
    state = load_state(state_dir)
    if state is None:
        progress(f"no cluster recorded in {state_dir}")
        return []
    stopped = []
    if is_running(state.supervisor, state.state_dir):
        _terminate([state.supervisor], timeout)   # it records a TaskManager it is starting, then exits
        stopped.append(state.supervisor)
        state = load_state(state_dir) or state    # with the PIDs as the supervisor left them
    pids = [pid for pid in state.pids.values() if is_running(pid, state.state_dir)]
    _terminate(pids, timeout)
    stopped += pids
    (state_dir / STATE_FILE).unlink()
    progress(f"stopped {len(stopped)} processes: {' '.join(map(str, stopped)) or '-'}")
    return stopped


def running_state(state_dir) -> ClusterState:
    """The recorded cluster if its JobManager runs: the REST API (jobs, submit, cancel) is there
    even while a TaskManager is down and the supervisor brings it back."""
    state = load_state(Path(state_dir).resolve())
    if state is None or not is_running(state.pids.get("jobmanager"), state.state_dir):
        raise ClusterError(f"no running cluster in {state_dir} (`chainwatch cluster start` first)")
    return state


def status(state_dir) -> dict:
    """Each recorded process `running` or `dead` (by its PID: read before the REST calls, so a
    TaskManager dead when this is called shows as dead even if the supervisor starts it again
    meanwhile), then what the JobManager says: its overview, the TaskManagers registered with it
    (a dead one stays listed until its heartbeats fail, so each comes with its last heartbeat),
    the jobs."""
    state = load_state(Path(state_dir).resolve())
    if state is None:
        raise ClusterError(f"no cluster recorded in {state_dir} (`chainwatch cluster start` first)")
    processes = {name: "running" if is_running(pid, state.state_dir) else "dead" for name, pid in state.pids.items()}
    processes["supervisor"] = "running" if is_running(state.supervisor, state.state_dir) else "dead"
    info = {"rest_url": state.rest_url, "pids": {**state.pids, "supervisor": state.supervisor},
            "processes": processes, "restarts": state.restarts, "overview": None, "taskmanagers": [], "jobs": []}
    if processes["jobmanager"] == "running":
        info["overview"] = rest(state, "/overview")
        info["taskmanagers"] = rest(state, "/taskmanagers")["taskmanagers"]
        info["jobs"] = rest(state, "/jobs/overview")["jobs"]
    return info


def submit_command(state: ClusterState, conf_path, *, out=None, dlq=None, parallelism: int = 2,
                   detached: bool = True, from_savepoint: str | None = None) -> list[str]:
    """`flink run` for the PyFlink job: the package source with -pyfs, the job file from that copy
    with -py, the cluster's interpreter (dependencies installed, chainwatch not) with
    -pyexec/-pyclientexec. Needs nothing but the installed package."""
    state_dir = Path(state.state_dir)
    python = str(worker_python(state_dir))
    shipped = stage_package(state_dir)
    command = [str(flink_home() / "bin" / "flink"), "run", "--parallelism", str(parallelism),
               "--pyExecutable", python, "--pyClientExecutable", python, "--pyFiles", str(shipped)]
    command += ["--detached"] if detached else []
    command += ["--fromSavepoint", from_savepoint] if from_savepoint else []
    command += ["--python", str(shipped / JOB_FILE), "--conf", str(config_file(conf_path))]
    command += ["--out", out if out == "-" else str(Path(out).resolve())] if out else []
    command += ["--dlq", str(Path(dlq).resolve())] if dlq else []
    return command


def submit(state_dir, conf_path, *, out=None, dlq=None, parallelism: int = 2, detached: bool = True,
           from_savepoint: str | None = None, timeout: float = 300, echo=None) -> str:
    """Runs `flink run` and returns the job id. Detached, `flink run` returns once the job is
    submitted; attached, it stays with the streaming job: the id goes to `echo` when Flink prints
    it and this returns when the job ends."""
    state = running_state(state_dir)
    command = submit_command(state, conf_path, out=out, dlq=dlq, parallelism=parallelism, detached=detached,
                             from_savepoint=from_savepoint)
    process = subprocess.Popen(command, env=process_env(Path(state.state_dir), Path(state.conf_dir)),
                               cwd=state.state_dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    job_id = None
    if detached:
        try:
            output = process.communicate(timeout=timeout)[0].splitlines(keepends=True)
        except subprocess.TimeoutExpired:
            process.kill()
            output = [process.communicate()[0], f"\n(no answer after {timeout:.0f}s)"]
    else:
        output = []
        for line in process.stdout:
            output.append(line)
            if job_id is None and _JOB_ID.search(line):
                job_id = _JOB_ID.search(line).group(1)
                if echo:
                    echo(job_id)
    code = process.wait()
    found = _JOB_ID.search("".join(output))
    if found is None or code != 0:
        raise ClusterError(f"flink run failed (exit {code}):\n" + "".join(output[-60:]))
    if detached and echo:
        echo(found.group(1))
    return found.group(1)


def wait_for_job(state_dir, job_id: str, *, timeout: float = 120) -> float:
    """Seconds until the job and all its tasks are RUNNING; fails if the job fails first."""
    state, began, job = running_state(state_dir), time.monotonic(), None
    while time.monotonic() - began < timeout:
        try:
            job = rest(state, f"/jobs/{job_id}")
        except NotReady:
            time.sleep(0.5)
            continue
        if job["state"] in ("FAILED", "CANCELED", "FINISHED"):
            raise ClusterError(f"job {job_id} is {job['state']}: {job_exception(state_dir, job_id)}")
        if job["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in job["vertices"]):
            return time.monotonic() - began
        time.sleep(0.5)
    raise ClusterError(f"job {job_id} not running after {timeout:.0f}s (state {job['state'] if job else 'unknown'}); "
                       f"last exception: {job_exception(state_dir, job_id)}")


def job_exception(state_dir, job_id: str) -> str:
    info = rest(running_state(state_dir), f"/jobs/{job_id}/exceptions")
    root = (info.get("exceptionHistory") or {}).get("entries") or []
    return (root[0].get("stacktrace", "") if root else "")[:4000] or "no exception recorded"


def cancel(state_dir, job_id: str, *, savepoint: str | None = None, timeout: float = 120) -> str | None:
    """Cancel the job, or with `savepoint` ('' = the cluster's default folder) stop it with a
    savepoint and return its path (resume with `flink run -s PATH`)."""
    state = running_state(state_dir)
    if savepoint is None:
        rest(state, f"/jobs/{job_id}?mode=cancel", method="PATCH")
        _wait_state(state, job_id, "CANCELED", timeout)
        return None
    body = {"drain": False, "formatType": "CANONICAL"}
    if savepoint:
        body["targetDirectory"] = Path(savepoint).resolve().as_uri()
    trigger = rest(state, f"/jobs/{job_id}/stop", method="POST", body=body)["request-id"]
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        result = rest(state, f"/jobs/{job_id}/savepoints/{trigger}")
        if result["status"]["id"] == "COMPLETED":
            operation = result.get("operation", {})
            if "failure-cause" in operation:
                raise ClusterError(f"stop with savepoint failed: {operation['failure-cause'].get('stack-trace', '')[:2000]}")
            return operation["location"]
        time.sleep(0.5)
    raise ClusterError(f"savepoint of {job_id} not done after {timeout:.0f}s")


def _wait_state(state: ClusterState, job_id: str, wanted: str, timeout: float) -> None:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if rest(state, f"/jobs/{job_id}")["state"] == wanted:
            return
        time.sleep(0.3)
    raise ClusterError(f"job {job_id} not {wanted} after {timeout:.0f}s")
