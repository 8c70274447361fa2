"""chainwatch run: the streaming job as configured (Kafka topics or watched folders in, sinks out).

Each source gets its own event-time watermarks (bounded by time.watermark_delay, idle after
time.idle_timeout, holding for time.resume_hold after it resumes) before the sources are joined:
a topic that runs behind another, or a quiet one, then holds event time back only as long as it
is active, never forever; and after a quiet spell of all of them, the first to resume does not
leave the others' backlog behind the watermark. Their event times meet in one operator that
never goes idle (jvm.always_active_merge), so every operator after it keeps its event time at or
behind that of the operators before it, quiet spells or not.
"""
from __future__ import annotations

import logging

from pyflink.common import Duration, WatermarkStrategy
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
from pyflink.table import StreamTableEnvironment

from chainwatch.flink import jvm, uids
from chainwatch.flink.graph import LIVE, build_pipeline, watermark_strategy
from chainwatch.flink.kafka_sink import TableSinks
from chainwatch.flink.parse_operators import DEAD_LETTERS, normalise_lines
from chainwatch.flink.runtime import make_env

log = logging.getLogger("chainwatch.run")


def _raw_lines(env, config, source):
    if source.type == "kafka":
        from chainwatch.flink.kafka_source import kafka_source
        return env.from_source(kafka_source(config.kafka, source), WatermarkStrategy.no_watermarks(),
                               f"kafka: {source.topic}").uid(uids.source(source.name)), f"kafka:{source.topic}"
    files = (FileSource.for_record_stream_format(StreamFormat.text_line_format(), *source.paths)
             .monitor_continuously(Duration.of_millis(source.monitor_interval_ms)).build())
    return (env.from_source(files, WatermarkStrategy.no_watermarks(), f"files: {source.name}")
            .uid(uids.source(source.name))), "watched-file"


def build_streaming_job(config, patterns, out=None, dlq=None, savepoint=None):
    """The streaming job on a new environment; returns (env, statement set or None) to execute."""
    for warning in config.warnings:    # deprecated keys still honoured: say how to migrate
        log.warning("%s", warning)
    env = make_env(config, streaming=True, savepoint=savepoint)
    normalised_streams, timed = [], []
    for source in config.sources:
        lines, origin = _raw_lines(env, config, source)
        normalised = normalise_lines(lines, config, source, origin)
        normalised_streams.append(normalised)
        timed.append(normalised.assign_timestamps_and_watermarks(watermark_strategy(config, LIVE))
                     .name(f"event time {source.name}"))
    events = jvm.always_active_merge(timed[0].union(*timed[1:]) if len(timed) > 1 else timed[0],
                                     "event time, all sources", uids.EVENT_TIME_MERGE)
    t_env = StreamTableEnvironment.create(env)
    out_streams = build_pipeline(env, config, patterns, events, t_env, restorable=True)
    # Notices are counted by the operators' metrics (allowlist_sessions, egress_bytes), not sent; the
    # stream still reaches a sink (empty), as PyFlink sends an unreachable side output's (tag,
    # value) pairs to the operator's main output.
    unsent = out_streams.notices.filter(lambda _notice: False)
    dead = out_streams.late.union(unsent, *[s.get_side_output(DEAD_LETTERS) for s in normalised_streams])
    table_sinks = TableSinks(t_env)
    _attach_sinks(table_sinks, config, out_streams.findings, dead, out, dlq)
    return env, (table_sinks if table_sinks else None)


def _attach_sinks(table_sinks, config, findings, dead, out, dlq) -> None:
    """Findings and dead letters (parsing, and findings a sink could not deliver) to the configured
    `sinks:` (flink.sinks.attach_sinks): `--out` instead of the findings sinks, `--dlq` as well as the
    dead-letter sinks, stdout for dead letters nothing else takes."""
    from chainwatch.flink.sinks import attach_sinks
    attach_sinks(findings, dead, config, table_sinks=table_sinks, out=out, dlq=dlq)


def execute(env, table_sinks, job_name: str = "chainwatch", detached: bool = False):
    """Run the job; the Table-API sinks (flink.kafka_sink.TableSinks, or None) are attached to the
    DataStream job so one job runs everything."""
    if table_sinks is not None:
        table_sinks.attach()
    return env.execute_async(job_name) if detached else env.execute(job_name)


def run(config, patterns, out=None, dlq=None) -> None:
    env, statements = build_streaming_job(config, patterns, out, dlq)
    where = [s.topic if s.type == "kafka" else ", ".join(s.paths) for s in config.sources]
    log.warning("chainwatch run: reading %s", "; ".join(where))
    if config.novelty.history_start_ms is None:
        log.warning("steps.novelty.history_start is not set: the learning period starts at the earliest event "
                    "this run sees, and after a restore it is re-learnt until an identity with state is seen. "
                    "Set it for a long-running job.")
    execute(env, statements)


def stop_with_savepoint(job_client, directory: str) -> str:
    """Stop a running job with a savepoint; returns its path (resume with `savepoint=`).

    PyFlink 2.0's JobClient wrapper still calls the two-argument Java method that Flink 2.0
    removed, so the Java client is called with the savepoint format named."""
    from pyflink.java_gateway import get_gateway
    gateway = get_gateway()
    fmt = gateway.jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    return job_client._j_job_client.stopWithSavepoint(False, directory, fmt).get()
