"""The JVM that PyFlink starts has its stderr drained into ours (runtime.forward_jvm_stderr).

PyFlink starts it with stderr on a pipe nothing reads; in thread mode the job's Python writes its
errors there. Before, they were lost, and past a pipe's 64 KB the writer blocked, and the job with
it. A real JVM writes 300 KB to System.err here, in a child process with a deadline."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

CHILD = """
import sys
from chainwatch.config import DEFAULT_CONFIG, load_config
from chainwatch.flink.runtime import make_env
make_env(load_config(DEFAULT_CONFIG), streaming=False)
from pyflink.java_gateway import get_gateway
err = get_gateway().jvm.System.err
for n in range(300):
    err.println(f"line {n} " + "x" * 1000)
err.println("y" * 10000)
err.println("the last line")
err.flush()
print("done", flush=True)
"""


def test_300_kb_on_the_jvm_stderr_neither_block_nor_vanish():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert done.stdout.decode().strip().endswith("done")
    err = done.stderr.decode(errors="replace").splitlines()
    assert sum(1 for line in err if line.startswith("line ")) == 300
    assert "line 299 " + "x" * 1000 in err
    assert any(line.startswith("y" * 4000) and line.endswith(" [...]") for line in err)   # passed on in pieces, not held
    assert any(line.startswith("the last line") or line.endswith("the last line") for line in err)
