"""chainwatch's own JVM classes (the sources in chainwatch/flink/jvm/java), as one jar a job adds.

Two classes, both for the event time of `run` (stream.build_streaming_job): ResumeHoldWatermarks,
each source's watermarks (pipeline.watermark_strategy), and AlwaysActiveMerge, where the sources'
watermarks meet. PyFlink has no way to write either in Python: its timestamp assigner is Python,
but the watermark generator behind it is always Java, and so is every operator's handling of
idleness.

The jar's name carries a hash of its sources and of the Flink version, so a stale jar is never
used. It is looked for beside the sources (a container image builds it there at image build
time: deploy/Dockerfile), then in the user's cache ($XDG_CACHE_HOME/chainwatch, else
~/.cache/chainwatch), and built into the cache with javac (a JDK 17) when missing; `.ci/setup`
builds it ahead with `python -m chainwatch.flink.jvm`. A job adds it with add_to(env): the mini-cluster
loads it, and a cluster client ships it with the job (pipeline.jars).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from chainwatch.core.errors import ChainwatchError

JAVA_SOURCES = Path(__file__).resolve().parent / "java"
JDK_HINT = "install a JDK 17 (Debian/Ubuntu: apt install openjdk-17-jdk-headless) or set JAVA_HOME to one"


class JvmBuildError(ChainwatchError, RuntimeError):
    """chainwatch's jar is missing and could not be built: the message says why and what to do."""


def _sources() -> list[Path]:
    return sorted(JAVA_SOURCES.rglob("*.java"))


def _flink_lib() -> Path:
    import pyflink
    return Path(pyflink.__file__).resolve().parent / "lib"


def jar_name() -> str:
    """chainwatch-jvm-<hash of the sources and the Flink version>.jar"""
    from pyflink.version import __version__ as flink_version
    digest = hashlib.sha256(flink_version.encode())
    for source in _sources():
        digest.update(source.relative_to(JAVA_SOURCES).as_posix().encode() + b"\0" + source.read_bytes())
    return f"chainwatch-jvm-{digest.hexdigest()[:12]}.jar"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chainwatch"


def _javac() -> str:
    """$JAVA_HOME/bin/javac, else javac on the PATH (JAVA_HOME may name a JRE, as in Flink's images)."""
    home = os.environ.get("JAVA_HOME")
    for javac in (Path(home) / "bin" / "javac" if home else None, shutil.which("javac")):
        if javac and os.access(javac, os.X_OK):
            return str(javac)
    raise JvmBuildError(f"chainwatch's jar ({jar_name()}) is not built and cannot be: no javac in JAVA_HOME "
                        f"({home or 'unset'}) or on the PATH: {JDK_HINT}; or build it on a machine with a JDK: "
                        "python -m chainwatch.flink.jvm --into DIR")


def build_jar(into: Path) -> Path:
    """Compiles the sources against Flink's own jars (those PyFlink ships) into `into`/jar_name()."""
    into.mkdir(parents=True, exist_ok=True)
    target = into / jar_name()
    with tempfile.TemporaryDirectory(prefix="chainwatch-jvm-") as work:
        classes = Path(work) / "classes"
        command = [_javac(), "--release", "17", "-nowarn", "-cp", str(_flink_lib() / "*"), "-d", str(classes),
                   *map(str, _sources())]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise JvmBuildError(f"javac failed on chainwatch's Java sources ({JAVA_SOURCES}):\n"
                                f"{result.stderr.strip() or result.stdout.strip()}")
        partial = Path(work) / target.name
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: chainwatch\n")
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
        staged = target.with_name(f".{target.name}.{os.getpid()}")
        shutil.move(partial, staged)
        os.replace(staged, target)     # another process never sees half a jar
    return target


def jar_path(into: Path | None = None) -> Path:
    """The jar: beside the sources, else in the cache, else built into the cache now. With
    `into`: the one in that folder, built there if it is not."""
    folders = (into,) if into else (JAVA_SOURCES.parent, cache_dir())
    for folder in folders:
        if (folder / jar_name()).is_file():
            return folder / jar_name()
    return build_jar(folders[-1])


