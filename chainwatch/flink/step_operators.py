"""Flink operators for the steps: they hold keyed state and call the pure step logic.

Each operator processes a key's events in event-time order: events wait in keyed state until
the watermark passes them (late events, behind the watermark, are processed at once).
"""
from __future__ import annotations

import json
import time

from pyflink.common import Duration, Row, Time, Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, StateTtlConfig

from chainwatch.enrich.asset_inventory import RefreshingAssets
from chainwatch.findings.coverage_finding import to_ocsf as coverage_ocsf
from chainwatch.flink.metrics import Metrics
from chainwatch.steps import step_row
from chainwatch.steps.coverage_watch import CoverageWatch
from chainwatch.steps.first_party import FACTS_KEY
from chainwatch.steps.known_identities import load_inventory
from chainwatch.steps.lanes import (COVERAGE, IDENTITY, IDENTITY_HOP, INSTANCE_HOP, UNATTRIBUTED, batches, by_key,
                                    event_order)
from chainwatch.steps.notices import ALLOWLIST_USE, EGRESS_ATTRIBUTION, FIRST_PARTY_PROVIDER, notice
from chainwatch.steps.peers import PEERS_KEY
from chainwatch.steps.variants import StepVariants
from chainwatch.steps.workload_binding import add_attribution, binding_value, resolve, workload_instance

_FLINK_TYPES = {"STRING": Types.STRING(), "BIGINT": Types.LONG()}
STEP_ROW_TYPE = Types.ROW_NAMED(list(step_row.FIELDS), [_FLINK_TYPES[sql] for _, sql in step_row.COLUMNS])


# How batches (steps.lanes) travel between operators: Row(bucket, batch, lane, time). The bucket
# first and the batch second is PyFlink's own layout of a keyed stream (jvm.keyed_by_bucket), and
# the lane and the time are there for Java (jvm.lane, jvm.with_batch_time): between one Python
# operator and the next keyed one a batch then crosses into Python only once, at its consumer.
BATCH_ROW_TYPE = Types.ROW([Types.INT(), Types.PICKLED_BYTE_ARRAY(), Types.STRING(), Types.LONG()])


def batch_row(batch: tuple) -> Row:
    lane, bucket, _events, time_ms = batch
    return Row(bucket, batch, lane, time_ms)


def state_ttl(ms: int) -> StateTtlConfig:
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
_REPORT_EVERY_S = 5
LATE = OutputTag("late-events", Types.STRING())      # dead letters (kind `late`) of events behind event time
NOTICES = OutputTag("notices", Types.STRING())      # steps.notices: allowlist uses, providers learned, egress


def late_notice(event: dict, watermark: int) -> str:
    """The dead letter of an event that arrived behind event time. It is still processed, at the
    next watermark step and out of order, so it is a notice: a chain that needs it may be
    missed. No field value but the event's id and time."""
    return json.dumps({"kind": "late",
                       "reason": "late: arrived behind the event-time watermark; processed at the next watermark "
                                 "step, out of order: a chain that needs it may be missed (raise time.watermark_delay)",
                       "event_id": event["id"], "event_time_ms": event["ts"], "watermark_ms": watermark,
                       "behind_ms": watermark - event["ts"], "source": event.get("source", ""), "late": True})


class _Unkept:
    """Where a job that never restores (restorable=False) writes its waiting batches: nowhere, as
    the operator's own `mirror` holds them."""

    def items(self):
        return ()

    def put(self, key, value):
        pass

    def remove(self, key):
        pass

    def clear(self):
        pass


class _InMemory(dict):
    """A key state (MapState get and put_all) in Python memory, for a job that never restores:
    one map for all buckets, as each key belongs to one bucket."""
    put_all = dict.update


