"""chainwatch run: the streaming job, file sources watched continuously (Kafka comes next)."""
from __future__ import annotations

import logging

from pyflink.common import Duration, WatermarkStrategy
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat

from chainwatch.pipeline import build_pipeline, watermark_strategy
from chainwatch.runtime import make_env
from chainwatch.sinks.files import sink_to
from chainwatch.sources.flink import DEAD_LETTERS, NormaliseLines

log = logging.getLogger("chainwatch.run")


def build_streaming_job(config, patterns, out=None, dlq=None):
    env = make_env(config, streaming=True)
    normalised_streams = []
    for source in config.sources:
        files = (FileSource.for_record_stream_format(StreamFormat.text_line_format(), *source.paths)
                 .monitor_continuously(Duration.of_millis(source.monitor_interval_ms)).build())
        lines = env.from_source(files, WatermarkStrategy.no_watermarks(), f"files: {source.name}")
        normalised_streams.append(lines.process(NormaliseLines(config, source.format)).name(f"parse {source.name}"))
    normalised = normalised_streams[0].union(*normalised_streams[1:]) if len(normalised_streams) > 1 \
        else normalised_streams[0]
    events = normalised.assign_timestamps_and_watermarks(watermark_strategy(config, end_of_input_only=False))
    findings, _unattributed = build_pipeline(env, config, patterns, events)
    sink_to(findings, out, "findings")
    for stream in normalised_streams:
        sink_to(stream.get_side_output(DEAD_LETTERS), dlq, "dead-letters")
    return env


def run(config, patterns, out=None, dlq=None) -> None:
    env = build_streaming_job(config, patterns, out, dlq)
    log.warning("chainwatch run: watching %s", ", ".join(p for s in config.sources for p in s.paths))
    env.execute("chainwatch")
