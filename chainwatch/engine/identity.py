"""Identity activity -> step rows, as flink.step_operators.IdentityStepsOperator emits them.

Every identity's events in event-time order (ties: by event id, steps.lanes.event_order)
through the same pure IdentitySteps logic, one state dict per key. All keys run in one
event-time order, as timers fire at the end-of-input watermark, so the history horizon (when
none is configured) is the earliest event so far, as in the operator with parallelism 1.
"""
from __future__ import annotations

import copy

from chainwatch.steps.identity_steps import identity_key
from chainwatch.steps.known_identities import load_inventory
from chainwatch.steps.lanes import IDENTITY, event_order, lanes
from chainwatch.steps.step_row import FIELDS, history_start, step_row
from chainwatch.steps.variants import StepVariants


def identity_events(events: list[dict], attributed: list[tuple]) -> list[dict]:
    """API and object-access events (a creation routed to both identities) and the attributed
    egress flows, in the order the identity operator processes them."""
    # The job's routing (steps.lanes); each routed copy is its own object, as after Flink's
    # serialisation between operators.
    activity = [(e["ts"], n, copy.deepcopy(routed)) for n, e in enumerate(events)
                for lane, _key, routed in lanes(e) if lane == IDENTITY]
    return [event for _ts, _n, event in sorted(activity + attributed, key=lambda t: (*event_order(t[2]), t[1]))]


def step_rows(config, events: list[dict], patterns=None, created: dict | None = None) -> list[dict]:
    """Rows with the operator's columns (evidence as its JSON text), in emission order. created:
    identities' creation times from the asset inventory (enrich.asset_inventory)."""
    logic = StepVariants(config, patterns, {**(created or {}), **load_inventory(config.novelty.inventory)})
    states: dict[str, dict] = {}
    horizon = config.novelty.history_start_ms
    rows = []
    for event in events:
        key = identity_key(event)
        state = states.get(key) or {}
        horizon = history_start(config.novelty.history_start_ms, horizon, state, event["ts"])
        emitted = logic.process(key, state, event, horizon)
        logic.take_allowlist_uses()       # the job counts them (replay summary); the engine does not
        logic.take_learned_providers()
        states[key] = state
        # in order: no row is late here, each row's order_ts is its own time
        rows += [dict(zip(FIELDS, step_row(row, seq, row["ts"]))) for seq, row in enumerate(emitted)]
    return rows
