"""What the package carries: the packaged sample is exactly what the generator writes, `init`
copies every default, and the versions come from the installed jars."""
from __future__ import annotations

import filecmp
from pathlib import Path

import pyflink.version

from chainwatch.config import DEFAULTS_DIR, load_config
from chainwatch.ops.distribution import init, versions
from chainwatch.sample import build_geoip, generate

SAMPLE = DEFAULTS_DIR / "sample"


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_packaged_sample_is_the_generators_output(tmp_path):
    """Written by: python -m chainwatch.sample chainwatch/defaults/sample/aws --days 2 --events 6000
    --file-span 86400 (see sample/README.md); regenerating gives the same bytes."""
    generate(tmp_path / "aws", days=2, background_per_hour=92, file_span=86400)
    build_geoip(tmp_path / "geoip")
    assert _tree(tmp_path) == [p for p in _tree(SAMPLE) if p != "README.md"]
    for name in _tree(tmp_path):
        assert filecmp.cmp(tmp_path / name, SAMPLE / name, shallow=False), name


def test_init_copies_conf_patterns_and_sample_keeping_their_layout(tmp_path):
    written = init(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in written) == sorted(
        str(p.relative_to(DEFAULTS_DIR)) for folder in ("conf", "patterns", "sample")
        for p in (DEFAULTS_DIR / folder).rglob("*") if p.is_file())
    config = load_config(tmp_path / "conf" / "chainwatch.yaml")
    assert config.patterns_dir == str(tmp_path / "patterns")
    assert config.sources[0].paths == (str(tmp_path / "sample" / "aws"),)


def test_init_overwrites_only_when_forced(tmp_path):
    init(tmp_path)
    edited = tmp_path / "patterns" / "AN1328.yaml"
    edited.write_text("# mine\n")
    try:
        init(tmp_path)
    except FileExistsError as exc:
        assert "pass --force" in str(exc)
    else:
        raise AssertionError("init overwrote an existing copy")
    assert edited.read_text() == "# mine\n"
    init(tmp_path, force=True)
    assert edited.read_bytes() == (DEFAULTS_DIR / "patterns" / "AN1328.yaml").read_bytes()


def test_versions_read_from_the_installed_package_and_jars():
    found = versions()
    assert found["chainwatch"] == "0.1.0"
    assert found["Apache Flink"] == pyflink.version.__version__
    assert found["Flink Kafka connector"].endswith("-" + ".".join(pyflink.version.__version__.split(".")[:2]))
    assert found["Kafka client"][0].isdigit()
