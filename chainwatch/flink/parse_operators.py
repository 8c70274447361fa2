"""Flink operators that turn raw input into normalised events, dead letters and read counts."""
from __future__ import annotations

import json

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, ProcessFunction
from pyflink.datastream.state import ValueStateDescriptor

from chainwatch.core.event import TimeBounds
from chainwatch.enrich.normalise import Normaliser
from chainwatch.flink import uids
from chainwatch.flink.metrics import Metrics
from chainwatch.flink.step_operators import BATCH_ROW_TYPE, batch_row
from chainwatch.sources.files import is_flow_header, records_from_file, records_from_line
from chainwatch.sources.order import file_groups, in_time_order
from chainwatch.steps.coverage_watch import Beats, beat_ms, observe as observe_coverage
from chainwatch.steps.lanes import batches, lanes

DEAD_LETTERS = OutputTag("dead-letters", Types.STRING())
READ_STATS = OutputTag("read-stats", Types.STRING())
_MAX_ROUTED = 20_000      # events routed before their batches go out: a huge file is not held whole
_HOLD = -2**63            # the batch time of a file showing no time: it does not advance event time


class _Normalising:
    """What the parse operators share: raw records in, event batches, dead letters and counts out."""

    def __init__(self, config, source_format: str = "auto"):
        self.config, self.source_format = config, source_format

    def open(self, runtime_context):
        self.normaliser = Normaliser(self.config)
        # each evidence stream's beat per account and beat span (steps.coverage_watch)
        self.beats = Beats(beat_ms(self.config.coverage.silence_ms))
        self.earliest = None        # the earliest event time this operator has sent on
        self.metrics = Metrics(runtime_context)     # records read, normalised, dead-lettered by reason class
        self.metrics.register_records()

    def _late(self, event) -> bool:
        return False

    def _batches(self, routed):
        return batches(routed, self.config.job.key_buckets)

    def _count_since(self, reported: dict, counts: dict, dead_by_reason: dict) -> None:
        """Count in the metrics what was not counted yet (a huge file is counted chunk by chunk)."""
        self.metrics.records(*(counts[k] - reported[k] for k in ("read", "normalised", "events")), dead_by_reason)
        reported.update((k, counts[k]) for k in reported)
        dead_by_reason.clear()

    def _records(self, records, report_counts: bool = True):
        """Normalise records; yields dead letters, then the events as batch rows per step lane and
        key bucket (steps.lanes, flink.step_operators.batch_row), then the counts."""
        counts = {"read": 0, "normalised": 0, "dead_lettered": 0, "events": 0, "late": 0}
        coverage: dict = {}
        dead_by_reason: dict = {}
        reported = {"read": 0, "normalised": 0, "events": 0}     # what the metrics have counted already
        routed = []
        for ref, payload, framing in records:
            counts["read"] += 1
            events, dead = self.normaliser.normalise(ref, payload, framing, self.source_format)
            if dead is not None:
                counts["dead_lettered"] += 1
                dead_by_reason[dead["kind"]] = dead_by_reason.get(dead["kind"], 0) + 1
                yield DEAD_LETTERS, json.dumps(dead)
                continue
            counts["normalised"] += 1
            counts["events"] += len(events)
            for event in events:
                observe_coverage(coverage, event)
                beat = self.beats.observe(event)
                if beat is not None:
                    routed.extend(lanes(beat))
                if self.earliest is None or event["ts"] < self.earliest:
                    # Every key bucket learns the job's history start (steps.novelty's horizon
                    # when none is configured), not only the buckets this subtask's events reach.
                    self.earliest = event["ts"]
                    routed.extend(lanes({"kind": "history", "id": f"history:{event['ts']}", "ts": event["ts"]}))
                # What no step uses (a flow that does not leave for an external address: half
                # of all events) is counted and covered, but not shipped on through the job.
                used = list(lanes(event))
                if used and self._late(event):
                    counts["late"] += 1
                routed.extend(used)
            if len(routed) >= _MAX_ROUTED:
                yield from map(batch_row, self._batches(routed))
                routed = []
                self._count_since(reported, counts, dead_by_reason)
        yield from map(batch_row, self._batches(routed))
        self._count_since(reported, counts, dead_by_reason)
        if report_counts:
            yield READ_STATS, json.dumps(dict(counts, coverage=coverage))


