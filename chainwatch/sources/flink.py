"""Flink operators that turn raw input into normalised events, dead letters and read counts."""
from __future__ import annotations

import json

from pyflink.common import Types
from pyflink.datastream import OutputTag, ProcessFunction

from chainwatch.coverage import observe as observe_coverage
from chainwatch.normalise import Normaliser
from chainwatch.sources.files import is_flow_header, records_from_file, records_from_line
from chainwatch.steps.lanes import batches, lanes

DEAD_LETTERS = OutputTag("dead-letters", Types.STRING())
READ_STATS = OutputTag("read-stats", Types.STRING())
_MAX_ROUTED = 20_000      # events routed before their batches go out: a huge file is not held whole


class _Normalising(ProcessFunction):
    def __init__(self, config, source_format: str = "auto"):
        self.config, self.source_format = config, source_format

    def open(self, runtime_context):
        self.normaliser = Normaliser(self.config)

    def _records(self, records, report_counts: bool = True):
        """Normalise records; yields dead letters, then the events as batches per step lane and
        key (steps.lanes), then the counts."""
        counts = {"read": 0, "normalised": 0, "dead_lettered": 0, "events": 0}
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
                routed.extend(lanes(event))
            if len(routed) >= _MAX_ROUTED:
                yield from batches(routed)
                routed = []
        yield from batches(routed)
        if report_counts:
            yield READ_STATS, json.dumps(dict(counts, coverage=coverage))


class ReadFiles(_Normalising):
    """Input: file paths. Reads each whole file, so any framing works (S3 CloudTrail
    files, JSON arrays, NDJSON, flow logs with their header line)."""

    def process_element(self, path, ctx):
        yield from self._records(records_from_file(path))


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
