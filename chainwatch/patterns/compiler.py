"""Pattern -> MATCH_RECOGNIZE. One small function per clause.

Flink's CEP has no "followed by" operator: a reluctant filler (F1*?) between steps gives
relaxed contiguity, and every variable must be unique. Each query reads only its own steps
(the WHERE in the subquery), so the CEP operator never sees unrelated rows.

Rows are ordered by `rt` (the step row's `order_ts`: its event time, or for an event that arrived
behind the watermark the time it was handled: flink.step_operators), then event time and seq. So
MATCH_RECOGNIZE, which silently drops rows behind its watermark, never gets one; after a quiet
spell a source that resumes behind the others used to lose whole findings that way. The
chain's own event times are checked in DEFINE: each step at or after the one before it, the
last within the window of the first (WITHIN, on rt, says the same for rows in time; a late
row's rt is after its event time, so a chain it completes must also fit the window in rt).
"""
from __future__ import annotations

from chainwatch.patterns.pattern import Pattern
from chainwatch.steps.variants import step_column

STEP_TABLE = "steps"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _interval(ms: int) -> str:
    for unit, size in (("DAY", 86_400_000), ("HOUR", 3_600_000), ("MINUTE", 60_000), ("SECOND", 1000)):
        if ms % size == 0:
            return f"INTERVAL '{ms // size}' {unit}"
    return f"INTERVAL '{ms / 1000:.3f}' SECOND(3)"


def _variables(pattern: Pattern) -> list[str]:
    return [f"S{i}" for i in range(1, len(pattern.steps) + 1)]


def _source(pattern: Pattern) -> str:
    steps = ", ".join(sorted({_quote(step_column(s.step, pattern.variant)) for s in pattern.steps}))
    return f"(SELECT * FROM {STEP_TABLE} WHERE step IN ({steps}) AND {pattern.key} <> '')"


def _measures(pattern: Pattern) -> str:
    lines = [f"FIRST(S1.account) AS account", f"FIRST(S1.region) AS region", f"FIRST(S1.cloud) AS cloud"]
    for var in _variables(pattern):
        lines += [f"FIRST({var}.ts) AS {var.lower()}_ts", f"FIRST({var}.evidence) AS {var.lower()}_evidence"]
    return ",\n    ".join(lines)


def _pattern_clause(pattern: Pattern) -> str:
    variables = _variables(pattern)
    parts = [variables[0]]
    for n, var in enumerate(variables[1:], start=1):
        parts += [f"F{n}*?", var]
    return f"PATTERN ({' '.join(parts)}) WITHIN {_interval(pattern.window_ms)}"


def _define(pattern: Pattern) -> str:
    variables = _variables(pattern)
    clauses = []
    for n, (var, step) in enumerate(zip(variables, pattern.steps)):
        clause = f"{var} AS {var}.step = {_quote(step_column(step.step, pattern.variant))}"
        if n:     # in event time: not before the previous step, within the window of the first
            clause += (f" AND {var}.ts >= {variables[n - 1]}.ts"
                       f" AND {var}.ts - {variables[0]}.ts < {pattern.window_ms}")
        clauses.append(clause)
    return ",\n    ".join(clauses)


def compile_pattern(pattern: Pattern) -> str:
    return f"""SELECT {_quote(pattern.id)} AS analytic, {pattern.key} AS match_key, account, region, cloud,
  {', '.join(f'{v.lower()}_ts, {v.lower()}_evidence' for v in _variables(pattern))}
FROM {_source(pattern)}
MATCH_RECOGNIZE (
  PARTITION BY {pattern.key}
  ORDER BY rt, ts, seq
  MEASURES
    {_measures(pattern)}
  ONE ROW PER MATCH
  AFTER MATCH SKIP PAST LAST ROW
  {_pattern_clause(pattern)}
  DEFINE
    {_define(pattern)}
)"""