class ReadFiles(_Normalising, ProcessFunction):
    """Input: groups of files ([paths], start ms of the first or None) in start-time order
    (sources.order.file_groups). Reads each whole file, so any framing works (S3 CloudTrail
    files, JSON arrays, NDJSON, flow logs with their header).

    Every batch of a group (of each chunk of a huge one) carries the group's earliest event
    time, so event time advances group by group, time.watermark_delay behind the latest. An
    event further behind than that may arrive after the watermark passed it: counted as `late`,
    the summary says so (the steps still see it; a finding needing it may be missed). Files
    showing no time hold event time back instead, so their events are never late."""

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
        buckets = self.config.job.key_buckets
        if not self.timed:
            return batches(routed, buckets, _HOLD)
        start = min(event["ts"] for _lane, _key, event in routed)
        self.latest_start = start if self.latest_start is None else max(self.latest_start, start)
        return batches(routed, buckets, start)

    def process_element(self, item, ctx):
        paths, start = item
        self.timed = start is not None
        yield from self._records(record for path in paths for record in records_from_file(path))


def read_files(env, config, paths, *, hold_all: bool = False, name: str = "read + parse + enrich"):
    """Files -> normalised event batches with event time (pipeline.watermark_strategy: `files`, or
    `hold-all`), dead letters and read counts (side outputs). Files go in start-time order, in
    groups (sources.order.file_groups)."""
    bounds = TimeBounds(config.time.earliest_event_ms, config.time.max_ahead_ms)
    groups = [Row(group, start) for group, start
              in file_groups(in_time_order(paths, bounds), config.time.watermark_delay_ms)]
    return (env.from_collection(groups, type_info=Types.ROW([Types.LIST(Types.STRING()), Types.LONG()]))
            .name(f"{name}: files").process(ReadFiles(config, hold_all), output_type=BATCH_ROW_TYPE).name(name))


class NormaliseLines(_Normalising, KeyedProcessFunction):
    """Input: lines of continuously watched files (one-line CloudTrail S3 files, NDJSON, flow logs)
    or Kafka record values (a JSON event, a CloudTrail S3 document, a flow-log line), keyed by the
    source reader that read them (reader_keyed).

    A file reader reads one file at a time from its start, so the last flow-log header it passed
    names the fields of the lines that follow it. That header is keyed state (the key: the
    reader), so a restore from a checkpoint or savepoint, which resumes a file in the middle,
    still parses its lines with it. It is read from state once per key after a (re)start and
    kept in memory; written to state when a header line arrives."""

    def __init__(self, config, source_format: str = "auto", origin: str = "watched-file"):
        super().__init__(config, source_format)
        self.origin = origin

    def open(self, runtime_context):
        super().open(runtime_context)
        self.header_state = runtime_context.get_state(ValueStateDescriptor("flow-header", Types.STRING()))
        self.headers = {}        # reader key -> the header's field names (None: none seen)

    def process_element(self, line, ctx):
        key = ctx.get_current_key()
        if is_flow_header(line):
            self.header_state.update(line)
            self.headers[key] = tuple(line.split())
            return
        header = self.headers.get(key, ())
        if header == ():         # first line of this reader since the operator (re)started
            saved = self.header_state.value()
            header = self.headers[key] = tuple(saved.split()) if saved else None
        yield from self._records(records_from_line(line, self.origin, header), report_counts=False)


# --- which parse subtask a source reader's lines go to ----------------------------------------

def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def _rotl(value: int, bits: int) -> int:
    value &= 0xFFFFFFFF
    return _int32((value << bits) | (value >> (32 - bits)))


def _murmur(code: int) -> int:
    """Flink's MathUtils.murmurHash (what KeyGroupRangeAssignment applies to a key's hashCode)."""
    code = _rotl(_int32(code * -862048943), 15)
    code = _rotl(_int32(code * 461845907), 13)
    code = _int32(code * 5 - 430675100) ^ 4
    code = _int32(code ^ ((code & 0xFFFFFFFF) >> 16))           # bitMix
    code = _int32(code * -2048144789)
    code = _int32(code ^ ((code & 0xFFFFFFFF) >> 13))
    code = _int32(code * -1028477387)
    code = _int32(code ^ ((code & 0xFFFFFFFF) >> 16))
    return code if code >= 0 else (-code if code != -2**31 else 0)


