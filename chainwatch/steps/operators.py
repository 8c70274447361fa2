"""Flink operators for the steps: they hold keyed state and call the pure step logic.

Each operator processes a key's events in event-time order: events wait in keyed state until
the watermark passes them (late events, behind the watermark, are processed at once). With
no watermark until end of input (replay), every key is processed fully sorted, so a replay
gives the same findings whatever order its files are read in.
"""
from __future__ import annotations

import json

from pyflink.common import Duration, Row, Time, Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, StateTtlConfig, ValueStateDescriptor

from chainwatch.model import principal_type_of
from chainwatch.steps.identity import IdentitySteps
from chainwatch.steps.inventory import load_inventory

STEP_ROW_FIELDS = ["principal", "session", "step", "ts", "seq", "account", "region", "cloud", "evidence"]
STEP_ROW_TYPE = Types.ROW_NAMED(STEP_ROW_FIELDS, [Types.STRING(), Types.STRING(), Types.STRING(), Types.LONG(),
                                                  Types.LONG(), Types.STRING(), Types.STRING(), Types.STRING(),
                                                  Types.STRING()])


def _ttl(ms: int) -> StateTtlConfig:
    # PyFlink's default background cleanup builds a RocksDB compaction-filter strategy with
    # Duration.of_days(30), a py4j call, whenever it is asked for its strategies. Python embedded
    # in a TaskManager (thread mode) has no py4j gateway: on a cluster the call fails, on the
    # mini-cluster it starts a new JVM per operator. So the defaults are switched off and the
    # same two strategies named explicitly; the duration is a placeholder, as PyFlink sends only
    # the entry count to Java (which then uses its own 30-day default).
    return (StateTtlConfig.new_builder(Time.milliseconds(ms))
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
            .disable_cleanup_in_background()
            .cleanup_incrementally(5, False)
            .cleanup_in_rocksdb_compact_filter(1000, Duration(None)).build())


class EventTimeOrdered(KeyedProcessFunction):
    def open(self, runtime_context: RuntimeContext):
        self.pending = runtime_context.get_map_state(
            MapStateDescriptor("pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, event, ctx: KeyedProcessFunction.Context):
        ts = event["ts"]
        if ts <= ctx.timer_service().current_watermark():
            yield from self.on_event(event, ctx.get_current_key())
            return
        waiting = self.pending.get(ts)
        if waiting is None:
            waiting = []
            ctx.timer_service().register_event_time_timer(ts)
        waiting.append(event)
        self.pending.put(ts, waiting)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        waiting = self.pending.get(timestamp) or []
        self.pending.remove(timestamp)
        key = ctx.get_current_key()
        for event in waiting:
            yield from self.on_event(event, key)

    def on_event(self, event, key):
        raise NotImplementedError


class WorkloadResolver(EventTimeOrdered):
    """Binds egress flows to what holds the workload's credentials, one hop per use.

    Used twice: keyed by alias (ENI, private IP) it fills in the instance; keyed by instance
    it fills in the identity (learned from instance-profile role sessions).
    """

    def __init__(self, field: str, state_ttl_ms: int):
        self.field, self.state_ttl_ms = field, state_ttl_ms

    def open(self, runtime_context: RuntimeContext):
        super().open(runtime_context)
        descriptor = ValueStateDescriptor("bound", Types.STRING())
        descriptor.enable_time_to_live(_ttl(self.state_ttl_ms))
        self.bound = runtime_context.get_state(descriptor)

    def on_event(self, event, key):
        if event["kind"] == "binding":
            value = event["binding"].get(self.field)
            if value:
                # The principal's type travels with it: keys of some clouds do not imply it.
                self.bound.update(f"{event['binding'].get('principal_type', '')}\t{value}"
                                  if self.field == "principal" else value)
            return
        if self.field == "instance":
            if not event["flow"]["instance"]:
                event["flow"]["instance"] = self.bound.value() or ""
        else:
            kind, _, principal = (self.bound.value() or "\t").partition("\t")
            event["principal"] = principal
            event["principal_type"] = kind or principal_type_of(principal)
        yield event


class IdentityStepsOperator(EventTimeOrdered):
    def __init__(self, config):
        self.config = config

    def open(self, runtime_context: RuntimeContext):
        super().open(runtime_context)
        descriptor = ValueStateDescriptor("identity", Types.PICKLED_BYTE_ARRAY())
        descriptor.enable_time_to_live(_ttl(self.config.job.state_ttl_ms))
        self.state = runtime_context.get_state(descriptor)
        self.logic = IdentitySteps(self.config, load_inventory(self.config.novelty.inventory))
        # The history horizon when none is configured: the earliest event the job saw. Kept in
        # operator memory and copied into every key's state, so that after a restore the first
        # key touched brings it back (only events of brand-new keys before that see a later
        # horizon, which errs quiet: still learning).
        self.history_start = self.config.novelty.history_start_ms

    def on_event(self, event, key):
        state = self.state.value() or {}
        if self.config.novelty.history_start_ms is None:
            known = [t for t in (self.history_start, state.get("history_start"), event["ts"]) if t is not None]
            self.history_start = min(known)
            state["history_start"] = self.history_start
        rows = self.logic.process(key, state, event, self.history_start)
        self.state.update(state)
        for seq, row in enumerate(rows):
            yield Row(row["principal"], row["session"], row["step"], row["ts"], seq, row["account"],
                      row["region"], row["cloud"], json.dumps(row, default=str, separators=(",", ":")))
