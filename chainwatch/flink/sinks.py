"""Sinks (config `sinks:`): findings to stdout, files, Splunk HEC or Kafka in OCSF, ECS or HEC
format; dead letters to stdout, files or Kafka. One sink system for every output of the job.

PyFlink is imported only when a job is built, so config loading (which reads
chainwatch/config/sink_settings.py) stays free of it.
"""
from __future__ import annotations

from chainwatch.flink import uids


def _union(streams):
    return streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0]


def attach_sinks(findings, dead_letters, config, *, table_sinks=None, out=None, dlq=None) -> None:
    """Every output of the streaming job.

    Findings (OCSF JSON strings) go to each findings sink of `config.sinks`, or, when `out` is
    given (a folder, or '-' for stdout), there instead. Dead letters ({ref, reason, raw}: the
    records the job could not read, and the findings a HEC sink could not deliver) go to each
    dead-letter sink (`stream: dead_letters`) and to `dlq` when given; to stdout when nothing else
    takes them. Kafka sinks are Table-API inserts added to `table_sinks` (sinks.kafka.TableSinks),
    which the caller attaches to the job when it has any."""
    from chainwatch.flink.file_sinks import sink_to
    from chainwatch.flink.hec_sink import deliver_to_hec, formatted
    from chainwatch.flink.kafka_sink import to_kafka

    kafka_topics = [s.topic for s in config.sinks if s.type == "kafka"]

    def kafka(stream, sink, index):
        if table_sinks is None:
            raise ValueError(f"sink {sink.name}: a kafka sink needs the job's table sinks (sinks.kafka.TableSinks)")
        # One exactly-once transactional id prefix per topic, as before kafka sinks existed; two
        # sinks on one topic (two formats) each get their own.
        prefix = f"chainwatch-{sink.topic}" + (f"-{sink.name}" if kafka_topics.count(sink.topic) > 1 else "")
        to_kafka(table_sinks, stream, config.kafka, sink, index, prefix)

    undeliverable = []
    if out:
        sink_to(findings, out, "findings", uids.OUT_FINDINGS)
    for index, sink in enumerate(config.sinks):
        if sink.stream != "findings" or out:
            continue
        if sink.type == "hec":
            undeliverable.append(deliver_to_hec(findings, sink))
        elif sink.type == "kafka":
            kafka(findings, sink, index)
        else:
            sink_to(formatted(findings, sink), sink.path if sink.type == "file" else None, sink.name,
                    uids.sink_uid(sink))
    dead = _union([dead_letters, *undeliverable])
    dead_sinks = [(i, s) for i, s in enumerate(config.sinks) if s.stream == "dead_letters"]
    for index, sink in dead_sinks:
        if sink.type == "kafka":
            kafka(dead, sink, index)
        else:
            sink_to(dead, sink.path if sink.type == "file" else None, sink.name, uids.sink_uid(sink))
    if dlq:
        sink_to(dead, dlq, "dead-letters", uids.OUT_DEAD_LETTERS)
    elif not dead_sinks:
        sink_to(dead, None, "dead-letters", uids.STDOUT_DEAD_LETTERS)


def attach_finding_sinks(findings, config, dead_letter_target, dead_letter_name: str = "dead-letters",
                         route_dead_letters: bool = True):
    """Send the findings stream (OCSF JSON strings) to every stdout, file and HEC findings sink in
    `config.sinks` (a job with Kafka sinks or dead-letter sinks uses attach_sinks).

    Findings a HEC sink could not deliver become dead letters ({ref, reason, raw}) written to
    `dead_letter_target` (a folder, or '-'/None for stdout, as sinks/files.sink_to). Returns
    that dead-letter stream (None without HEC sinks), already routed, for callers that also
    count or collect it.
    """
    from chainwatch.flink.file_sinks import sink_to
    from chainwatch.flink.hec_sink import deliver_to_hec, formatted

    dead_letters = []
    for sink in config.sinks:
        if sink.stream != "findings" or sink.type == "kafka":
            continue
        if sink.type == "hec":
            dead_letters.append(deliver_to_hec(findings, sink))
        else:
            sink_to(formatted(findings, sink), sink.path if sink.type == "file" else None, sink.name,
                    uids.sink_uid(sink))
    if not dead_letters:
        return None
    merged = _union(dead_letters)
    if route_dead_letters:
        sink_to(merged, dead_letter_target, dead_letter_name)
    return merged