def parse_subtask(key: int, parallelism: int, max_parallelism: int) -> int:
    """The subtask Flink sends an INT key of PyFlink's key_by to: PyFlink keys by Row(key), whose
    Java hashCode is 62 + key (RowUtils: 31 * kind + the fields' deep hash)."""
    key_group = _murmur(_int32(62 + key)) % max_parallelism
    return key_group * parallelism // max_parallelism


def reader_key(index: int, parallelism: int, max_parallelism: int) -> int:
    """The smallest INT key that Flink sends to parse subtask `index`: a reader's lines then stay
    with the parse subtask of its own index (usually in its slot), as they did unkeyed."""
    for key in range(1_000_000):
        if parse_subtask(key, parallelism, max_parallelism) == index:
            return key
    return index     # unreachable for any real max parallelism; still a valid key


def subtask_info(runtime_context) -> tuple[int, int, int]:
    """(index, parallelism, max parallelism) of the subtask. In thread mode PyFlink 2.0's runtime
    context calls the Java RuntimeContext's getIndexOfThisSubtask() and its siblings, which Flink
    2.0 removed (SystemError in open()); they are on its getTaskInfo() now."""
    java = getattr(runtime_context, "_runtime_context", None)      # thread mode: the Java RuntimeContext
    if java is not None:
        info = java.getTaskInfo()
        return info.getIndexOfThisSubtask(), info.getNumberOfParallelSubtasks(), info.getMaxNumberOfParallelSubtasks()
    return (runtime_context.get_index_of_this_subtask(), runtime_context.get_number_of_parallel_subtasks(),
            runtime_context.get_max_number_of_parallel_subtasks())


class ReaderKey(ProcessFunction):
    """Tags each line with the key of the source reader (subtask) that read it: a key that Flink
    assigns to the parse subtask of the reader's own index (reader_key). So the lines need no
    shuffle to be keyed (reader_keyed): the parse operator stays chained to its reader, as it
    was unkeyed, and the header state of a reader follows it across a restore at the same
    parallelism. (After a rescale Flink hands the readers' splits out anew; a file resumed by
    another reader than the one that read its header parses without it until the next header.)"""

    def open(self, runtime_context):
        self.key = reader_key(*subtask_info(runtime_context))

    def process_element(self, value, ctx):
        yield Row(self.key, value)


def reader_keyed(lines):
    """`lines` as a KeyedStream keyed by their reader, without the network shuffle of key_by.

    A key_by would put an all-to-all exchange between the readers and the parse operator: every
    parse subtask would then align checkpoint barriers from every reader, and its records would
    wait behind them and the network buffers. Seen on a mini-cluster with quiet spells between
    chunks of input: the sources resumed further apart, more events arrived behind the watermark
    and chains were lost (tests/integration/test_quiet_spells.py). So the stream is only
    reinterpreted as keyed (DataStreamUtils.reinterpretAsKeyedStream, forward partitioning), in
    PyFlink's own layout for a keyed stream (Row(key, value), KeyByKeySelector): every line is
    already on the subtask its key belongs to, since ReaderKey chose the key for that."""
    from pyflink.common.typeinfo import _from_java_type
    from pyflink.datastream.data_stream import KeyedStream
    from pyflink.java_gateway import get_gateway
    gateway = get_gateway()
    line_type = _from_java_type(lines._j_data_stream.getTransformation().getOutputType())
    tagged = lines.process(ReaderKey(), output_type=Types.ROW([Types.INT(), line_type])).name("reader key")
    j_keyed = gateway.jvm.org.apache.flink.streaming.api.datastream.DataStreamUtils.reinterpretAsKeyedStream(
        tagged._j_data_stream, gateway.jvm.org.apache.flink.streaming.api.functions.python.KeyByKeySelector(),
        Types.ROW([Types.INT()]).get_java_type_info())
    return KeyedStream(j_keyed, line_type, lines)


def normalise_lines(lines, config, source, origin: str):
    """The parse operator of a streaming source: lines keyed by their reader -> NormaliseLines."""
    return (reader_keyed(lines)
            .process(NormaliseLines(config, source.format, origin), output_type=BATCH_ROW_TYPE)
            .name(f"parse {source.name}").uid(uids.parse(source.name)))
