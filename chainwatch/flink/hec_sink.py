"""Flink operators of the findings sinks: format the OCSF stream, and deliver it to Splunk HEC.

The HEC operator runs on a stream keyed by the sink's name: one sender per sink, so batches
fill up (findings are few; one HTTP client is plenty). Pending findings wait in keyed list
state, so a checkpoint holds them and a restore resends them (at least once: the finding uid
lets the SIEM drop duplicates). A batch leaves when it is full (batch_size or max_batch_bytes),
when the oldest pending finding has waited flush_interval (a processing-time timer, which
fires while the job runs, in thread mode too), and at end of input (an event-time timer at
the end of time: a bounded input's last watermark fires it; processing-time timers do not
fire then). Findings HEC still refuses after the retries come out of the operator as dead
letters, JSON {ref, reason, raw}; the job routes them to its dead-letter output.

Sending happens inside the operator, so a slow or retrying endpoint back-pressures the job
instead of dropping findings.
"""
from __future__ import annotations

import json
import logging

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, MapFunction, TimeDomain
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from chainwatch.enrich.normalise import dead_letter
from chainwatch.findings.render import render
from chainwatch.flink.metrics import Metrics
from chainwatch.flink.uids import sink_uid
from chainwatch.sinks.hec_client import HecClient

log = logging.getLogger("chainwatch.sinks.hec_client")

END_OF_TIME = 2**63 - 1  # Long.MAX_VALUE: the watermark a bounded input ends with


class RenderFinding(MapFunction):
    def __init__(self, sink):
        self.fmt, self.fields = sink.format, sink.hec_fields

    def map(self, ocsf_json):
        return render(ocsf_json, self.fmt, self.fields)


def formatted(findings, sink):
    """The findings stream in the sink's format (OCSF passes through untouched)."""
    if sink.format == "ocsf":
        return findings
    return findings.map(RenderFinding(sink), Types.STRING()).name(f"{sink.name}: {sink.format}")


class HecSinkOperator(KeyedProcessFunction):
    def __init__(self, sink):
        self.sink = sink  # holds where the token is, never the token

    def open(self, runtime_context):
        self.client = HecClient(self.sink, self.sink.token.read())
        self.pending = runtime_context.get_list_state(ListStateDescriptor("pending", Types.STRING()))
        # {"count", "bytes", "deadline"} of the pending batch; deadline: its processing-time timer.
        self.batch = runtime_context.get_state(ValueStateDescriptor("batch", Types.PICKLED_BYTE_ARRAY()))
        metrics = Metrics(runtime_context)
        self.delivered = metrics.counter("delivered", self.sink.name)
        self.failed = metrics.counter("delivery_failed", self.sink.name)     # -> the dead-letter output
        log.info("HEC sink %s: %s, batches of %d findings or %d bytes, flushed every %d ms",
                 self.sink.name, self.client.url, self.sink.batch_size, self.sink.max_batch_bytes,
                 self.sink.flush_interval_ms)

    def _size(self, finding: str) -> int:
        return len(render(finding, "hec", self.sink.hec_fields).encode("utf-8"))

    def process_element(self, finding, ctx: KeyedProcessFunction.Context):
        timers = ctx.timer_service()
        size = self._size(finding)
        batch = self.batch.value() or {"count": 0, "bytes": 0, "deadline": None}
        if batch["count"] and batch["bytes"] + size > self.sink.max_batch_bytes:
            yield from self._flush(timers, batch)
            batch = {"count": 0, "bytes": 0, "deadline": None}
        self.pending.add(finding)
        batch["count"] += 1
        batch["bytes"] += size
        timers.register_event_time_timer(END_OF_TIME)  # one per key: Flink keeps a single timer per time
        if batch["count"] >= self.sink.batch_size or batch["bytes"] >= self.sink.max_batch_bytes:
            yield from self._flush(timers, batch)
            return
        if batch["deadline"] is None:
            batch["deadline"] = timers.current_processing_time() + self.sink.flush_interval_ms
            timers.register_processing_time_timer(batch["deadline"])
        self.batch.update(batch)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        batch = self.batch.value()
        if not batch or not batch["count"]:
            return
        end_of_input = ctx.time_domain() == TimeDomain.EVENT_TIME
        if end_of_input or (batch["deadline"] is not None and timestamp >= batch["deadline"]):
            yield from self._flush(ctx.timer_service(), batch)

    def _flush(self, timers, batch):
        findings = list(self.pending.get() or [])
        self.pending.clear()
        self.batch.clear()
        if batch.get("deadline") is not None:
            timers.delete_processing_time_timer(batch["deadline"])
        lines = [render(f, "hec", self.sink.hec_fields) for f in findings]
        failures = self.client.deliver(lines)
        self.delivered.inc(len(lines) - len(failures))
        if failures:
            self.failed.inc(len(failures))
        for index, reason in sorted(failures.items()):
            uid = json.loads(findings[index])["finding_info"]["uid"]
            yield json.dumps(dead_letter(f"{self.sink.name}:{uid}", "undeliverable", reason, findings[index]))


def deliver_to_hec(findings, sink):
    """Sends OCSF findings to the sink's HEC endpoint; returns the stream of dead letters."""
    return (findings.key_by(lambda _finding, name=sink.name: name, key_type=Types.STRING())
            .process(HecSinkOperator(sink), Types.STRING()).name(f"{sink.name} -> Splunk HEC").uid(sink_uid(sink)))
