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
from pyflink.datastream.state import ListStateDescriptor, MapStateDescriptor, StateTtlConfig, ValueStateDescriptor

from chainwatch.steps.identity import IdentitySteps
from chainwatch.steps.lanes import IDENTITY, IDENTITY_HOP, batches
from chainwatch.steps.inventory import load_inventory
from chainwatch.steps.workload import binding_value, resolve, workload_instance

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


_NEVER = 2**63


class EventTimeOrdered(KeyedProcessFunction):
    """Hands each key's events to `on_events` in event-time order, in batches.

    Input elements are batches, (lane, key, [events]) (steps.lanes). Events wait in keyed state
    until the watermark passes them; a subclass gets every event the watermark has passed as one
    sorted batch and reads and writes its own state once per batch. Ties keep arrival order.

    Each call into Flink's state or timer service costs 15-30 us in thread mode (cProfile in the
    operator: bench/README.md), more than the step logic of an event. How events wait depends on
    the watermarks (`live`):
    - end of input only (replay): a batch is one append to a ListState, and a key has one timer,
      at its earliest event (`armed`, operator memory: a cache of the timer Flink holds; Flink
      de-duplicates a second registration). At the end of input each key flushes once, keys in
      the order of their earliest event, so a replay processes keys oldest first whatever order
      its files are read in (the history horizon, when none is configured, is the earliest
      event processed so far).
    - live watermarks (run, the cluster, replay --streaming-watermarks): a MapState entry and a
      timer per event time: an event must go out before the watermark that passes it goes
      downstream, or the next keyed operator and MATCH_RECOGNIZE see it late and drop it. A
      coarser flush (a timer per slot of a quarter of the watermark delay) was faster and lost a
      finding across a savepoint restart (tests/integration/test_kafka_job.py).
    """

    def __init__(self, live: bool):
        self.live = live

    def open(self, runtime_context: RuntimeContext):
        if self.live:
            self.waiting = runtime_context.get_map_state(
                MapStateDescriptor("pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY()))
        else:
            self.pending = runtime_context.get_list_state(ListStateDescriptor("pending", Types.PICKLED_BYTE_ARRAY()))
        self.armed: dict = {}      # key -> its armed flush timer (end of input only)

    def process_element(self, batch, ctx: KeyedProcessFunction.Context):
        _lane, key, events = batch
        if not self.live:
            self.pending.add(events)
            earliest = min(event["ts"] for event in events)
            if earliest < self.armed.get(key, _NEVER):
                ctx.timer_service().register_event_time_timer(earliest)
                self.armed[key] = earliest
            return
        watermark = ctx.timer_service().current_watermark()
        by_time: dict[int, list] = {}
        late = []
        for event in events:
            if event["ts"] > watermark:
                by_time.setdefault(event["ts"], []).append(event)
            else:
                late.append(event)
        for ts, arrived in by_time.items():
            waiting = self.waiting.get(ts)
            if waiting is None:
                waiting = []
                ctx.timer_service().register_event_time_timer(ts)
            self.waiting.put(ts, waiting + arrived)
        if late:    # behind the watermark (their time's timer has fired): at once
            late.sort(key=lambda e: e["ts"])
            yield from self.on_events(late, key)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        key = ctx.get_current_key()
        if self.live:
            due = self.waiting.get(timestamp) or []
            self.waiting.remove(timestamp)
        else:
            self.armed.pop(key, None)
            waiting = [event for events in self.pending.get() or () for event in events]
            watermark = ctx.timer_service().current_watermark()       # the end of input: all due
            due = sorted((e for e in waiting if e["ts"] <= watermark), key=lambda e: e["ts"])
            later = [e for e in waiting if e["ts"] > watermark]
            if later:          # only if watermarks came before the end after all
                self.pending.update([later])
                self.armed[key] = min(e["ts"] for e in later)
                ctx.timer_service().register_event_time_timer(self.armed[key])
            else:
                self.pending.clear()
        if due:
            yield from self.on_events(due, key)

    def on_events(self, events: list, key):
        raise NotImplementedError


class WorkloadResolver(EventTimeOrdered):
    """Binds egress flows to what holds the workload's credentials, one hop per use.

    Used twice: keyed by alias (ENI, private IP) it fills in the instance; keyed by instance
    it fills in the identity (learned from instance-profile role sessions).
    """

    def __init__(self, field: str, state_ttl_ms: int, live: bool):
        super().__init__(live)
        self.field, self.state_ttl_ms = field, state_ttl_ms

    def open(self, runtime_context: RuntimeContext):
        super().open(runtime_context)
        descriptor = ValueStateDescriptor("bound", Types.STRING())
        descriptor.enable_time_to_live(_ttl(self.state_ttl_ms))
        self.bound = runtime_context.get_state(descriptor)

    def on_events(self, events, key):
        """Resolved flows go on as batches for the next hop: keyed by instance after the first,
        by identity after the second ("" for none: the unattributed egress)."""
        bound = initial = self.bound.value()
        resolved = []
        for event in events:
            if event["kind"] == "binding":
                bound = binding_value(self.field, event) or bound
            else:
                resolved.append(resolve(self.field, bound, event))
        if bound != initial:
            self.bound.update(bound)
        if self.field == "instance":
            yield from batches((IDENTITY_HOP, workload_instance(e), e) for e in resolved)
        else:
            yield from batches((IDENTITY, e["principal"], e) for e in resolved)


class IdentityStepsOperator(EventTimeOrdered):
    def __init__(self, config, live: bool):
        super().__init__(live)
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
