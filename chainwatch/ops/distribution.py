"""What the installed package carries: its versions, and an editable copy of its defaults.

The default config, the reference catalogs, the shipped patterns and a small sample are package
data under chainwatch/defaults/, so chainwatch works from any folder without a checkout.
`chainwatch init DIR` copies them out for a user to tune, keeping their relative layout
(conf/chainwatch.yaml names ../patterns and ../sample), so the copy works as it is.
"""
from __future__ import annotations

import importlib.metadata
import shutil
import zipfile
from pathlib import Path

from chainwatch.config import DEFAULTS_DIR

EDITABLE = ("conf", "patterns", "sample")


def versions() -> dict[str, str]:
    """chainwatch's, Flink's (PyFlink) and the Kafka connector's versions, as installed."""
    from chainwatch.flink.cluster_env import flink_home
    found = {"chainwatch": importlib.metadata.version("chainwatch"),
             "Apache Flink": importlib.metadata.version("apache-flink")}     # PyFlink's own distribution
    for name, jar in (("Flink Kafka connector", "flink-connector-kafka.jar"), ("Kafka client", "kafka-clients.jar")):
        found[name] = _jar_version(flink_home() / "lib" / jar)
    return found


def _jar_version(jar: Path) -> str:
    if not jar.is_file():
        return f"missing ({jar})"
    with zipfile.ZipFile(jar) as archive:
        names = set(archive.namelist())
        if "META-INF/MANIFEST.MF" in names:
            for line in archive.read("META-INF/MANIFEST.MF").decode("utf-8", "replace").splitlines():
                if line.startswith("Implementation-Version:"):
                    return line.split(":", 1)[1].strip()
        if "kafka/kafka-version.properties" in names:      # kafka-clients keeps it there
            for line in archive.read("kafka/kafka-version.properties").decode().splitlines():
                if line.startswith("version="):
                    return line.split("=", 1)[1].strip()
    return "unknown"


def init(target, *, force: bool = False) -> list[Path]:
    """Copy conf/, patterns/ and sample/ into `target`; refuses to overwrite unless `force`.
    Returns the files written."""
    target = Path(target)
    files = [(source, target / source.relative_to(DEFAULTS_DIR))
             for folder in EDITABLE for source in sorted((DEFAULTS_DIR / folder).rglob("*"))
             if source.is_file() and "__pycache__" not in source.parts]
    existing = [dest for _, dest in files if dest.exists()]
    if existing and not force:
        raise FileExistsError(f"{target}: {len(existing)} file(s) would be overwritten (first: {existing[0]}); "
                              f"pass --force to replace them")
    for source, dest in files:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    return [dest for _, dest in files]
