"""Flink operators that turn raw input into normalised events, dead letters and read counts."""
from __future__ import annotations

import json

from pyflink.common import Row, Types
from pyflink.datastream import OutputTag, ProcessFunction

from chainwatch.coverage import observe as observe_coverage
from chainwatch.model import TimeBounds
from chainwatch.normalise import Normaliser
from chainwatch.sources.files import is_flow_header, records_from_file, records_from_line
from chainwatch.sources.order import in_time_order
from chainwatch.steps.lanes import batches, lanes

DEAD_LETTERS = OutputTag("dead-letters", Types.STRING())
READ_STATS = OutputTag("read-stats", Types.STRING())
_MAX_ROUTED = 20_000      # events routed before their batches go out: a huge file is not held whole
_HOLD = -2**63            # the batch time of a file showing no time: it does not advance event time


class _Normalising(ProcessFunction):
    def __init__(self, config, source_format: str = "auto"):
        self.config, self.source_format = config, source_format

    def open(self, runtime_context):
        self.normaliser = Normaliser(self.config)

    def _late(self, event) -> bool:
        return False

    def _batches(self, routed):
        return batches(routed)

    def _records(self, records, report_counts: bool = True):
        """Normalise records; yields dead letters, then the events as batches per step lane and
        key (steps.lanes), then the counts."""
        counts = {"read": 0, "normalised": 0, "dead_lettered": 0, "events": 0, "late": 0}
        coverage: dict = {}
        routed = []
        for ref, payload, framing in records:
            counts["read"] += 1
            events, dead = self.normaliser.normalise(ref, payload, framing, self.source_format)
            if dead is not None:
                counts["dead_lettered"] += 1
                yield DEAD_LETTERS, json.dumps(dead)
                continue
            counts["normalised"] += 1
            counts["events"] += len(events)
            for event in events:
                observe_coverage(coverage, event, self.config.reference)
                # What no step uses (a flow that does not leave for an external address: half
                # of all events) is counted and covered, but not shipped on through the job.
                used = list(lanes(event))
                if used and self._late(event):
                    counts["late"] += 1
                routed.extend(used)
            if len(routed) >= _MAX_ROUTED:
                yield from self._batches(routed)
                routed = []
        yield from self._batches(routed)
        if report_counts:
            yield READ_STATS, json.dumps(dict(counts, coverage=coverage))


class ReadFiles(_Normalising):
    """Input: (path, start ms or None) in start-time order (sources.order). Reads each whole file,
    so any framing works (S3 CloudTrail files, JSON arrays, NDJSON, flow logs with their header).

    Every batch of a file (of each chunk of a huge one) carries the file's earliest event time,
    so event time advances file by file, time.watermark_delay behind the latest. An event
    further behind than that may arrive after the watermark passed it: counted as `late`, the
    summary says so (the steps still see it; a finding needing it may be missed). A file
    showing no time holds event time back instead, so its events are never late."""

    def __init__(self, config, hold_all: bool = False):
        super().__init__(config)
        self.hold_all = hold_all

    def open(self, runtime_context):
        super().open(runtime_context)
        self.latest_start = None       # the latest file start this reader has sent on
        self.timed = True

    def _late(self, event) -> bool:
        return not self.hold_all and self.latest_start is not None and \
            event["ts"] < self.latest_start - self.config.time.watermark_delay_ms

    def _batches(self, routed):
        if not routed:
            return []
        if not self.timed:
            return batches(routed, _HOLD)
        start = min(event["ts"] for _lane, _key, event in routed)
        self.latest_start = start if self.latest_start is None else max(self.latest_start, start)
        return batches(routed, start)

    def process_element(self, item, ctx):
        path, start = item
        self.timed = start is not None
        yield from self._records(records_from_file(path))


def read_files(env, config, paths, *, hold_all: bool = False, name: str = "read + parse + enrich"):
    """Files -> normalised event batches with event time (pipeline.watermark_strategy: `files`, or
    `hold-all`), dead letters and read counts (side outputs). Files go in start-time order."""
    bounds = TimeBounds(config.time.earliest_event_ms, config.time.max_ahead_ms)
    files = [Row(path, start) for path, start in in_time_order(paths, bounds)]
    return (env.from_collection(files, type_info=Types.ROW([Types.STRING(), Types.LONG()])).name(f"{name}: files")
            .process(ReadFiles(config, hold_all)).name(name))


class NormaliseLines(_Normalising):
    """Input: lines of continuously watched files (one-line CloudTrail S3 files, NDJSON, flow logs)
    or Kafka record values (a JSON event, a CloudTrail S3 document, a flow-log line).

    A file reader reads one file at a time from its start, so the last flow-log header it passed
    names the fields of the lines that follow it."""

    def __init__(self, config, source_format: str = "auto", origin: str = "watched-file"):
        super().__init__(config, source_format)
        self.origin = origin

    def open(self, runtime_context):
        super().open(runtime_context)
        self.header = None

    def process_element(self, line, ctx):
        if is_flow_header(line):
            self.header = tuple(line.split())
            return
        yield from self._records(records_from_line(line, self.origin, self.header), report_counts=False)
