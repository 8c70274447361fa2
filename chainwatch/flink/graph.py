"""build_pipeline: sources -> parse -> enrich and steps -> CEP -> findings. One function serves
replay, run and the cluster; only the source and the sinks around it differ."""
from __future__ import annotations

import json
from typing import NamedTuple

from pyflink.common import Duration, Types, WatermarkStrategy
from pyflink.datastream import KeyedProcessFunction, MapFunction, StreamExecutionEnvironment
from pyflink.datastream.state import ValueStateDescriptor
from pyflink.table import DataTypes, Schema, StreamTableEnvironment

from chainwatch.findings.finding import build_finding
from chainwatch.findings.ocsf import to_ocsf
from chainwatch.findings.suppression import group_key, suppress
from chainwatch.flink import jvm, uids
from chainwatch.flink.metrics import Metrics
from chainwatch.flink.step_operators import (BATCH_ROW_TYPE, LATE, NOTICES, STEP_ROW_TYPE, CoverageOperator,
                                             IdentityStepsOperator, WorkloadResolver, state_ttl)
from chainwatch.patterns.compiler import STEP_TABLE, compile_pattern
from chainwatch.steps import step_row
from chainwatch.steps.lanes import COVERAGE, IDENTITY, IDENTITY_HOP, INSTANCE_HOP, UNATTRIBUTED

HOLD_ALL, FILES, LIVE = "hold-all", "files", "live"
_DATA_TYPES = {"STRING": DataTypes.STRING(), "BIGINT": DataTypes.BIGINT()}     # the step row's SQL types


def watermark_strategy(config, mode: str) -> WatermarkStrategy:
    """How event time advances:
    - hold-all: not before the end of input. Exact whatever the order of the input, but every
      event waits in state until the end (pattern cases, replay --hold-all).
    - files: a replay reading files by start time (sources.order): time.watermark_delay behind
      the latest file start, so state holds a window, not the input.
    - live: the same delay; a source quiet for time.idle_timeout stops holding time back, and
      one that resumes holds it for time.resume_hold before it moves it on, so the other
      sources resuming after the same quiet spell are not left behind the watermark
      (chainwatch.flink.ResumeHoldWatermarks); when every source has been quiet for
      time.quiet_flush, event time moves to the latest event, so a burst followed by silence
      is not held back until the next record.
    Each batch row's time comes from the row, in Java (jvm.with_batch_time). The job must have
    chainwatch.flink.jvm.add_to(env) (runtime.make_env does it)."""
    delay = config.time.watermark_delay_ms
    if mode == HOLD_ALL:
        strategy = WatermarkStrategy.no_watermarks()
    elif mode == LIVE:
        strategy = jvm.resume_hold_watermarks(delay, config.time.idle_timeout_ms, config.time.resume_hold_ms,
                                              config.time.quiet_flush_ms)
    else:
        strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(delay))
    return jvm.with_batch_time(strategy)


class FormatFinding(MapFunction):
    def __init__(self, pattern):
        self.pattern = pattern

    def open(self, runtime_context):
        self.found = Metrics(runtime_context).counter("findings", self.pattern.id)   # findings per analytic

    def map(self, row):
        self.found.inc()
        return json.dumps(to_ocsf(build_finding(self.pattern, row.as_dict())), separators=(",", ":"))


class Suppress(KeyedProcessFunction):
    """One finding per group and period, counting repeats (findings.suppression), keyed by group.
    The group's state expires a period after it was written (processing time; only to free
    memory: whether a match repeats is decided in event time)."""

    def __init__(self, pattern):
        self.suppression = pattern.suppress

    def open(self, runtime_context):
        descriptor = ValueStateDescriptor("suppression", Types.PICKLED_BYTE_ARRAY())
        descriptor.enable_time_to_live(state_ttl(max(self.suppression.for_ms, 1)))
        self.state = runtime_context.get_state(descriptor)

    def process_element(self, finding, ctx):
        state, out = suppress(self.state.value(), json.loads(finding), self.suppression)
        self.state.update(state)
        yield json.dumps(out, separators=(",", ":"))


def _step_table(t_env: StreamTableEnvironment, step_rows):
    """The step rows as a table (steps.step_row.COLUMNS), its rowtime `rt` from `order_ts`."""
    schema = Schema.new_builder()
    for name, sql_type in step_row.COLUMNS:
        schema = schema.column(name, _DATA_TYPES[sql_type])
    schema = (schema.column_by_expression("rt", "TO_TIMESTAMP_LTZ(order_ts, 3)")
              .watermark("rt", "SOURCE_WATERMARK()").build())
    return t_env.from_data_stream(step_rows, schema)


class Outputs(NamedTuple):
    """What the pipeline sends out: every stream is of one type."""
    findings: object        # OCSF JSON findings of every pattern, and coverage findings
    unattributed: object    # egress flows bound to no identity, JSON lines
    late: object            # dead letters (kind `late`) of events that arrived behind event time
    notices: object         # steps.notices: allowlist uses, first-party providers learned, egress reports


