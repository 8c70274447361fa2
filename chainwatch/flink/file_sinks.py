"""Streaming sinks for findings and dead letters: stdout, or rolling JSON Lines files in a folder.

Flink's FileSink writes part files and makes them visible at each checkpoint, so what a
reader sees is exactly what the job has committed. The part files roll at every checkpoint:
with the row format's default policy (roll after 60 s, checked every 60 s) a finding could
wait two minutes before a checkpoint made it visible.
"""
from __future__ import annotations

from pyflink.common import Encoder
from pyflink.datastream.connectors.file_system import FileSink, OutputFileConfig, RollingPolicy


def sink_to(stream, target: str | None, name: str, uid: str | None = None):
    """uid: the sink's operator uid (chainwatch.flink.uids); a file sink holds its in-progress part
    files in state, which a restore from a savepoint finds by it."""
    if not target or target == "-":
        printed = stream.print(name)
        return printed.uid(uid) if uid else printed
    sink = (FileSink.for_row_format(target, Encoder.simple_string_encoder("utf-8"))
            .with_output_file_config(OutputFileConfig.builder().with_part_prefix(name).with_part_suffix(".jsonl").build())
            .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
            .build())
    written = stream.sink_to(sink).name(f"{name} -> {target}")
    return written.uid(uid) if uid else written
