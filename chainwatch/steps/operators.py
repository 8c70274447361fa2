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
from pyflink.datastream.state import ListStateDescriptor, StateTtlConfig, ValueStateDescriptor

from chainwatch.steps.identity import IdentitySteps, identity_key
from chainwatch.steps.inventory import load_inventory
from chainwatch.steps.workload import binding_value, resolve, workload_alias, workload_instance

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
    """Hands each key's events to `on_events` in event-time order, in batches.

    An event waits in a ListState (an append: nothing is read back per event) until the
    watermark passes it. Timers are per key and flush slot (`flush_ms`), not per event: when one
    fires, every waiting event the watermark has passed goes out as one sorted batch, so a
    subclass reads and writes its own state once per batch instead of once per event. A replay
    (no watermark until the end of input) flushes each key once. Ties keep arrival order (the
    sort is stable).

    Each call into Flink's state or timer service costs 15-30 us in thread mode (measured with
    cProfile in the operator: bench/README.md), more than the step logic of an event, so the
    per-event path makes one: the append. The watermark is not asked for: an event the
    watermark has already passed (late) waits like any other and goes out, in order, at the
    next watermark. A timer is registered only for a slot later than the key's latest armed one
    (`armed`, operator memory: a cache of what Flink's timer service holds, rebuilt after a
    restore by registering again, which Flink de-duplicates); an event of an earlier slot goes
    out with the armed timer, at most one slot later.
    """

    def __init__(self, flush_ms: int, key_of):
        # key_of: the key_by function; the key computed from the event costs far less than
        # asking Flink for it (ctx.get_current_key: ~11 us a call in thread mode).
        self.flush_ms, self.key_of = max(1, flush_ms), key_of

    def open(self, runtime_context: RuntimeContext):
        self.pending = runtime_context.get_list_state(ListStateDescriptor("pending", Types.PICKLED_BYTE_ARRAY()))
        self.armed: dict = {}      # key -> the latest flush timer registered and not yet fired

    def process_element(self, event, ctx: KeyedProcessFunction.Context):
        self.pending.add(event)
        ts, key = event["ts"], self.key_of(event)
        slot_end = ts - ts % self.flush_ms + self.flush_ms - 1
        if slot_end > self.armed.get(key, -1):
            ctx.timer_service().register_event_time_timer(slot_end)
            self.armed[key] = slot_end
        return ()

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        key = ctx.get_current_key()
        if self.armed.get(key, -1) <= timestamp:
            self.armed.pop(key, None)
        due = self._due(ctx.timer_service().current_watermark())
        if due:
            yield from self.on_events(due, key)

    def _due(self, watermark: int) -> list:
        """Waiting events at or behind the watermark, sorted; the rest keep waiting."""
        waiting = list(self.pending.get() or ())
        if not waiting:
            return []
        due = [e for e in waiting if e["ts"] <= watermark]
        if len(due) < len(waiting):
            self.pending.update([e for e in waiting if e["ts"] > watermark])
        else:
            self.pending.clear()
        due.sort(key=lambda e: e["ts"])
        return due

    def on_events(self, events: list, key):
        raise NotImplementedError


def flush_interval_ms(config) -> int:
    """How often a key's waiting events are flushed as the watermark passes them. Findings wait for
    the watermark (time.watermark_delay) anyway; a quarter of it more bounds how often a busy
    key's buffer is read back (about 5 times per event) while adding little to the delay."""
    return max(1_000, config.time.watermark_delay_ms // 4)


class WorkloadResolver(EventTimeOrdered):
    """Binds egress flows to what holds the workload's credentials, one hop per use.

    Used twice: keyed by alias (ENI, private IP) it fills in the instance; keyed by instance
    it fills in the identity (learned from instance-profile role sessions).
    """

    def __init__(self, field: str, state_ttl_ms: int, flush_ms: int):
        super().__init__(flush_ms, workload_alias if field == "instance" else workload_instance)
        self.field, self.state_ttl_ms = field, state_ttl_ms

    def open(self, runtime_context: RuntimeContext):
        super().open(runtime_context)
        descriptor = ValueStateDescriptor("bound", Types.STRING())
        descriptor.enable_time_to_live(_ttl(self.state_ttl_ms))
        self.bound = runtime_context.get_state(descriptor)

    def on_events(self, events, key):
        bound = initial = self.bound.value()
        for event in events:
            if event["kind"] == "binding":
                bound = binding_value(self.field, event) or bound
            else:
                yield resolve(self.field, bound, event)
        if bound != initial:
            self.bound.update(bound)


class IdentityStepsOperator(EventTimeOrdered):
    def __init__(self, config):
        super().__init__(flush_interval_ms(config), identity_key)
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

    def on_events(self, events, key):
        state = self.state.value() or {}     # one state read and write per batch, not per event
        for event in events:
            if self.config.novelty.history_start_ms is None:
                known = [t for t in (self.history_start, state.get("history_start"), event["ts"]) if t is not None]
                self.history_start = min(known)
                state["history_start"] = self.history_start
            rows = self.logic.process(key, state, event, self.history_start)
            for seq, row in enumerate(rows):
                yield Row(row["principal"], row["session"], row["step"], row["ts"], seq, row["account"],
                          row["region"], row["cloud"], json.dumps(row, default=str, separators=(",", ":")))
        self.state.update(state)
