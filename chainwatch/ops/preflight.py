"""What chainwatch needs from the machine, checked before anything starts a JVM.

Each failed check is one line that says what is missing and how to get it, so a newcomer sees
"Java 17 or newer is needed" instead of a py4j stack trace. Standard library only: `.ci/setup`
runs it with the system Python, from the checkout, before any dependency is installed.

    python3 -m chainwatch.ops.preflight setup VENV   # Python and Java; disk space too if VENV is still to be made
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from chainwatch.core.errors import ChainwatchError

PYTHON = (3, 11)
JAVA_MIN = 17
SETUP_FREE_BYTES = 2 * 1024**3      # the venv is ~1 GB (PyFlink's jars, Beam, pandas, pyarrow) plus pip's unpacking
JOB_FREE_BYTES = 512 * 1024**2      # Flink's temp files, RocksDB, checkpoints of a local job
JAVA_HINT = "install a Java 17 runtime (Debian/Ubuntu: apt install openjdk-17-jre-headless) or set JAVA_HOME to one"


class PreflightError(ChainwatchError):
    """One line: what is missing and how to get it."""


def check_python(version=sys.version_info) -> None:
    if tuple(version[:2]) != PYTHON:
        raise PreflightError(f"Python {PYTHON[0]}.{PYTHON[1]} is needed (PyFlink 2.0 and pemja are built for it), "
                             f"this is {version[0]}.{version[1]}: install python3.11 (pyenv install 3.11, "
                             f"or your distribution's python3.11) and create the venv with it")


def java_command(environ=os.environ) -> str:
    """The java PyFlink will start: $JAVA_HOME/bin/java when JAVA_HOME is set, else java on the PATH."""
    home = environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise PreflightError(f"JAVA_HOME is {home}, which has no bin/java: {JAVA_HINT}")
        return str(java)
    java = shutil.which("java", path=environ.get("PATH"))
    if not java:
        raise PreflightError(f"Java not found (no java on the PATH, JAVA_HOME unset): {JAVA_HINT}")
    return java


def java_major(version_output: str) -> int | None:
    """17 from `openjdk version "17.0.15"`, 8 from `java version "1.8.0_392"`."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def check_java(environ=os.environ) -> str:
    java = java_command(environ)
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PreflightError(f"{java} -version failed ({type(exc).__name__}): {JAVA_HINT}") from None
    major = java_major(result.stderr + result.stdout)
    if major is None:
        raise PreflightError(f"{java} -version printed no version: {JAVA_HINT}")
    if major < JAVA_MIN:
        raise PreflightError(f"Java {JAVA_MIN} or newer is needed (Flink 2.0), {java} is Java {major}: {JAVA_HINT}")
    return java


def check_disk(folder, needed: int) -> None:
    folder = Path(folder)
    while not folder.exists():          # the folder may not exist yet: ask its nearest ancestor
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise PreflightError(f"{_size(free)} free on the disk holding {folder}, {_size(needed)} needed: "
                             f"free some space or point TMPDIR / the state folders at a larger disk")


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def check_job_machine(*folders) -> None:
    """Before a command starts Flink: Python, Java, and room for Flink's temp files and state."""
    import tempfile
    check_python()
    check_java()
    for folder in {tempfile.gettempdir(), *map(str, folders)}:
        check_disk(folder, JOB_FREE_BYTES)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "setup":
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    try:
        check_python()
        check_java()
        venv = Path(args[1] if len(args) > 1 else ".venv")
        if not venv.exists():
            check_disk(venv, SETUP_FREE_BYTES)
    except PreflightError as exc:
        print(f"chainwatch setup: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
