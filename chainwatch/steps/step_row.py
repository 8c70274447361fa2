"""The step row: what the identity steps emit and MATCH_RECOGNIZE reads, defined once.

Both hosts derive from here: the Flink job its row type and the step table's schema
(flink.step_operators, flink.graph), the plain-Python engine its rows (engine.identity).
"""
from __future__ import annotations

import json

from chainwatch.steps.variants import step_column

# (column, SQL type). `order_ts`: the row's place in event time for MATCH_RECOGNIZE (its rowtime).
# Its own time, unless its event arrived behind the watermark: then the time of the flush that
# handled it, so the row is not behind MATCH_RECOGNIZE's watermark (which drops such rows silently).
COLUMNS = (("principal", "STRING"), ("session", "STRING"), ("step", "STRING"), ("ts", "BIGINT"), ("seq", "BIGINT"),
           ("account", "STRING"), ("region", "STRING"), ("cloud", "STRING"), ("evidence", "STRING"),
           ("order_ts", "BIGINT"))
FIELDS = tuple(name for name, _ in COLUMNS)


def step_row(row: dict, seq: int, order_ts: int) -> tuple:
    """A step's values in FIELDS order: `seq` its place among its event's steps, the evidence the
    step's whole dict as JSON."""
    return (row["principal"], row["session"], step_column(row["step"], row.get("variant", "")), row["ts"], seq,
            row["account"], row["region"], row["cloud"], json.dumps(row, default=str, separators=(",", ":")), order_ts)


def history_start(configured: int | None, horizon: int | None, state: dict, ts: int) -> int:
    """The history horizon once an event at `ts` is seen: `steps.novelty.history_start` when
    configured, else the earliest event so far. Copied into the key's state, so after a restore
    the first key touched brings it back."""
    if configured is not None:
        return configured
    horizon = min(t for t in (horizon, state.get("history_start"), ts) if t is not None)
    state["history_start"] = horizon
    return horizon
