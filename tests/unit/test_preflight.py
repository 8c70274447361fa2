"""Setup errors a newcomer can act on: each missing piece is one line saying what and how,
checked against real executables (fake `java` scripts printing what old and odd JDKs print)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from chainwatch.ops import preflight
from chainwatch.ops.preflight import PreflightError

REPO = Path(__file__).resolve().parents[2]


def _fake_java(folder: Path, version_line: str) -> Path:
    java = folder / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


@pytest.mark.parametrize("output, major", [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('openjdk version "21" 2023-09-19', 21),
    ('java version "1.8.0_392"', 8),
    ('openjdk version "11.0.22" 2024-01-16 LTS', 11),
    ("Error: could not open `lib/jvm.cfg'", None),
])
def test_java_major_from_what_java_version_prints(output, major):
    assert preflight.java_major(output) == major


def test_no_java_says_how_to_get_one(tmp_path):
    with pytest.raises(PreflightError, match=r"^Java not found .*install a Java 17 runtime"):
        preflight.check_java({"PATH": str(tmp_path)})


def test_java_home_without_java_is_named(tmp_path):
    with pytest.raises(PreflightError, match=rf"^JAVA_HOME is {tmp_path}, which has no bin/java"):
        preflight.check_java({"JAVA_HOME": str(tmp_path), "PATH": os.environ["PATH"]})


def test_java_8_is_too_old(tmp_path):
    _fake_java(tmp_path, 'java version "1.8.0_392"')
    with pytest.raises(PreflightError, match=r"Java 17 or newer is needed \(Flink 2.0\), .* is Java 8"):
        preflight.check_java({"JAVA_HOME": str(tmp_path)})


def test_java_17_on_the_path_passes(tmp_path):
    java = _fake_java(tmp_path, 'openjdk version "17.0.15" 2025-04-15')
    assert preflight.check_java({"PATH": str(java.parent)}) == str(java)


def test_other_python_than_3_11():
    preflight.check_python((3, 11, 7))
    with pytest.raises(PreflightError, match=r"^Python 3.11 is needed .*this is 3.12"):
        preflight.check_python((3, 12, 1))


def test_no_free_disk_names_the_folder_and_sizes(tmp_path):
    preflight.check_disk(tmp_path / "not" / "made" / "yet", 1)
    with pytest.raises(PreflightError, match=rf"free on the disk holding {tmp_path}, 1048576.0 GB needed"):
        preflight.check_disk(tmp_path, 1024**5)


def test_setup_script_stops_on_old_java_with_one_line(tmp_path):
    """What .ci/setup runs before creating the venv, with the system Python."""
    _fake_java(tmp_path, 'java version "1.8.0_392"')
    result = subprocess.run([sys.executable, "-m", "chainwatch.ops.preflight", "setup", str(tmp_path / "v")], cwd=REPO,
                            env={**os.environ, "JAVA_HOME": str(tmp_path)}, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("chainwatch setup: Java 17 or newer")


def test_cli_stops_before_flink_with_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "chainwatch.cli", "replay", str(tmp_path)],
                            env={**os.environ, "JAVA_HOME": str(tmp_path / "nojdk")}, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"chainwatch: JAVA_HOME is {tmp_path / 'nojdk'}, which has no bin/java: {preflight.JAVA_HINT}"]