class EventTimeOrdered(KeyedProcessFunction):
    """Hands each key's events to `on_key_events` in event-time order, in batches.

    Input elements are batches of one lane, (lane, bucket, [events], time) (steps.lanes); Flink
    keys the operator by bucket. A batch waits in keyed state (one MapState entry) until the
    watermark passes its events; a bucket has one event-time timer, at its earliest waiting
    event. When the watermark passes it, the bucket takes every event the watermark has passed,
    in steps.lanes.event_order, hands each key's share to `on_key_events` and re-arms at its
    earliest event still waiting. So an event always leaves before the watermark that passed it
    goes downstream, and the calls into Flink are per batch, per bucket and watermark step and
    per key with due events, not per event: each costs 15-30 us in thread mode (cProfile in the
    operator: bench/README.md), more than the step logic of an event.

    An event already behind the watermark when it arrives (a source that resumed after a quiet
    spell behind the others, a straggler) gets a dead-letter notice (LATE) and waits for the
    next watermark step; the rows it yields take that step's time (`flush_time`) as their place
    in event time, so MATCH_RECOGNIZE does not drop them (steps.step_row.COLUMNS).

    With no watermark before the end of input (replay --hold-all, pattern cases) every bucket
    flushes once at the end, in the order of their earliest event. A replay reads files by
    start time with time.watermark_delay, so a bucket holds only that window (sources.order).
    """
    lane = ""        # the lane the operator consumes: its keys are steps.lanes.LANE_KEYS[lane]
    notify_late = True   # a dead-letter notice per late event (not where another operator gives it)
    restorable = True    # state in Flink, so a checkpoint holds it; else in Python memory (flink.graph.build_pipeline)

    def _map_state(self, runtime_context: RuntimeContext, descriptor: MapStateDescriptor, unkept):
        return runtime_context.get_map_state(descriptor) if self.restorable else unkept

    def open(self, runtime_context: RuntimeContext):
        self.waiting = self._map_state(runtime_context, MapStateDescriptor(
            "waiting", Types.STRING(), Types.PICKLED_BYTE_ARRAY()), _Unkept())
        # bucket -> {entry: events}: what `waiting` holds for the bucket, kept here as it is written,
        # so a flush does not read every waiting batch back out of Flink and unpickle it (CPU of
        # the three operators' flushes at 1M records: 9.4 s -> 3.7 s, bench/README.md). The
        # subtask is the only writer of its buckets' state; a bucket's first use after a
        # (re)start reads what a restore put there.
        self.mirror: dict = {}
        # bucket -> the time of its armed timer: a cache of the timers Flink holds (after a restore
        # it is empty, and a second timer for a bucket is harmless: it finds nothing due).
        self.armed: dict = {}
        self.arrivals = 0
        self.flush_time = None       # the timer time of the flush on_key_events is called from
        self.metrics = Metrics(runtime_context)
        self.metrics.dead_lettered("late", 0)        # the series exists at 0 before the first late event

    def _entry(self, earliest: int) -> str:
        """A waiting batch's map key: its earliest time, then a unique arrival order."""
        self.arrivals += 1
        return f"{earliest}:{time.time_ns():020d}{self.arrivals % 1000:03d}"

    def _waiting(self, bucket) -> dict:
        mirror = self.mirror.get(bucket)
        if mirror is None:
            mirror = self.mirror[bucket] = dict(self.waiting.items())
        return mirror

    def _arm(self, ctx, bucket, at: int) -> None:
        if at < self.armed.get(bucket, _NEVER):
            ctx.timer_service().register_event_time_timer(at)
            self.armed[bucket] = at

    def process_element(self, batch, ctx: KeyedProcessFunction.Context):
        _lane, bucket, events, _time = batch
        watermark = ctx.timer_service().current_watermark()
        late = [e for e in events if e["ts"] <= watermark] if self.notify_late else ()
        for event in late:       # a notice once per event, at the first hop that finds it late
            if not event.get("late"):
                event["late"] = True
                self.metrics.dead_lettered("late")
                yield LATE, late_notice(event, watermark)
        earliest = min(e["ts"] for e in events)
        entry = self._entry(earliest)
        self._waiting(bucket)[entry] = events
        self.waiting.put(entry, events)
        self._arm(ctx, bucket, max(earliest, watermark + 1))

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        bucket = ctx.get_current_key()
        self.armed.pop(bucket, None)
        watermark = ctx.timer_service().current_watermark()
        passed, earliest = [], _NEVER
        waiting = self._waiting(bucket)
        for entry, events in waiting.items():
            at, _, arrival = entry.partition(":")
            if int(at) > watermark:
                earliest = min(earliest, int(at))
            else:
                passed.append((arrival, entry, events))
        due, still_waiting = [], []
        for arrival, entry, events in passed:
            due.extend(e for e in events if e["ts"] <= watermark)
            rest = [e for e in events if e["ts"] > watermark]
            if rest:     # keeps its arrival part: entry names stay unique
                still_waiting.append((f"{min(e['ts'] for e in rest)}:{arrival}", rest))
        if earliest == _NEVER and not still_waiting:
            self.waiting.clear()
            waiting.clear()
        else:
            for _arrival, entry, _events in passed:
                self.waiting.remove(entry)
                del waiting[entry]
            for entry, rest in still_waiting:
                self.waiting.put(entry, rest)
                waiting[entry] = rest
                earliest = min(earliest, int(entry.partition(":")[0]))
            self._arm(ctx, bucket, earliest)
        if due:
            due.sort(key=event_order)
            self.flush_time = timestamp
            changed: dict = {}
            for each_key, events in by_key(self.lane, due).items():
                yield from self.on_key_events(each_key, events, changed)
            if changed:      # one call into Flink for the flush, not one per key
                self.key_state.put_all(changed)

    def on_key_events(self, key: str, events: list, changed: dict):
        """One key's due events, in event order. Its state is read once (self.key_state.get); a
        new value goes into `changed`, which the flush writes for all its keys at once."""
        raise NotImplementedError


