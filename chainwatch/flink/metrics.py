"""chainwatch's Flink metrics: what the job read, normalised, dead-lettered and found, and what
its sinks could not deliver. Registered through PyFlink's metric groups in the Python operators,
so Flink's reporters export them (the local cluster: Prometheus, README "Metrics").

Naming scheme. Every metric is a counter in the operator's group `chainwatch`; a label is a
Flink key/value group, which the Prometheus reporter turns into a label whose key is also part
of the name. With Flink's default scope formats a counter `records_read` of the parse operator
is exported as

    flink_taskmanager_job_task_operator_chainwatch_records_read{job_name=..., operator_name=..., subtask_index=...}

and one with a label as

    flink_taskmanager_job_task_operator_chainwatch_reason_dead_lettered{reason="event_time", ...}

(REST API / web UI: `chainwatch.records_read`, `chainwatch.reason.event_time.dead_lettered`). So
the counters are `chainwatch_records_read`, `chainwatch_records_normalised`, `chainwatch_events`,
`chainwatch_reason_dead_lettered{reason}`, `chainwatch_analytic_findings{analytic}`,
`chainwatch_sink_delivered{sink}` and `chainwatch_sink_delivery_failed{sink}`.

Label values come from fixed vocabularies (a dead-letter kind, a pattern id, a sink name from the
config), never from a record: a value can be a secret, and every distinct value is a time
series. To add a counter, add it to COUNTERS (name -> its label key, or None); a new kind of
dead letter goes in core.dead_letters.KINDS. Then `Metrics(runtime_context).inc(name, n, label)`,
or `.dead_lettered(kind, n)`.
"""
from __future__ import annotations

from chainwatch.core.dead_letters import KINDS

GROUP = "chainwatch"

# name -> label key (None: no label)
COUNTERS = {
    "records_read": None,          # raw records the job read (a line, a JSON value, a document)
    "records_normalised": None,    # of those, records that became events
    "events": None,                # events they gave (a CloudTrail document gives many)
    "dead_lettered": "reason",     # records sent to the dead-letter output, by kind (REASONS)
    "findings": "analytic",        # findings made, by pattern id
    "allowlist_sessions": "entry",  # sessions an allowlist entry let in, by entry id (0: unused)
    "coverage_findings": "kind",   # coverage findings (steps.coverage_watch): change, gap, gap_end
    # egress bytes by account (an org account, else "other") and attribution (steps.workload_binding)
    "egress_bytes": ("account", "attribution"),
    "delivered": "sink",           # findings a HEC sink delivered, by sink name
    "delivery_failed": "sink",     # findings a sink could not deliver (sent to the dead-letter output)
}

# Dead-letter reasons by kind: a short fixed vocabulary (core.dead_letters.KINDS), so a reason's text
# (which names fields and problems, and can change) never becomes a label.
REASONS = tuple(KINDS)


class Metrics:
    """The counters of one operator instance; create it in `open(runtime_context)`.

    Counters are registered on first use and kept; `inc` with n=0 registers without counting, so
    a dashboard shows a series at 0 before the first event."""

    def __init__(self, runtime_context):
        self._group = runtime_context.get_metrics_group().add_group(GROUP)
        self._counters: dict = {}

    def counter(self, name: str, label: str | None = None):
        key = (name, label)
        found = self._counters.get(key)
        if found is None:
            label_key = COUNTERS[name]           # KeyError: add the counter to COUNTERS first
            if (label_key is None) != (label is None):
                raise ValueError(f"counter {name}: label {label_key!r} " + ("needs a value" if label is None
                                                                           else "takes none"))
            group = self._group
            if label is not None:        # one label, or a tuple of them for a tuple of keys
                keys, values = (label_key, label) if isinstance(label_key, tuple) else ((label_key,), (label,))
                for key_name, value in zip(keys, values):
                    group = group.add_group(key_name, value)
            found = self._counters[key] = group.counter(name)
        return found

    def inc(self, name: str, n: int = 1, label: str | None = None) -> None:
        counter = self.counter(name, label)
        if n:
            counter.inc(n)

    def dead_lettered(self, reason: str, n: int = 1) -> None:
        """reason: a dead letter's kind (REASONS)."""
        if reason not in REASONS:
            raise ValueError(f"dead-letter kind {reason!r} is not one of core.dead_letters.KINDS")
        self.inc("dead_lettered", n, reason)

    def records(self, read: int, normalised: int, events: int, dead: dict) -> None:
        """What a parse operator did with a batch of records; dead: reason class -> count."""
        if read:
            self.counter("records_read").inc(read)
        if normalised:
            self.counter("records_normalised").inc(normalised)
        if events:
            self.counter("events").inc(events)
        for reason, n in dead.items():
            self.dead_lettered(reason, n)

    def register_records(self) -> None:
        """Every counter of a parse operator at 0, each reason class included."""
        for name in ("records_read", "records_normalised", "events"):
            self.counter(name)
        for reason in REASONS:
            self.counter("dead_lettered", reason)
