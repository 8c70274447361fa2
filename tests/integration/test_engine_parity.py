"""chainwatch.engine against real Flink, beyond the pattern cases (test_pattern_cases.py):

  1. its MATCH_RECOGNIZE matcher against the compiled queries on the real CEP operator, over
     random step-row partitions (dense, tied timestamps ordered by seq, starts that time out,
     several candidates per step) for the shipped patterns and variants of them (2 and 4 steps,
     a step used twice, a short window): one job for all;
  2. the whole engine against `chainwatch replay` on the packaged sample: one replay.
"""
from __future__ import annotations

import dataclasses
import json
import random

from pyflink.common import Row, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.table import StreamTableEnvironment

from chainwatch.config import load_config
from chainwatch.engine import run
from chainwatch.engine.cep import pattern_matches
from chainwatch.flink.graph import _step_table
from chainwatch.flink.replay_job import replay
from chainwatch.flink.runtime import make_env
from chainwatch.flink.step_operators import STEP_ROW_TYPE
from chainwatch.patterns.compiler import STEP_TABLE, compile_pattern
from chainwatch.patterns.pattern import Step, load_patterns
from chainwatch.steps.registry import BY_NAME
from chainwatch.steps.step_row import FIELDS as STEP_ROW_FIELDS
from tests.conftest import REPO

HOUR = 3_600_000


def variants():
    an1328, an1348 = sorted(load_patterns(REPO / "patterns"), key=lambda p: p.id)
    a, b, c = an1328.steps
    step = lambda name, kind: Step(name, kind, "")  # noqa: E731
    return [an1328, an1348,
            dataclasses.replace(an1328, id="SHORT", window_ms=HOUR // 2),
            dataclasses.replace(an1328, id="TWO", steps=(a, b)),
            dataclasses.replace(an1328, id="FOUR", steps=(a, b, c, step("d", "privileged_burst"))),
            dataclasses.replace(an1328, id="AGAIN", steps=(a, b, step("a2", a.step))),
            dataclasses.replace(an1328, id="TWICE", steps=(a, b, step("b2", b.step)))]


def random_rows(patterns, seed=9, partitions=400, longest=30) -> list[dict]:
    """Each partition's rows from one pattern's step kinds, at times another kind too; no two
    rows of a key share (ts, seq), as arrival order would then decide, which a shuffled
    collection does not keep."""
    rnd, rows = random.Random(seed), []
    gaps = [0, 0, 1000, 60_000, 600_000, 1_800_000, HOUR, 2 * HOUR - 1, 2 * HOUR, 2 * HOUR + 1]
    for p in range(partitions):
        key, ts, used = f"k{p}", 1_790_000_000_000, set()
        kinds = sorted({s.step for s in rnd.choice(patterns).steps} | {rnd.choice(tuple(BY_NAME))})
        for i in range(rnd.randint(2, longest)):
            ts += rnd.choice(gaps)
            seq = rnd.choice([0, 0, 1, 2])
            while (ts, seq) in used:
                seq += 1
            used.add((ts, seq))
            rows.append({"principal": key if rnd.random() > 0.03 else "", "session": key if rnd.random() > 0.03 else "",
                         "step": rnd.choice(kinds), "ts": ts, "seq": seq, "account": f"a{i}", "region": "r",
                         "cloud": "aws", "evidence": json.dumps({"row": f"{key}-{i}"}), "order_ts": ts})
    rnd.shuffle(rows)
    return rows


class RowTime(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[3]


def _canonical(matches) -> list[str]:
    return sorted(json.dumps(m, sort_keys=True) for m in matches)


def test_matcher_is_the_compiled_match_recognize(config):
    patterns = variants()
    rows = random_rows(patterns)
    env = make_env(config, streaming=False)
    # In event-time order, as the steps operator emits each key's rows (patterns.compiler).
    in_order = sorted(rows, key=lambda r: (r["ts"], r["seq"]))
    stream = env.from_collection([Row(*(r[f] for f in STEP_ROW_FIELDS)) for r in in_order], type_info=STEP_ROW_TYPE)
    stream = stream.assign_timestamps_and_watermarks(
        WatermarkStrategy.no_watermarks().with_timestamp_assigner(RowTime()))
    t_env = StreamTableEnvironment.create(env)
    t_env.create_temporary_view(STEP_TABLE, _step_table(t_env, stream))
    outputs = None
    for pattern in patterns:
        matches = t_env.to_data_stream(t_env.sql_query(compile_pattern(pattern)))
        as_json = matches.map(lambda row: json.dumps(row.as_dict()), Types.STRING())
        outputs = as_json if outputs is None else outputs.union(as_json)
    with outputs.execute_and_collect("engine matcher parity") as collected:
        flink = [json.loads(item) for item in collected]
    for pattern in patterns:
        expected = [m for m in flink if m["analytic"] == pattern.id]
        assert len(expected) > 5, pattern.id                   # the random rows do exercise it
        assert _canonical(pattern_matches(pattern, rows)) == _canonical(expected), pattern.id


def test_engine_is_the_replay_on_the_packaged_sample():
    config = load_config(None)                          # the packaged config, sample and GeoIP data
    patterns = load_patterns(config.patterns_dir)
    inputs = config.sources[0].paths
    job, engine = replay(config, patterns, inputs), run(config, patterns, inputs)
    assert job.findings and job.dead_letters == engine.dead_letters == []
    assert engine.findings == job.findings
    assert engine.coverage_findings == job.coverage_findings
    assert engine.egress_attribution == job.egress_attribution and job.egress_attribution
    assert (engine.counts, engine.unattributed_egress, engine.coverage) == \
        (job.counts, job.unattributed_egress, job.coverage)
