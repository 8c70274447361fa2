"""The Flink execution environment, configured the same way for every command."""
from __future__ import annotations

import atexit
import os
import select
import sys
import sysconfig
import threading
import time
from pathlib import Path

import chainwatch
from chainwatch.flink import jvm

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.java_gateway import get_gateway


MAX_FORWARDED_LINE = 4096      # a longer JVM stderr line is passed on in pieces of this many bytes


class _Forwarding:
    last_write = 0.0      # time.monotonic() of the last line passed on


def _forward(stream, forwarding: _Forwarding) -> None:
    for line in iter(lambda: stream.readline(MAX_FORWARDED_LINE), b""):
        try:
            os.write(2, line if line.endswith(b"\n") else line + b" [...]\n")
        except OSError:     # our stderr is gone: keep draining, or the JVM blocks
            pass
        forwarding.last_write = time.monotonic()


def _drain_at_exit(stream, forwarding: _Forwarding, quiet: float = 0.2, limit: float = 3.0) -> None:
    """The forwarding thread is a daemon: at exit it stops wherever it is. So the JVM's last
    lines (a job's final Python error) are not lost, exit waits, at most `limit` seconds, until
    the pipe has nothing unread and the thread has passed nothing on for `quiet` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            unread = select.select([stream], [], [], 0)[0]
        except (OSError, ValueError):       # the pipe is closed: nothing more can come
            return
        if not unread and time.monotonic() - forwarding.last_write >= quiet:
            return
        time.sleep(0.02)


def forward_jvm_stderr() -> None:
    """PyFlink starts the JVM it embeds (the mini-cluster, and in thread mode the job's Python)
    with stderr on a pipe that nothing reads (pyflink_gateway_server): Python errors of the job
    were lost, and once ~64 KB had been written the writing thread blocked and the job with it.
    From now on the JVM that get_gateway() starts has that pipe drained by a daemon thread into
    our own stderr. Call before the first gateway use; a no-op if the JVM already runs."""
    from pyflink import java_gateway
    launch = java_gateway.launch_gateway_server_process
    if getattr(launch, "forwards_stderr", False):
        return

    def launch_and_forward(env, args):
        process = launch(env, args)
        forwarding = _Forwarding()
        threading.Thread(target=_forward, args=(process.stderr, forwarding), name="jvm-stderr", daemon=True).start()
        atexit.register(_drain_at_exit, process.stderr, forwarding)
        return process

    launch_and_forward.forwards_stderr = True
    java_gateway.launch_gateway_server_process = launch_and_forward


def make_env(config, *, streaming: bool, savepoint: str | None = None,
             remote: str | None = None) -> StreamExecutionEnvironment:
    """remote: the REST URL of a running cluster (chainwatch cluster) to run on instead of an
    embedded mini-cluster."""
    forward_jvm_stderr()
    if config.job.python_execution_mode == "thread":
        # The JVM's embedded interpreter does not see the venv unless told where it is; the
        # variable must be set before the JVM starts (the first Configuration() starts it).
        # PYTHONPATH entries get no .pth processing, so an editable install needs its own folder too.
        paths = [sysconfig.get_paths()["purelib"], str(Path(chainwatch.__file__).resolve().parent.parent)]
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths + [os.environ.get("PYTHONPATH")] if p)
    flink_conf = Configuration()
    # Python workers must start from this interpreter (the venv with pyflink and chainwatch).
    flink_conf.set_string("python.executable", sys.executable)
    flink_conf.set_string("python.client.executable", sys.executable)
    flink_conf.set_string("python.execution-mode", config.job.python_execution_mode)
    flink_conf.set_string("rest.bind-address", "127.0.0.1")
    flink_conf.set_string("taskmanager.memory.process.size", "2g")
    if savepoint:  # resume from a savepoint or retained checkpoint (restart without losing state)
        flink_conf.set_string("execution.savepoint.path", savepoint)
    if streaming and config.job.checkpoint_dir:
        flink_conf.set_string("execution.checkpointing.dir", config.job.checkpoint_dir)
    if streaming:  # keep the last checkpoint when the job is cancelled, so it can be resumed from
        flink_conf.set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    if remote:     # e.g. a replay on the local cluster's TaskManagers: a Python interpreter per JVM
        host, _, port = remote.removeprefix("http://").rstrip("/").partition(":")
        gateway = get_gateway()
        env = StreamExecutionEnvironment(gateway.jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment
                                         .createRemoteEnvironment(host, int(port), flink_conf._j_configuration,
                                                                  gateway.new_array(gateway.jvm.String, 0)))
    else:
        env = StreamExecutionEnvironment.get_execution_environment(flink_conf)
    env.set_parallelism(config.job.parallelism)
    jvm.add_to(env)      # event time, lanes and merge of the pipeline are Java (chainwatch/flink/jvm)
    if streaming:
        env.enable_checkpointing(config.job.checkpoint_interval_ms)
    return env
