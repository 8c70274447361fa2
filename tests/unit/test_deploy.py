"""deploy/: the container build and the FlinkDeployment cannot be built or applied here (no Docker,
no Kubernetes), so these tests hold them to what can be checked: the job config they carry
loads with the real loader, and their versions, paths, jars and Flink settings agree with the
installed PyFlink, the pinned requirements and the local cluster that the integration tests run."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pyflink.version
import pytest
import yaml

from chainwatch.config import load_config
from chainwatch.flink.cluster_env import flink_home, flink_settings
from chainwatch.ops.distribution import init
from chainwatch.patterns.pattern import load_patterns

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "deploy" / "Dockerfile").read_text()
DOCUMENTS = list(yaml.safe_load_all((REPO / "deploy" / "flinkdeployment.yaml").read_text()))
CONFIG_MAP = next(d for d in DOCUMENTS if d["kind"] == "ConfigMap")
DEPLOYMENT = next(d for d in DOCUMENTS if d["kind"] == "FlinkDeployment")["spec"]
FLINK_CONF = DEPLOYMENT["flinkConfiguration"]
IMAGE_ROOT = "/opt/chainwatch/"


def _arg(flag):
    args = DEPLOYMENT["job"]["args"]
    return args[args.index(flag) + 1]


@pytest.fixture(scope="module")
def production_config(tmp_path_factory):
    """The ConfigMap's job config where the pod mounts it, in the image's layout: /opt/chainwatch
    written by `chainwatch init` as the Dockerfile does."""
    root = tmp_path_factory.mktemp("image")
    init(root)
    mount = next(m for m in DEPLOYMENT["podTemplate"]["spec"]["containers"][0]["volumeMounts"]
                 if m["name"] == "chainwatch-config")
    path = root / mount["mountPath"].removeprefix(IMAGE_ROOT)
    path.write_text(CONFIG_MAP["data"][mount["subPath"]])
    assert _arg("--conf") == mount["mountPath"]
    return load_config(path)


def test_production_config_loads_with_its_patterns(production_config):
    assert {p.id for p in load_patterns(production_config.patterns_dir)} == {"AN1328", "AN1348"}
    assert production_config.job.python_execution_mode == FLINK_CONF["python.execution-mode"]
    assert production_config.job.checkpoint_dir is None        # the cluster's execution.checkpointing.dir decides
    assert production_config.novelty.history_start_ms is not None


def test_every_secret_the_config_names_comes_from_the_kubernetes_secret():
    text = CONFIG_MAP["data"]["production.yaml"]
    wanted = set(re.findall(r"\$\{(\w+)\}", text)) | set(re.findall(r"token_env:\s*(\w+)", text))
    env = DEPLOYMENT["podTemplate"]["spec"]["containers"][0]["env"]
    from_secret = {e["name"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}
    assert wanted and wanted <= from_secret


def test_versions_agree_with_the_installed_pyflink_and_python():
    version = pyflink.version.__version__
    assert f"ARG FLINK_IMAGE=flink:{version}-java17" in DOCKERFILE
    assert DEPLOYMENT["flinkVersion"] == "v" + "_".join(version.split(".")[:2])
    assert DEPLOYMENT["job"]["jarURI"] == f"local:///opt/flink/opt/flink-python-{version}.jar"
    assert (flink_home() / "opt" / f"flink-python-{version}.jar").is_file()
    assert f"cp /opt/flink/opt/flink-python-{version}.jar /opt/flink/lib/" in DOCKERFILE
    python = re.search(r"ARG PYTHON_VERSION=(\d+)\.(\d+)\.\d+", DOCKERFILE)
    assert (int(python.group(1)), int(python.group(2))) == sys.version_info[:2]
    assert f"/opt/python/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages" in DOCKERFILE


def test_jars_the_image_copies_exist_in_pyflink_lib():
    jars = re.search(r"for jar in ([^;]+); do", DOCKERFILE).group(1).split()
    assert "flink-connector-kafka.jar" in jars
    for jar in jars:
        assert (flink_home() / "lib" / jar).is_file(), jar


def test_job_files_are_where_the_deployment_runs_them():
    site_packages = f"/opt/python/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages/"
    job = _arg("-py")         # the entry point is package code, in the image's site-packages
    assert job.startswith(site_packages) and (REPO / job.removeprefix(site_packages)).is_file()
    # conf/ (reference lists) and patterns/ beside the mounted job config come from the package
    assert f"/opt/python/bin/chainwatch init {IMAGE_ROOT.rstrip('/')}" in DOCKERFILE
    assert "--require-hashes --no-deps -r /tmp/runtime.lock" in DOCKERFILE
    assert "COPY requirements/runtime.lock /tmp/runtime.lock" in DOCKERFILE
    assert _arg("-pyclientexec") == FLINK_CONF["python.executable"] == "/opt/python/bin/python3"
    assert "--prefix=/opt/python --enable-shared" in DOCKERFILE     # thread mode loads libpython


def test_flink_settings_match_the_local_cluster(config, tmp_path):
    local = flink_settings(tmp_path, config, python=Path(sys.executable), rest_port=1, rpc_port=2, taskmanagers=2,
                           slots=1, state_backend="rocksdb")
    for key in ("state.backend.type", "execution.checkpointing.externalized-checkpoint-retention",
                "restart-strategy.type", "metrics.reporter.prom.factory.class"):
        assert str(local[key]) == FLINK_CONF[key], key
    assert local["classloader.parent-first-patterns.additional"] == [FLINK_CONF["classloader.parent-first-patterns.additional"]]
    assert FLINK_CONF["execution.checkpointing.incremental"] == "true" == str(local["execution.checkpointing.incremental"]).lower()
    for key in ("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir", "high-availability.storageDir"):
        assert FLINK_CONF[key].startswith("s3://"), key
    assert DEPLOYMENT["job"]["upgradeMode"] == "savepoint"
    assert DEPLOYMENT["job"]["parallelism"] <= int(FLINK_CONF["pipeline.max-parallelism"])


def test_the_image_builds_the_jar_where_the_job_looks_for_it():
    """`run` needs chainwatch's jar (chainwatch/flink/jvm); the runtime image has no JDK, so the build
    stage must put it beside the Java sources of the installed package (jvm.jar_path's first place)."""
    from chainwatch.flink import jvm
    into = re.search(r"-m chainwatch\.flink\.jvm --into (\S+)", DOCKERFILE)
    assert into, "deploy/Dockerfile does not build chainwatch's jar"
    site_packages = "/opt/python/lib/python3.11/site-packages/"
    assert into.group(1) == site_packages + jvm.JAVA_SOURCES.parent.relative_to(REPO).as_posix()
    assert "jvm/java/**/*.java" in (REPO / "pyproject.toml").read_text()     # the sources are installed
