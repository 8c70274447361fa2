"""What the local cluster's processes run with: the generated Flink conf dir, the lib dir, the
Python interpreter of the cluster and the package copy that `flink run` ships.

Kept apart from chainwatch/ops/cluster.py (processes, REST, submission) because each choice here
answers a PyFlink-on-a-real-cluster problem that the embedded mini-cluster never shows.
"""
from __future__ import annotations

import os
import shutil
import socket
import sysconfig
import venv
from pathlib import Path

import yaml

import chainwatch

PACKAGE_DIR = Path(chainwatch.__file__).resolve().parent


def flink_home() -> Path:
    import pyflink
    return Path(pyflink.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PROMETHEUS_FACTORY = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"   # pyflink/plugins/metrics-prometheus
_SPARE_PORTS = 2     # a TaskManager the supervisor starts again may come up before its old port is free


def free_port_range(count: int, avoid=(), low: int = 20000, high: int = 32000) -> tuple[int, int]:
    """`count` consecutive ports free on every interface (Flink's Prometheus reporter binds the
    wildcard address; it has no bind-address option), below Linux's ephemeral range (32768+) so
    that no process's outgoing connection takes one in between."""
    import random
    for _ in range(200):
        first = random.randrange(low, high - count)
        ports = range(first, first + count)
        if set(ports) & set(avoid):
            continue
        sockets = []
        try:
            for port in ports:
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return first, first + count - 1
    raise OSError(f"no {count} consecutive free ports between {low} and {high}")


def prometheus_ports(conf_dir) -> range:
    """The ports the cluster's processes serve Prometheus metrics on (each takes the first free
    one of the range when it starts: the JobManager first, then the TaskManagers)."""
    settings = yaml.safe_load((Path(conf_dir) / "config.yaml").read_text())
    first, _, last = str(settings["metrics.reporter.prom.port"]).partition("-")
    return range(int(first), int(last or first) + 1)


def _flat(data: dict, prefix: str = "") -> dict:
    """Flatten nested config.yaml keys: one spelling per key (config.yaml rejects duplicates)."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def flink_settings(state_dir: Path, config, *, python: Path, rest_port: int, rpc_port: int, taskmanagers: int,
                   slots: int, state_backend: str) -> dict:
    """The cluster's config.yaml: PyFlink's defaults (they carry the JVM --add-opens Java 17 needs)
    with loopback addresses, our ports, the venv interpreter and file:// checkpoint storage."""
    defaults = yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text()) or {}
    settings = _flat(defaults)
    # Metrics (chainwatch.flink.metrics and Flink's own) for Prometheus: one port per process, from a
    # range of free ones, http://127.0.0.1:<port>/metrics (README "Metrics").
    prom_first, prom_last = free_port_range(1 + taskmanagers + _SPARE_PORTS, avoid=(rest_port, rpc_port))
    settings.update({"metrics.reporter.prom.factory.class": PROMETHEUS_FACTORY,
                     "metrics.reporter.prom.port": f"{prom_first}-{prom_last}"})
    settings.update({
        "jobmanager.rpc.address": "127.0.0.1", "jobmanager.rpc.port": rpc_port,
        "jobmanager.bind-host": "127.0.0.1",
        "taskmanager.host": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1",
        "rest.address": "127.0.0.1", "rest.bind-address": "127.0.0.1", "rest.port": rest_port,
        "jobmanager.memory.process.size": "1024m", "taskmanager.memory.process.size": "2g",
        "taskmanager.numberOfTaskSlots": slots, "parallelism.default": taskmanagers * slots,
        "python.executable": str(python), "python.client.executable": str(python),
        "python.execution-mode": config.job.python_execution_mode,
        "classloader.parent-first-patterns.additional": ["pemja."],     # see lib_dir()
        "state.backend.type": state_backend,
        "state.backend.rocksdb.log.dir": str(state_dir / "log" / "rocksdb"),
        "execution.checkpointing.incremental": state_backend == "rocksdb",
        "execution.checkpointing.dir": (state_dir / "checkpoints").resolve().as_uri(),
        "execution.checkpointing.savepoint-dir": (state_dir / "savepoints").resolve().as_uri(),
        # A cancelled job keeps its last checkpoint, so it can be resumed (-s) like a savepoint.
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        # A job must outlive a dead TaskManager until the supervisor has it back (10-30 s here):
        # Flink's default with checkpointing is exponential-delay with no limit on attempts, but
        # spelled out (as in deploy/) with a 10 s cap on the delay, not 1 min, so the job is
        # running again within seconds of the TaskManager, not a minute later.
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.backoff-multiplier": 2.0,
        "restart-strategy.exponential-delay.max-backoff": "10 s",
        "restart-strategy.exponential-delay.attempts-before-reset-backoff": 2147483647,   # no limit
    })
    return settings


def write_conf_dir(state_dir: Path, settings: dict) -> Path:
    conf_dir = state_dir / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    for template in (flink_home() / "conf").glob("log*"):     # log4j / logback files the scripts name
        (conf_dir / template.name).write_bytes(template.read_bytes())
    (conf_dir / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=True))
    return conf_dir


def worker_python(state_dir: Path) -> Path:
    """The interpreter of the cluster's Python (client and TaskManagers): a venv whose
    site-packages links every package of this venv except chainwatch's editable install. The job
    then imports chainwatch only from what `flink run` ships, as on a production cluster, so a
    shipping mistake fails here too instead of falling back to the repo. (Links, not a .pth path:
    thread mode loads pemja's native libraries from the interpreter's own site-packages.)"""
    home = state_dir / "python"
    python = home / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(symlinks=True, with_pip=False).create(home)
    site = _site_packages(python)
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        link = site / entry.name
        if "chainwatch" in entry.name.lower() or link.exists() or link.is_symlink():
            continue
        link.symlink_to(entry)
    return python


def _site_packages(python: Path) -> Path:
    return next((python.parent.parent / "lib").glob("python3*/site-packages"))


def stage_package(state_dir: Path) -> Path:
    """A copy of the package in a folder of its own: -pyfs puts a shipped folder itself on the
    workers' PYTHONPATH, so the folder to ship is the one that contains `chainwatch/`."""
    stage = state_dir / "ship" / "python-src"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(PACKAGE_DIR, stage / "chainwatch", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return stage


def lib_dir(state_dir: Path) -> Path:
    """PyFlink's lib/ plus flink-python from opt/, as links. Thread mode loads pemja's native
    library through the class that loads pemja; from a job's own jar, the second job on a
    TaskManager (or the same job after a restart) gets UnsatisfiedLinkError. From lib/, with
    `pemja.` loaded parent-first, it is loaded once per TaskManager."""
    lib = state_dir / "lib"
    shutil.rmtree(lib, ignore_errors=True)
    lib.mkdir(parents=True)
    for jar in [*(flink_home() / "lib").glob("*.jar"), *(flink_home() / "opt").glob("flink-python*.jar")]:
        (lib / jar.name).symlink_to(jar)
    return lib


def process_env(state_dir: Path, conf_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(FLINK_CONF_DIR=str(conf_dir), FLINK_LOG_DIR=str(state_dir / "log"),
               FLINK_PID_DIR=str(state_dir / "pid"), FLINK_LIB_DIR=str(state_dir / "lib"))
    # Thread mode embeds Python in the TaskManager JVM without the venv's site set-up: it finds
    # the libraries only through PYTHONPATH (a plain path: no .pth is run, chainwatch stays out).
    env["PYTHONPATH"] = str(_site_packages(worker_python(state_dir)))
    return env
