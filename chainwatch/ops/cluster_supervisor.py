"""Keeps the local cluster's TaskManagers running, as Kubernetes restarts a dead pod.

`chainwatch cluster start` runs `python -m chainwatch.ops.cluster_supervisor STATE_DIR` detached once
the cluster is up. Every second it checks the recorded PIDs; a TaskManager that is gone (killed,
out of memory, crashed) is started again with the same command under a new resource id
(cluster.resource_id: `tm-N.rK`), after a back-off, and its new PID goes into cluster.json. Flink
sees a new TaskManager register and the job, restarting under its restart strategy, gets its
slots and resumes from its last checkpoint. One line per event in STATE_DIR/log/supervisor.log.

The JobManager is not restarted: this cluster has no high availability, so a new JobManager
would not know the jobs of the old one. The supervisor says so and exits. `cluster stop` ends
the supervisor first (SIGTERM), so it does not start again what `stop` ends.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from chainwatch.flink.cluster_env import process_env
from chainwatch.ops.cluster import is_running, launch, load_state

POLL_S = 1.0
FIRST_DELAY_S = 1.0     # before the first restart: a beat, as the kubelet gives, and for `status` to see it dead
MAX_DELAY_S = 60.0      # a TaskManager that keeps dying is tried at most once a minute
STABLE_S = 60.0         # one that ran this long and died again starts from FIRST_DELAY_S again


def log(message: str) -> None:
    print(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} {message}", flush=True)


class Supervisor:
    """One `tick` per poll: decisions from the state file and /proc alone, so a test can drive it."""

    def __init__(self, state_dir, *, start=launch, clock=time.monotonic):
        self.state_dir = Path(state_dir)
        self.start, self.clock = start, clock
        self.env = None
        self.delay: dict[str, float] = {}      # TaskManager -> its current back-off
        self.due: dict[str, float] = {}        # dead TaskManager -> when to start it
        self.started: dict[str, float] = {}    # TaskManager -> when we last started it

    def tick(self) -> bool:
        """False when there is nothing left to supervise."""
        state = load_state(self.state_dir)
        if state is None or state.supervisor not in (None, os.getpid()):
            log("cluster.json is gone or names another supervisor: exiting")
            return False
        if not is_running(state.pids.get("jobmanager"), state.state_dir):
            log(f"the JobManager (pid {state.pids.get('jobmanager')}) is gone and with it its jobs (no high "
                "availability): not restarting anything; `chainwatch cluster stop`, then `start`")
            return False
        now = self.clock()
        for name, pid in state.pids.items():
            if not name.startswith("taskmanager-"):
                continue
            if is_running(pid, state.state_dir):
                self.due.pop(name, None)
                continue
            if name not in self.due:
                recent = now - self.started.get(name, -STABLE_S) < STABLE_S   # died soon after we started it
                self.delay[name] = min(2 * self.delay[name], MAX_DELAY_S) if recent else FIRST_DELAY_S
                self.due[name] = now + self.delay[name]
                log(f"{name} (pid {pid}) is gone; starting it again in {self.delay[name]:.0f}s")
            elif now >= self.due[name]:
                del self.due[name]
                if self.env is None:
                    self.env = process_env(Path(state.state_dir), Path(state.conf_dir))
                state.restarts[name] = state.restarts.get(name, 0) + 1
                new = self.start(state, name, self.env)     # records the PID (and the count) in cluster.json
                self.started[name] = self.clock()
                log(f"{name} started again: pid {new} (restart {state.restarts[name]})")
        return True


def main(argv=None) -> int:
    (state_dir,) = argv if argv is not None else sys.argv[1:]
    stopping = []
    # Only a flag: a SIGTERM from `cluster stop` never interrupts a start half-way, so a
    # TaskManager we start is always in cluster.json before we exit, where `stop` finds it.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(sig))
    supervisor = Supervisor(state_dir)
    log(f"supervising the TaskManagers of {state_dir} (pid {os.getpid()})")
    while not stopping:
        if not supervisor.tick():
            return 1
        time.sleep(POLL_S)
    log("stopped by signal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
