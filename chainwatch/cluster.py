"""A local Flink standalone cluster from the installed PyFlink, and `flink run` submission.

`start` runs one JobManager and N TaskManagers as separate processes (pyflink/bin's
jobmanager.sh / taskmanager.sh in the foreground, so the PID we get is the JVM's own: the
scripts `exec` java), with a generated conf dir under a state folder. `stop` ends exactly
those PIDs. `submit` runs `flink run` as production does: the job file with -py, the package
source shipped with -pyfs, the interpreter with -pyexec. Everything listens on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from chainwatch.cluster_env import (flink_home, flink_settings, free_port, lib_dir, process_env,
                                    stage_package, worker_python, write_conf_dir)
from chainwatch.config import config_file

JOB_FILE = Path("chainwatch") / "jobs" / "chainwatch_job.py"       # inside the shipped copy of the package
STATE_FILE = "cluster.json"
_JOB_ID = re.compile(r"JobID ([0-9a-f]{32})")     # `flink run`: "Job has been submitted with JobID ..."


class ClusterError(Exception):
    pass


class NotReady(ClusterError):
    """HTTP 503 from the REST API: the JobManager is up but still electing its leader."""


@dataclass
class ClusterState:
    state_dir: str
    conf_dir: str
    rest_url: str
    pids: dict            # process name -> PID
    started: float


def load_state(state_dir) -> ClusterState | None:
    path = Path(state_dir) / STATE_FILE
    return ClusterState(**json.loads(path.read_text())) if path.exists() else None


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


def _ours(pid: int, conf_dir: str) -> bool:
    """The PID still runs a Flink process of this cluster (PIDs get reused)."""
    try:
        return conf_dir in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except FileNotFoundError:
        return False


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
    running = load_state(state_dir)
    if running and any(_alive(p) and _ours(p, running.conf_dir) for p in running.pids.values()):
        raise ClusterError(f"a cluster from {state_dir} is already running ({running.rest_url}): stop it first")
    (state_dir / "log" / "rocksdb").mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    rest_port = free_port()
    settings = flink_settings(state_dir, config, python=worker_python(state_dir), rest_port=rest_port,
                              rpc_port=free_port(),
                              taskmanagers=taskmanagers, slots=slots, state_backend=state_backend)
    conf_dir = write_conf_dir(state_dir, settings)
    lib_dir(state_dir)
    env, bin_dir = process_env(state_dir, conf_dir), flink_home() / "bin"
    state = ClusterState(str(state_dir), str(conf_dir), f"http://127.0.0.1:{rest_port}", {}, time.time())

    def launch(name, script, *args):
        with open(state_dir / "log" / f"{name}.console", "ab") as console:
            # cwd: the state folder, so no Python started from there finds the repo's chainwatch/ by accident
            process = subprocess.Popen([str(bin_dir / script), "start-foreground", *args], env=env, cwd=state_dir,
                                       stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                       start_new_session=True)   # survives the CLI and its terminal
        state.pids[name] = process.pid
        (state_dir / STATE_FILE).write_text(json.dumps(asdict(state), indent=1))   # stop works from here on

    try:
        launch("jobmanager", "jobmanager.sh")
        for n in range(1, taskmanagers + 1):
            launch(f"taskmanager-{n}", "taskmanager.sh", "-D", f"taskmanager.resource-id=tm-{n}")
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
    except BaseException:
        stop(state_dir, progress=lambda *_: None)
        raise
    return state


def stop(state_dir, *, timeout: float = 30, progress=print) -> list[int]:
    """SIGTERM exactly the recorded PIDs (only if they still run this cluster), wait, then SIGKILL."""
    state_dir = Path(state_dir).resolve()
    state = load_state(state_dir)
    if state is None:
        progress(f"no cluster recorded in {state_dir}")
        return []
    pids = [pid for pid in state.pids.values() if _alive(pid) and _ours(pid, state.conf_dir)]
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
    (state_dir / STATE_FILE).unlink()
    progress(f"stopped {len(pids)} processes: {' '.join(map(str, pids)) or '-'}")
    return pids


def running_state(state_dir) -> ClusterState:
    state = load_state(Path(state_dir).resolve())
    if state is None or not all(_alive(p) and _ours(p, state.conf_dir) for p in state.pids.values()):
        raise ClusterError(f"no running cluster in {state_dir} (`chainwatch cluster start` first)")
    return state


def status(state_dir) -> dict:
    state = running_state(state_dir)
    return {"rest_url": state.rest_url, "pids": state.pids, "overview": rest(state, "/overview"),
            "jobs": rest(state, "/jobs/overview")["jobs"]}


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
    state, began = running_state(state_dir), time.monotonic()
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
    raise ClusterError(f"job {job_id} not running after {timeout:.0f}s")


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