class WorkloadResolver(EventTimeOrdered):
    """Binds egress flows to what holds the workload's credentials, one hop per use.

    Used twice: keyed by alias (ENI, private IP) it fills in the instance; keyed by instance
    it fills in the identity (learned from instance-profile role sessions).
    """

    def __init__(self, field: str, config, restorable: bool = True):
        self.field, self.state_ttl_ms, self.key_buckets = field, config.job.state_ttl_ms, config.job.key_buckets
        self.inventory_config, self.org_accounts = config.inventory, set(config.cross_account.org_accounts)
        self.lane = INSTANCE_HOP if field == "instance" else IDENTITY_HOP
        self.restorable = restorable

    def open(self, runtime_context: RuntimeContext):
        super().open(runtime_context)
        descriptor = MapStateDescriptor("bound", Types.STRING(), Types.STRING())    # key -> what it is bound to
        descriptor.enable_time_to_live(state_ttl(self.state_ttl_ms))
        self.key_state = self._map_state(runtime_context, descriptor, _InMemory())
        self.assets = RefreshingAssets(self.inventory_config.files, self.inventory_config.refresh_ms)
        self.inventory = self.assets.get()
        self.egress: dict = {}       # egress bytes per account and attribution not yet reported (second hop)
        self.egress_reported = time.monotonic()
        self.end_timer: set = set()  # buckets with a timer at the end of input (the last report)

    def on_key_events(self, key, events, changed):
        """Resolved flows go on as batches for the next hop: keyed by instance after the first,
        by identity after the second (the unattributed lane for none)."""
        bound = initial = self.key_state.get(key)
        inventory = self.inventory
        resolved = []
        for event in events:
            if event["kind"] == "binding":
                bound = binding_value(self.field, event) or bound
            else:
                resolved.append(resolve(self.field, bound, event, key, inventory))
        if bound != initial:
            changed[key] = bound
        if self.field == "instance":
            routed = ((IDENTITY_HOP, workload_instance(e), e) for e in resolved)
        else:
            for event in resolved:
                add_attribution(self.egress, event)
            routed = ((IDENTITY if e["principal"] else UNATTRIBUTED, e["principal"], e) for e in resolved)
        for batch in batches(routed, self.key_buckets):
            yield batch_row(batch)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        self.inventory = self.assets.get()      # once per flush, not per key (reloaded when changed)
        yield from super().on_timer(timestamp, ctx)
        # The attribution report: a notice every few seconds, not per flush (a replay collects each
        # one), and at the end of input; and the metric.
        ending = ctx.timer_service().current_watermark() >= _NEVER - 1
        if self.egress and not ending and ctx.get_current_key() not in self.end_timer:
            # so that what is still unreported at the end of input is reported then
            self.end_timer.add(ctx.get_current_key())
            ctx.timer_service().register_event_time_timer(_NEVER - 2)
        if self.egress and (ending or time.monotonic() - self.egress_reported >= _REPORT_EVERY_S):
            self.egress_reported = time.monotonic()
            for account, by_attribution in self.egress.items():
                label = account if account.partition(":")[2] in self.org_accounts else "other"
                for attribution, n in by_attribution.items():
                    self.metrics.inc("egress_bytes", n, (label, attribution))
            yield NOTICES, notice(EGRESS_ATTRIBUTION, {"egress_attribution": self.egress})
            self.egress = {}