def build_pipeline(env: StreamExecutionEnvironment, config, patterns, events, t_env=None, *,
                   restorable: bool = False) -> Outputs:
    """events: normalised event batch rows (flink.step_operators.batch_row) with timestamps and
    watermarks. Every output must reach a sink (or a filter dropping all before one): PyFlink sends
    the (tag, value) pairs of a side output no sink reaches to the operator's main output.

    restorable: the streaming job, which checkpoints and restores from savepoints: its stateful
    operators get their uids (chainwatch/flink/uids.py) and keep their state in Flink. A replay and
    the case job never restore: their step operators keep state in Python memory (no call into
    Flink and no pickling per batch and key; the same state, as the processing-time TTL cannot
    pass within a replay), and the case job builds a pipeline per case in one job, where the
    same uids would collide."""
    steps, unattributed, late, notices = build_steps(config, events, restorable=restorable, patterns=patterns)
    findings = build_matches(env, patterns, steps, t_env, restorable=restorable)
    return Outputs(findings.union(build_coverage(config, events, restorable=restorable)), unattributed, late, notices)


def build_coverage(config, batches, *, restorable: bool = False):
    """Coverage findings (steps.coverage_watch) per account, as OCSF JSON like the patterns' findings."""
    return _uid(_keyed(jvm.lane(batches, COVERAGE, "evidence stream beats and changes"))
                .process(CoverageOperator(config, restorable), output_type=Types.STRING())
                .name("evidence stream coverage"), uids.COVERAGE, restorable)


def _uid(stream, uid: str, wanted: bool):
    return stream.uid(uid) if wanted else stream


def _keyed(*streams):
    return jvm.keyed_by_bucket(streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0])


def build_steps(config, batches, *, restorable: bool = False, patterns=None):
    """Enrich and steps over batch rows (steps.lanes, flink.step_operators.batch_row): egress flows are
    bound to an identity through the workload that holds its credentials (alias -> instance ->
    identity), then join the identity's own activity. Returns (step rows, egress flows bound to
    no identity as JSON lines, late-event dead letters, notices). Between the operators
    everything is Java (lane filters, keying by bucket): a batch enters Python only at the
    operator that uses it. patterns: those setting their own step parameters get their own step
    variant (steps.variants)."""
    with_instance = _uid(_keyed(jvm.lane(batches, INSTANCE_HOP, "egress flows, alias bindings"))
                         .process(WorkloadResolver("instance", config, restorable),
                                  output_type=BATCH_ROW_TYPE)
                         .name("resolve ENI/IP -> instance"), uids.RESOLVE_INSTANCE, restorable)
    attributed = _uid(_keyed(with_instance, jvm.lane(batches, IDENTITY_HOP, "instance -> identity bindings"))
                      .process(WorkloadResolver("principal", config, restorable),
                               output_type=BATCH_ROW_TYPE)
                      .name("resolve instance -> identity"), uids.RESOLVE_IDENTITY, restorable)
    step_rows = _uid(_keyed(jvm.lane(batches, IDENTITY, "identity activity"),
                            jvm.lane(attributed, IDENTITY, "attributed egress"))
                     .process(IdentityStepsOperator(config, restorable, patterns), output_type=STEP_ROW_TYPE)
                     .name("identity steps"),
                     uids.IDENTITY_STEPS, restorable)
    unattributed = jvm.lane(attributed, UNATTRIBUTED, "unattributed egress").flat_map(
        lambda row: (json.dumps({"unattributed_egress": e["id"], "bytes": e["flow"]["bytes"],
                                 "reason": e.get("attribution") or "no_binding"}) for e in row[1][2]),
        Types.STRING())
    late = with_instance.get_side_output(LATE).union(attributed.get_side_output(LATE),
                                                     step_rows.get_side_output(LATE))
    notices = with_instance.get_side_output(NOTICES).union(attributed.get_side_output(NOTICES),
                                                           step_rows.get_side_output(NOTICES))
    return step_rows, unattributed, late, notices


def build_matches(env, patterns, step_rows, t_env=None, *, restorable: bool = False):
    """CEP: one MATCH_RECOGNIZE per pattern over the step rows only; the findings as OCSF JSON,
    each pattern's suppressed by group (findings.suppression).
    When restorable each pattern's SQL operators get the uids `cep-<pattern id>-<n>-<kind>`
    (uids.table_uids), so a savepoint's partial matches map onto a job whose other patterns,
    sources or sinks changed."""
    t_env = t_env or StreamTableEnvironment.create(env)
    t_env.create_temporary_view(STEP_TABLE, _step_table(t_env, step_rows))
    findings = None
    for pattern in patterns:
        if restorable:
            uids.table_uids(t_env, uids.cep_prefix(pattern.id))     # to_data_stream translates the query now
        matches = t_env.to_data_stream(t_env.sql_query(compile_pattern(pattern)))
        formatted = matches.map(FormatFinding(pattern), Types.STRING()).name(f"{pattern.id} findings")
        suppression = pattern.suppress
        formatted = _uid(formatted.key_by(lambda f: group_key(json.loads(f), suppression), Types.STRING())
                         .process(Suppress(pattern), Types.STRING()).name(f"{pattern.id} suppression"),
                         uids.suppress(pattern.id), restorable)
        findings = formatted if findings is None else findings.union(formatted)
    return findings
