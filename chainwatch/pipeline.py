"""build_pipeline: sources -> parse -> enrich and steps -> CEP -> findings. One function serves
replay, run and the cluster; only the source and the sinks around it differ."""
from __future__ import annotations

import json

from pyflink.common import Duration, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import MapFunction, StreamExecutionEnvironment
from pyflink.table import DataTypes, Schema, StreamTableEnvironment

from chainwatch.findings.model import build_finding
from chainwatch.findings.ocsf import to_ocsf
from chainwatch.patterns.compiler import STEP_TABLE, compile_pattern
from chainwatch.steps.identity import identity_key, route_to_identities
from chainwatch.steps.operators import STEP_ROW_TYPE, IdentityStepsOperator, WorkloadResolver


class EventTime(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value["ts"]


def watermark_strategy(config, end_of_input_only: bool) -> WatermarkStrategy:
    """Replay waits for the end of input (order-free); streaming allows `watermark_delay`."""
    if end_of_input_only:
        strategy = WatermarkStrategy.no_watermarks()
    else:
        strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(config.time.watermark_delay_ms))
                    .with_idleness(Duration.of_millis(config.time.idle_timeout_ms)))
    return strategy.with_timestamp_assigner(EventTime())


def workload_alias(event: dict) -> str:
    """Stage-one key of an egress flow or alias binding: the instance if known, else ENI or private IP."""
    if event["kind"] == "binding":
        return event["binding"]["alias"]
    flow = event["flow"]
    if flow["instance"]:
        return f"instance:{flow['instance']}"
    if flow["eni"]:
        return f"eni:{flow['eni']}"
    return f"ip:{event['account']}:{flow['src']}"


def workload_instance(event: dict) -> str:
    return event["binding"]["instance"] if event["kind"] == "binding" else event["flow"]["instance"]


class FormatFinding(MapFunction):
    def __init__(self, pattern):
        self.pattern = pattern

    def map(self, row):
        return json.dumps(to_ocsf(build_finding(self.pattern, row.as_dict())), separators=(",", ":"))


def _step_table(t_env: StreamTableEnvironment, step_rows):
    schema = (Schema.new_builder()
              .column("principal", DataTypes.STRING()).column("session", DataTypes.STRING())
              .column("step", DataTypes.STRING()).column("ts", DataTypes.BIGINT())
              .column("seq", DataTypes.BIGINT()).column("account", DataTypes.STRING())
              .column("region", DataTypes.STRING()).column("cloud", DataTypes.STRING())
              .column("evidence", DataTypes.STRING())
              .column_by_expression("rt", "TO_TIMESTAMP_LTZ(ts, 3)")
              .watermark("rt", "SOURCE_WATERMARK()").build())
    return t_env.from_data_stream(step_rows, schema)


def build_pipeline(env: StreamExecutionEnvironment, config, patterns, events, t_env=None):
    """events: normalised events with timestamps and watermarks. Returns (findings, unattributed)."""
    # Enrich and steps: egress flows are bound to an identity through the workload that holds
    # its credentials (alias -> instance -> identity), then join the identity's own activity.
    egress_flows = events.filter(lambda e: e["kind"] == "flow" and e.get("egress")).name("egress flows")
    bindings = events.filter(lambda e: e["kind"] == "binding").name("workload bindings")
    # API and object-access events, a creation routed to both identities: one operator, not two.
    activity = events.flat_map(route_to_identities).name("identity activity")
    with_instance = (egress_flows.union(bindings.filter(lambda e: "alias" in e["binding"]))
                     .key_by(workload_alias, key_type=Types.STRING())
                     .process(WorkloadResolver("instance", config.job.state_ttl_ms)).name("resolve ENI/IP -> instance"))
    attributed = (with_instance.union(bindings.filter(lambda e: "principal" in e["binding"]))
                  .key_by(workload_instance, key_type=Types.STRING())
                  .process(WorkloadResolver("principal", config.job.state_ttl_ms)).name("resolve instance -> identity"))
    step_rows = (activity.union(attributed.filter(lambda e: bool(e["principal"])))
                 .key_by(identity_key, key_type=Types.STRING())
                 .process(IdentityStepsOperator(config), output_type=STEP_ROW_TYPE).name("identity steps"))
    unattributed = attributed.filter(lambda e: not e["principal"]).map(
        lambda e: json.dumps({"unattributed_egress": e["id"], "bytes": e["flow"]["bytes"]}), Types.STRING())

    # CEP: one MATCH_RECOGNIZE per pattern over the step rows only.
    t_env = t_env or StreamTableEnvironment.create(env)
    t_env.create_temporary_view(STEP_TABLE, _step_table(t_env, step_rows))
    findings = None
    for pattern in patterns:
        matches = t_env.to_data_stream(t_env.sql_query(compile_pattern(pattern)))
        formatted = matches.map(FormatFinding(pattern), Types.STRING()).name(f"{pattern.id} findings")
        findings = formatted if findings is None else findings.union(formatted)
    return findings, unattributed