class IdentityStepsOperator(EventTimeOrdered):
    lane = IDENTITY

    def __init__(self, config, restorable: bool = True, patterns=None):
        self.config, self.restorable, self.patterns = config, restorable, patterns

    def open(self, runtime_context: RuntimeContext):
        super().open(runtime_context)
        descriptor = MapStateDescriptor("identity", Types.STRING(), Types.PICKLED_BYTE_ARRAY())    # identity -> its state
        descriptor.enable_time_to_live(state_ttl(self.config.job.state_ttl_ms))
        self.key_state = self._map_state(runtime_context, descriptor, _InMemory())
        self.identities = load_inventory(self.config.novelty.inventory)      # steps.novelty.inventory (CSV)
        self.assets = RefreshingAssets(self.config.inventory.files, self.config.inventory.refresh_ms)
        self.assets_used = self.assets.get()
        self.logic = StepVariants(self.config, self.patterns, {**self.assets_used.created, **self.identities})
        for entry in self.config.allowlist.entries:     # a series per entry, 0 until it lets a session in
            self.metrics.inc("allowlist_sessions", 0, entry.id)
        # The history horizon (steps.step_row.history_start), kept in operator memory: after a
        # restore only events of brand-new keys before the first known key is touched see a later
        # horizon, which errs quiet: still learning.
        self.history_start = self.config.novelty.history_start_ms
        self.providers_restored: set = set()     # buckets whose learned providers this process has read
        self.peers_written: dict = {}            # bucket -> the peer changes count its snapshot holds

    def on_key_events(self, key, events, changed):
        state = self.key_state.get(key) or {}     # one state read and write per batch, not per event
        for event in events:
            self.history_start = step_row.history_start(self.config.novelty.history_start_ms, self.history_start,
                                                        state, event["ts"])
            rows = self.logic.process(key, state, event, self.history_start)
            for seq, row in enumerate(rows):
                yield Row(*step_row.step_row(row, seq, max(row["ts"], self.flush_time)))
        changed[key] = state

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        current = self.assets.get()
        if current is not self.assets_used:      # the inventory was reloaded
            self.assets_used = current
            self.logic.use_inventory({**self.assets_used.created, **self.identities})
        if self.restorable and ctx.get_current_key() not in self.providers_restored:
            # every bucket holds every learned provider (steps.lanes): after a restore, the
            # first flush of any bucket brings them back
            self.providers_restored.add(ctx.get_current_key())
            self.logic.restore_providers(self.key_state.get(FACTS_KEY))
            self.logic.restore_peers(self.key_state.get(PEERS_KEY))
        yield from super().on_timer(timestamp, ctx)
        changes, bucket = self.logic.peer_changes(), ctx.get_current_key()
        if self.restorable and changes >= self.peers_written.get(bucket, 0) + 100:
            # the learned peer baselines into this bucket's state, now and then (not every flush)
            self.peers_written[bucket] = changes
            self.key_state.put(PEERS_KEY, self.logic.peer_snapshot())
        for use in self.logic.take_allowlist_uses():      # the flush's sessions an allowlist entry let in
            self.metrics.inc("allowlist_sessions", 1, use["allowlist_use"])
            yield NOTICES, notice(ALLOWLIST_USE, use)
        for learned in self.logic.take_learned_providers():
            yield NOTICES, notice(FIRST_PARTY_PROVIDER, learned)


class CoverageOperator(EventTimeOrdered):
    """Coverage findings (coverage.CoverageWatch) per account, as OCSF JSON: evidence streams
    turned off, silent while the audit stream flows, and back. Its late events are the identity
    steps' too, which give their notices."""
    lane = COVERAGE
    notify_late = False

    def __init__(self, config, restorable: bool = True):
        self.silence_ms, self.state_ttl_ms, self.restorable = \
            config.coverage.silence_ms, config.job.state_ttl_ms, restorable

    def open(self, runtime_context: RuntimeContext):
        super().open(runtime_context)
        descriptor = MapStateDescriptor("coverage", Types.STRING(), Types.PICKLED_BYTE_ARRAY())    # account -> state
        descriptor.enable_time_to_live(state_ttl(self.state_ttl_ms))
        self.key_state = self._map_state(runtime_context, descriptor, _InMemory())
        self.watch = CoverageWatch(self.silence_ms)
        for kind in ("change", "gap", "gap_end"):       # each series exists at 0 from the start
            self.metrics.inc("coverage_findings", 0, kind)

    def on_key_events(self, key, events, changed):
        state = self.key_state.get(key) or {}
        for event in events:
            for found in self.watch.process(state, event):
                self.metrics.inc("coverage_findings", 1, found["kind"])
                yield json.dumps(coverage_ocsf(found), separators=(",", ":"))
        changed[key] = state
