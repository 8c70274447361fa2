"""The lock (requirements/*.lock) is what gets installed: the venv the tests run in holds exactly
its versions, it covers the whole dependency closure, and every entry carries hashes. Holds on any
day, because .ci/setup installs from the lock with --require-hashes instead of resolving afresh."""
from __future__ import annotations

import importlib.metadata as metadata
import re
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
BUILD = [line for line in (REPO / "requirements" / "build.in").read_text().splitlines()
         if line.strip() and not line.startswith("#")]
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def read_lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """package -> (version, hashes), for the entries whose markers hold on this interpreter."""
    entries, current = {}, None
    for line in (REPO / "requirements" / name).read_text().splitlines():
        found = _ENTRY.match(line)
        if found:
            package, version, marker = found.groups()
            current = None
            if marker is None or Marker(marker).evaluate():
                current = entries[canonicalize_name(package)] = (version, [])
        elif current is not None and line.strip().startswith("--hash=sha256:"):
            current[1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return entries


def closure(requirements) -> set[str]:
    """The installed distributions these requirements pull in, transitively, on this interpreter."""
    seen, todo = set(), [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo.extend(Requirement(r) for r in metadata.distribution(name).requires or [])
    return seen


def test_every_locked_package_is_installed_at_its_locked_version():
    lock = read_lock("dev.lock")
    installed = {name: metadata.version(name) for name in lock}
    assert installed == {name: version for name, (version, _) in lock.items()}


def test_the_lock_is_the_whole_closure_of_pyproject():
    dev = PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"] + BUILD
    assert closure(dev) == set(read_lock("dev.lock"))
    assert closure(PROJECT["dependencies"] + BUILD) == set(read_lock("runtime.lock"))


def test_every_entry_has_hashes_and_runtime_agrees_with_dev():
    dev, runtime = read_lock("dev.lock"), read_lock("runtime.lock")
    assert all(hashes and all(len(h) == 64 for h in hashes) for _, hashes in dev.values())
    for name, (version, hashes) in runtime.items():
        assert dev[name] == (version, hashes), name


def test_every_install_goes_through_the_lock():
    setup = (REPO / ".ci" / "setup").read_text()
    assert "pip install --quiet --require-hashes --no-deps -r requirements/dev.lock" in setup
    assert "--no-deps --no-build-isolation -e ." in setup            # chainwatch itself resolves nothing
    assert "bash .ci/setup" in (REPO / ".ci" / "test").read_text()
    assert "bash .ci/setup" in (REPO / ".ci" / "demo").read_text()
    assert "--require-hashes --no-deps -r /tmp/runtime.lock" in (REPO / "deploy" / "Dockerfile").read_text()
