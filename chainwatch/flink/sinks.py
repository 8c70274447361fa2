"""Sinks (config `sinks:`, config.sink_settings): findings to stdout, files, Splunk HEC or Kafka in
OCSF, ECS or HEC format; dead letters to stdout, files or Kafka. One sink system for every output
of the job, and one dispatch: ATTACH holds how each registered sink type is attached.
"""
from __future__ import annotations

from dataclasses import dataclass

from chainwatch.flink import uids
from chainwatch.flink.file_sinks import sink_to
from chainwatch.flink.hec_sink import deliver_to_hec, formatted
from chainwatch.flink.kafka_sink import to_kafka


@dataclass
class _Job:
    config: object
    table_sinks: object = None        # flink.kafka_sink.TableSinks: where Kafka sinks add their inserts


def _to_stdout_or_file(stream, sink, job: _Job):
    if sink.stream == "findings":
        stream = formatted(stream, sink)
    sink_to(stream, sink.path if sink.type == "file" else None, sink.name, uids.sink_uid(sink))


def _to_hec(stream, sink, job: _Job):
    """Returns the dead letters of the findings it could not deliver."""
    return deliver_to_hec(stream, sink)


def _to_kafka(stream, sink, job: _Job):
    if job.table_sinks is None:
        raise ValueError(f"sink {sink.name}: a kafka sink needs the job's table sinks (flink.kafka_sink.TableSinks)")
    # One exactly-once transactional id prefix per topic, as before kafka sinks existed; two
    # sinks on one topic (two formats) each get their own.
    kafka_topics = [s.topic for s in job.config.sinks if s.type == "kafka"]
    prefix = f"chainwatch-{sink.topic}" + (f"-{sink.name}" if kafka_topics.count(sink.topic) > 1 else "")
    to_kafka(job.table_sinks, stream, job.config.kafka, sink, job.config.sinks.index(sink), prefix)


# sink type (config.sink_settings.SINK_TYPES) -> attach(stream, sink, job): a stream of dead letters
# it produces (findings it could not deliver), or None.
ATTACH = {"stdout": _to_stdout_or_file, "file": _to_stdout_or_file, "hec": _to_hec, "kafka": _to_kafka}


def _union(streams):
    return streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0]


def _attach_findings(findings, job: _Job, sinks) -> list:
    undeliverable = [ATTACH[sink.type](findings, sink, job) for sink in sinks]
    return [stream for stream in undeliverable if stream is not None]


def attach_sinks(findings, dead_letters, config, *, table_sinks=None, out=None, dlq=None) -> None:
    """Every output of the streaming job.

    Findings (OCSF JSON strings) go to each findings sink of `config.sinks`, or, when `out` is
    given (a folder, or '-' for stdout), there instead. Dead letters ({ref, reason, raw}: the
    records the job could not read, and the findings a HEC sink could not deliver) go to each
    dead-letter sink (`stream: dead_letters`) and to `dlq` when given; to stdout when nothing else
    takes them. Kafka sinks are Table-API inserts added to `table_sinks` (flink.kafka_sink.TableSinks),
    which the caller attaches to the job when it has any."""
    job = _Job(config, table_sinks)
    undeliverable = []
    if out:
        sink_to(findings, out, "findings", uids.OUT_FINDINGS)
    else:
        undeliverable = _attach_findings(findings, job, [s for s in config.sinks if s.stream == "findings"])
    dead = _union([dead_letters, *undeliverable])
    dead_sinks = [s for s in config.sinks if s.stream == "dead_letters"]
    for sink in dead_sinks:
        ATTACH[sink.type](dead, sink, job)
    if dlq:
        sink_to(dead, dlq, "dead-letters", uids.OUT_DEAD_LETTERS)
    elif not dead_sinks:
        sink_to(dead, None, "dead-letters", uids.STDOUT_DEAD_LETTERS)


def attach_finding_sinks(findings, config, dead_letter_target, dead_letter_name: str = "dead-letters",
                         route_dead_letters: bool = True):
    """Send the findings stream (OCSF JSON strings) to every findings sink in `config.sinks` but
    Kafka's (a job with Kafka sinks or dead-letter sinks uses attach_sinks).

    Findings a HEC sink could not deliver become dead letters ({ref, reason, raw}) written to
    `dead_letter_target` (a folder, or '-'/None for stdout, as flink.file_sinks.sink_to). Returns
    that dead-letter stream (None without HEC sinks), already routed, for callers that also
    count or collect it.
    """
    sinks = [s for s in config.sinks if s.stream == "findings" and s.type != "kafka"]
    dead_letters = _attach_findings(findings, _Job(config), sinks)
    if not dead_letters:
        return None
    merged = _union(dead_letters)
    if route_dead_letters:
        sink_to(merged, dead_letter_target, dead_letter_name)
    return merged
