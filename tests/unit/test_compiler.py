"""Pattern -> MATCH_RECOGNIZE (chainwatch/patterns/compiler.py), against reviewed golden SQL.

After an intended compiler change, regenerate and review the golden files with:
    CHAINWATCH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_compiler.py
"""
from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path

import pytest

from chainwatch.patterns.compiler import compile_pattern
from chainwatch.patterns.pattern import Step, load_pattern

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"


def shipped(pattern_id: str):
    return load_pattern(REPO / "patterns" / f"{pattern_id}.yaml")


@pytest.mark.parametrize("pattern_id", ["AN1328", "AN1348"])
def test_compiled_sql_matches_golden(pattern_id):
    actual = compile_pattern(shipped(pattern_id)) + "\n"
    golden = GOLDEN / f"{pattern_id}.sql"
    if os.environ.get("CHAINWATCH_UPDATE_GOLDEN"):
        golden.write_text(actual)
    expected = golden.read_text()
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            fromfile=f"golden/{pattern_id}.sql", tofile="compile_pattern()"))
        pytest.fail(f"compiled SQL for {pattern_id} differs from {golden}:\n{diff}\n"
                    "If the change is intended, rerun with CHAINWATCH_UPDATE_GOLDEN=1 and review the new file.")


@pytest.mark.parametrize("pattern_id, key, steps, window_ms, within", [
    ("AN1328", "principal", ["new_identity", "object_access_spike", "external_exfiltration"], 7_200_000,
     "INTERVAL '2' HOUR"),
    ("AN1348", "session", ["cross_account_entry", "privileged_burst", "unfamiliar_origin"], 3_600_000,
     "INTERVAL '1' HOUR"),
])
def test_compiled_sql_structure(pattern_id, key, steps, window_ms, within):
    """Rows by rt (late rows at their handling time), the event-time order and window checked per
    step, and WITHIN the window."""
    sql = compile_pattern(shipped(pattern_id))
    assert sql.startswith(f"SELECT '{pattern_id}' AS analytic, {key} AS match_key,")
    assert f"AND {key} <> '')" in sql
    assert f"PARTITION BY {key}\n  ORDER BY rt, ts, seq\n" in sql
    assert f"PATTERN (S1 F1*? S2 F2*? S3) WITHIN {within}\n" in sql
    assert f"S1 AS S1.step = '{steps[0]}',\n" in sql
    for n, step in enumerate(steps[1:], start=2):
        assert f"S{n} AS S{n}.step = '{step}' AND S{n}.ts >= S{n - 1}.ts AND S{n}.ts - S1.ts < {window_ms}" in sql
        assert f"FIRST(S{n}.evidence) AS s{n}_evidence" in sql
    assert "F1 AS" not in sql and "F2 AS" not in sql  # fillers are undefined: any row


@pytest.mark.parametrize("window_ms, within", [(90 * 60_000, "INTERVAL '90' MINUTE"), (86_400_000, "INTERVAL '1' DAY"),
                                               (45_000, "INTERVAL '45' SECOND"),
                                               (1_500, "INTERVAL '1.500' SECOND(3)")])
def test_window_interval(window_ms, within):
    pattern = dataclasses.replace(shipped("AN1328"), window_ms=window_ms)
    assert f"WITHIN {within}\n" in compile_pattern(pattern)


def test_step_count_drives_pattern_and_define():
    base = shipped("AN1348")
    two = dataclasses.replace(base, steps=base.steps[:2])
    assert "PATTERN (S1 F1*? S2) WITHIN" in compile_pattern(two)
    assert "S3" not in compile_pattern(two)
    four = dataclasses.replace(base, steps=base.steps + (Step("again", "privileged_burst", ""),))
    sql = compile_pattern(four)
    assert "PATTERN (S1 F1*? S2 F2*? S3 F3*? S4) WITHIN" in sql
    assert "S4 AS S4.step = 'privileged_burst'" in sql
    # the source subquery lists each step once
    assert "step IN ('cross_account_entry', 'privileged_burst', 'unfamiliar_origin')" in sql
