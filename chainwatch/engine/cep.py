"""What patterns.compiler's MATCH_RECOGNIZE produces, over step rows in plain Python.

The query, per pattern: rows of the pattern's steps with a non-empty key, PARTITION BY key,
ORDER BY rt, seq (ties: arrival order), PATTERN (S1 F1*? S2 ... Sn) WITHIN w, ONE ROW PER
MATCH, AFTER MATCH SKIP PAST LAST ROW. The F variables are undefined, so they take any row.
Flink's CEP NFA keeps every branch, so at each row that can be Sn:
  - a match completes if some S1 row after the previous match, less than w before this row
    (a branch is timed out once a row is w or more after its start), is followed by rows for
    S2 .. Sn-1 in order before this one;
  - of the branches completing at once, the one with the earliest S1 row is emitted, and the
    middle steps are the latest rows that fit (Sn-1 the last before Sn, Sn-2 the last before
    that, ...): what Flink 2.0's NFA emits, checked row by row against the real operator on
    random partitions (tests/integration/test_engine_parity.py);
  - SKIP PAST LAST ROW drops every other branch that started at or before this row, so the
    next match starts after it.
"""
from __future__ import annotations

from chainwatch.steps.variants import step_column

from bisect import bisect_right


def _latest_middle(rows: list[dict], steps: list[str], end: int) -> list[int] | None:
    """Indexes of the latest rows for steps[1:-1], in order, all before `end`."""
    picked, i = [], end - 1
    for step in reversed(steps[1:-1]):
        while i >= 0 and rows[i]["step"] != step:
            i -= 1
        if i < 0:
            return None
        picked.append(i)
        i -= 1
    return picked[::-1]


def _partition_matches(rows: list[dict], steps: list[str], window_ms: int) -> list[list[dict]]:
    chains, after = [], 0            # rows before `after` belong to an emitted match
    times = [row["ts"] for row in rows]
    for end, row in enumerate(rows):
        if row["step"] != steps[-1]:
            continue
        middle = _latest_middle(rows, steps, end)
        if middle is None:
            continue
        first_possible = max(after, bisect_right(times, row["ts"] - window_ms))  # ts > end ts - window
        limit = middle[0] if middle else end
        start = next((i for i in range(first_possible, limit) if rows[i]["step"] == steps[0]), None)
        if start is None:
            continue
        chains.append([rows[i] for i in [start, *middle, end]])
        after = end + 1
    return chains


def pattern_matches(pattern, rows: list[dict]) -> list[dict]:
    """The query's output rows as dicts (what Row.as_dict() gives FormatFinding), partition by partition."""
    steps = [step_column(s.step, pattern.variant) for s in pattern.steps]     # the rows its query reads
    wanted = set(steps)
    partitions: dict[str, list[dict]] = {}
    for row in rows:
        if row["step"] in wanted and row[pattern.key]:
            partitions.setdefault(row[pattern.key], []).append(row)
    matches = []
    for key, partition in partitions.items():
        partition.sort(key=lambda r: (r["ts"], r["seq"]))   # stable: ties keep arrival order
        for chain in _partition_matches(partition, steps, pattern.window_ms):
            match = {"analytic": pattern.id, "match_key": key, "account": chain[0]["account"],
                     "region": chain[0]["region"], "cloud": chain[0]["cloud"]}
            for n, row in enumerate(chain, start=1):
                match[f"s{n}_ts"], match[f"s{n}_evidence"] = row["ts"], row["evidence"]
            matches.append(match)
    return matches
