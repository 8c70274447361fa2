"""The docs site (docs/, mkdocs.yml) builds with no warning, and the README stays short: it says what
chainwatch detects and how to run it, and points at the site for the rest."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README_MAX_LINES = 150


def test_the_docs_site_builds_strictly_and_offline(tmp_path):
    """`mkdocs build --strict`: a warning (a broken link or anchor, a page missing from the nav) fails.
    Any request it made would go to a closed local port and fail: the build needs no network."""
    closed = "http://127.0.0.1:9"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", HTTP_PROXY=closed, HTTPS_PROXY=closed, ALL_PROXY=closed,
               http_proxy=closed, https_proxy=closed, all_proxy=closed, NO_PROXY="", no_proxy="")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "index.html").is_file()
    assert (site / "reference" / "configuration" / "index.html").is_file()


def test_the_readme_is_short_and_holds_the_test_command():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move the detail to docs/"
    assert any("bash .ci/test" in line for line in lines)      # CI runs the README's test command
