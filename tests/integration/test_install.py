"""Issue 8: chainwatch as a new user gets it. A fresh venv gets the runtime lock (hashes required)
and the package itself, not editable; everything then runs from a folder outside the checkout,
with no --conf and nothing on PYTHONPATH: the version line, validate, a replay of the packaged
sample (its three planted chains), `init` and its copy, and a `flink run` submission to a
standalone cluster started from that venv (the job's entry point is package data too).

The install takes about a minute (pip unpacks PyFlink's jars); the cluster is stopped by PID
whatever happens."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from chainwatch.ops import cluster

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict:
    # Nothing of this process's: replay jobs earlier in the session put the checkout on PYTHONPATH.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CHAINWATCH_CONF")}


def _run(command, cwd, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=_env(), capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{command}: rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv's bin folder, a working folder that is not the checkout)."""
    root = tmp_path_factory.mktemp("install")
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    pip = [root / "venv" / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps"]
    _run(pip + ["--require-hashes", "-r", REPO / "requirements" / "runtime.lock"], cwd=root)
    wheel_dir = root / "wheel"      # a wheel, as from PyPI, so the install cannot be editable
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", wheel_dir,
          REPO], cwd=root)
    _run(pip + ["--no-build-isolation", next(wheel_dir.glob("chainwatch-*.whl"))], cwd=root)
    _run([root / "venv" / "bin" / "python", "-m", "pip", "check"], cwd=root)
    work = root / "work"
    work.mkdir()
    return root / "venv" / "bin", work


def test_the_package_comes_from_site_packages_not_the_checkout(installed):
    bin_dir, work = installed
    where = _run([bin_dir / "python", "-c", "import chainwatch; print(chainwatch.__file__)"], cwd=work).stdout
    assert "site-packages" in where and not where.startswith(str(REPO))


def test_version_names_chainwatch_flink_and_the_kafka_connector(installed):
    bin_dir, work = installed
    line = _run([bin_dir / "chainwatch", "--version"], cwd=work).stdout
    import pyflink.version
    assert line.startswith("chainwatch 0.1.0, ")
    assert f"Apache Flink {pyflink.version.__version__}" in line
    assert re.search(r"Flink Kafka connector \d+\.\d+\.\d+-\d+\.\d+", line), line


def test_replay_of_the_packaged_sample_with_no_conf_finds_its_three_chains(installed):
    bin_dir, work = installed
    validated = _run([bin_dir / "chainwatch", "validate"], cwd=work).stdout
    assert "site-packages/chainwatch/defaults/conf/chainwatch.yaml: ok" in validated
    result = _run([bin_dir / "chainwatch", "replay", "--out", "findings.jsonl", "--dlq", "dead.jsonl"], cwd=work)
    findings = [json.loads(line) for line in (work / "findings.jsonl").read_text().splitlines()]
    analytics = sorted(f["finding_info"]["analytic"]["uid"] for f in findings)
    assert analytics == ["AN1328", "AN1328", "AN1348"], result.stderr
    assert "accounted for:       5923 of 5923" in result.stderr
    assert (work / "dead.jsonl").read_text() == ""


def test_init_writes_an_editable_copy_that_validates_and_refuses_to_overwrite(installed):
    bin_dir, work = installed
    _run([bin_dir / "chainwatch", "init", "mine"], cwd=work)
    for path in ("conf/chainwatch.yaml", "conf/kafka.yaml", "conf/aws/privileged_apis.yaml",
                 "patterns/AN1328.yaml", "patterns/AN1348.yaml", "sample/geoip/chainwatch-City.mmdb"):
        assert (work / "mine" / path).is_file(), path
    copy = work / "mine" / "conf" / "chainwatch.yaml"
    assert f"{copy}: ok (1 sources, 2 patterns: AN1328, AN1348)" in \
        _run([bin_dir / "chainwatch", "validate", "--conf", copy], cwd=work).stdout
    again = subprocess.run([bin_dir / "chainwatch", "init", "mine"], cwd=work, env=_env(), capture_output=True,
                           text=True)
    assert again.returncode == 2 and "would be overwritten" in again.stderr and "--force" in again.stderr


def test_cluster_submit_works_from_the_installed_package_alone(installed):
    bin_dir, work = installed
    state_dir = work / "cluster"
    try:
        _run([bin_dir / "chainwatch", "cluster", "start", "--state-dir", state_dir], cwd=work, timeout=300)
        submitted = _run([bin_dir / "chainwatch", "cluster", "submit", "--state-dir", state_dir, "--detached",
                          "--out", work / "cluster-out"], cwd=work, timeout=600)
        job_id = submitted.stdout.split()[0]           # `submit` prints the job id, then waits for RUNNING
        assert re.fullmatch(r"[0-9a-f]{32}", job_id), submitted.stdout + submitted.stderr
        status = _run([bin_dir / "chainwatch", "cluster", "status", "--state-dir", state_dir], cwd=work).stdout
        assert re.search(rf"{job_id}\s+RUNNING", status), status
        shipped = state_dir / "ship" / "python-src" / "chainwatch" / "flink" / "entry_point.py"
        assert shipped.is_file()
    finally:
        cluster.stop(state_dir, progress=lambda *_: None)     # by the PIDs `start` recorded