def add_to(env) -> None:
    """Adds the jar to the job of `env` (pipeline.jars) and to this client's class loader.

    Not env.add_jars: PyFlink 2.0 reads pipeline.jars back as a string, which under `flink run`
    is a YAML list ("['file:...flink-python-2.0.0.jar']"), appends ";file:..." to it, and the
    job then fails with MalformedURLException. The list is read and written as a list here."""
    from pyflink.java_gateway import get_gateway
    from pyflink.util.java_utils import add_jars_to_context_class_loader
    url = jar_path().as_uri()
    add_jars_to_context_class_loader([url])
    jvm = get_gateway().jvm
    config = jvm.org.apache.flink.python.util.PythonConfigUtil.getEnvironmentConfig(env._j_stream_execution_environment)
    option = jvm.org.apache.flink.configuration.PipelineOptions.JARS
    jars = jvm.java.util.ArrayList()
    for existing in config.getOptional(option).orElse(jvm.java.util.ArrayList()):
        jars.add(existing)
    if url not in list(jars):
        jars.add(url)
    config.set(option, jars)


def resume_hold_watermarks(delay_ms: int, idle_ms: int, hold_ms: int, flush_ms: int):
    """The WatermarkStrategy of chainwatch.flink.ResumeHoldWatermarks (add_to(env) first)."""
    from pyflink.common import WatermarkStrategy
    from pyflink.java_gateway import get_gateway
    java = get_gateway().jvm.chainwatch.flink.ResumeHoldWatermarks
    return WatermarkStrategy(java.strategy(delay_ms, idle_ms, hold_ms, flush_ms))


def with_batch_time(strategy):
    """`strategy` taking each batch row's time from the row, in Java (chainwatch.flink.BatchTime;
    add_to(env) first): a Python timestamp assigner would be one more Python operator per batch."""
    from pyflink.common import WatermarkStrategy
    from pyflink.java_gateway import get_gateway
    return WatermarkStrategy(strategy._j_watermark_strategy.withTimestampAssigner(
        get_gateway().jvm.chainwatch.flink.BatchTime()))


def lane(stream, name: str, label: str):
    """The batch rows of lane `name` in `stream` (chainwatch.flink.LaneFilter, in Java)."""
    from pyflink.datastream import DataStream
    from pyflink.java_gateway import get_gateway
    j_stream = stream._j_data_stream
    return DataStream(j_stream.filter(get_gateway().jvm.chainwatch.flink.LaneFilter(name)).name(label))


def keyed_by_bucket(stream):
    """Batch rows keyed by their bucket (field 0) without PyFlink's key_by, which puts a Python
    map before the exchange to compute the key. The rows already have PyFlink's keyed layout
    (the key first, the Python value second), so Java's keyBy with PyFlink's own KeyByKeySelector
    partitions them, and a Python KeyedProcessFunction receives the value (field 1)."""
    from pyflink.common import Types
    from pyflink.datastream.data_stream import KeyedStream
    from pyflink.java_gateway import get_gateway
    gateway = get_gateway()
    j_keyed = stream._j_data_stream.keyBy(gateway.jvm.KeyByKeySelector(), Types.ROW([Types.INT()]).get_java_type_info())
    return KeyedStream(j_keyed, Types.PICKLED_BYTE_ARRAY(), stream)


def always_active_merge(stream, name: str, uid: str):
    """`stream` through chainwatch.flink.AlwaysActiveMerge, so that no operator after it is ever
    idle (add_to(env) first). Rebalanced into it: every merge subtask then hears every source
    subtask's watermarks, so one whose own sources are quiet never holds event time back. (At
    parallelism 1 instead, `run` on Kafka was 30 % slower: bench/README.md, session 6.)"""
    from pyflink.datastream import DataStream
    from pyflink.java_gateway import get_gateway
    j_stream = stream._j_data_stream
    merge = get_gateway().jvm.chainwatch.flink.AlwaysActiveMerge()
    return DataStream(j_stream.rebalance().transform(name, j_stream.getType(), merge).uid(uid))
