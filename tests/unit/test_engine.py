"""chainwatch.engine, the job in plain Python: every pattern case, the MATCH_RECOGNIZE rules
it implements, and guards that its mirrors of the Flink operators stay in step with them.

tests/integration/test_pattern_cases.py and test_engine_parity.py compare it with real Flink.
"""
from __future__ import annotations

import dataclasses
import json

import pytest

from chainwatch.case_runner import run_case
from chainwatch.config import load_config
from chainwatch.engine import run
from chainwatch.engine.cep import pattern_matches
from chainwatch.engine.identity import identity_events, step_rows
from chainwatch.engine.read_events import read_files
from chainwatch.engine.workload import attribute_egress
from chainwatch.patterns.pattern import Step, load_patterns
from chainwatch.sources.files import discover
from chainwatch.steps.step_row import FIELDS as STEP_ROW_FIELDS
from chainwatch.steps.workload_binding import workload_alias, workload_instance
from tests.conftest import REPO
from tests.finding_samples import creation_in_burst_case

PATTERNS = load_patterns(REPO / "patterns")


@pytest.mark.parametrize("pattern, case", [(p, c) for p in PATTERNS for c in p.cases],
                         ids=lambda v: getattr(v, "id", None) or getattr(v, "name", ""))
def test_every_pattern_case_on_the_engine(pattern, case, config):
    result = run_case(config, pattern, case)
    assert result.dead_letters == []
    assert len(result.findings) == case.expect_findings
    assert {f["finding_info"]["analytic"]["uid"] for f in result.findings} <= {pattern.id}


def test_a_creation_counts_for_the_creators_session_too(config):
    """route_to_identities: CreateUser is about the new user (novelty) and about the session that
    made it, whose privileged burst it is part of."""
    pattern = next(p for p in PATTERNS if p.id == "AN1348")
    case = creation_in_burst_case(pattern)
    (finding,) = run_case(config, pattern, case).findings
    (burst,) = [e for e in finding["evidences"] if e["step"] == "privileged_burst"]
    assert case.events[2]["eventName"] == "CreateUser" and case.events[2]["eventID"] in burst["event_uids"]


# --- MATCH_RECOGNIZE: PATTERN (S1 F1*? S2 F2*? S3) WITHIN w, AFTER MATCH SKIP PAST LAST ROW -------

HOUR = 3_600_000
P = dataclasses.replace(PATTERNS[0], id="T", key="principal", window_ms=2 * HOUR,
                        steps=(Step("a", "new_identity", ""), Step("b", "object_access_spike", ""),
                               Step("c", "external_exfiltration", "")))
A, B, C = (s.step for s in P.steps)


def row(name, step, ts, seq=0, key="k"):
    return {"principal": key, "session": "", "step": step, "ts": ts, "seq": seq, "account": "1", "region": "r",
            "cloud": "aws", "evidence": name}


def chains(rows, pattern=P):
    return [[m[f"s{n}_evidence"] for n in range(1, len(pattern.steps) + 1)] for m in pattern_matches(pattern, rows)]


def test_earliest_first_step_and_latest_middle_step():
    rows = [row("a1", A, 0), row("a2", A, 1), row("b1", B, 2), row("b2", B, 3), row("c1", C, 4)]
    assert chains(rows) == [["a1", "b2", "c1"]]


def test_within_is_strict_and_a_timed_out_start_gives_way_to_a_later_one():
    assert chains([row("a", A, 0), row("b", B, 1), row("c", C, 2 * HOUR)]) == []
    assert chains([row("a", A, 0), row("b", B, 1), row("c", C, 2 * HOUR - 1)]) == [["a", "b", "c"]]
    assert chains([row("a1", A, 0), row("a2", A, HOUR), row("b", B, HOUR + 1), row("c", C, 2 * HOUR)]) == \
        [["a2", "b", "c"]]


def test_skip_past_last_row_then_match_again():
    rows = [row("a1", A, 0), row("b1", B, 1), row("c1", C, 2), row("c2", C, 3),   # c2: its chain is used up
            row("a2", A, 4), row("b2", B, 5), row("c3", C, 6)]
    assert chains(rows) == [["a1", "b1", "c1"], ["a2", "b2", "c3"]]
    # a start inside a match is gone with it, even if a later chain could use it
    assert chains([row("a1", A, 0), row("a2", A, 1), row("b1", B, 2), row("c1", C, 3), row("b2", B, 4),
                   row("c2", C, 5)]) == [["a1", "b1", "c1"]]


def test_order_is_ts_then_seq_and_steps_must_be_in_order():
    rows = [row("c", C, 5, seq=1), row("b", B, 5, seq=0), row("a", A, 4)]
    assert chains(rows) == [["a", "b", "c"]]
    assert chains([row("b", B, 0), row("a", A, 1), row("c", C, 2)]) == []


def test_partitioned_by_key_and_empty_keys_ignored():
    rows = [row("a", A, 0, key="x"), row("b", B, 1, key="y"), row("c", C, 2, key="x"),
            row("a0", A, 0, key=""), row("b0", B, 1, key=""), row("c0", C, 2, key="")]
    assert chains(rows) == []
    two = dataclasses.replace(P, steps=P.steps[:2])
    assert [m["match_key"] for m in pattern_matches(two, rows)] == []
    assert chains([row("a", A, 0, key="x"), row("b", B, 1, key="x")], two) == [["a", "b"]]


# --- the engine's copies of the Flink operators' logic stay in step with them ------------------

@pytest.fixture(scope="module")
def sample():
    """The packaged sample: flows, bindings, creations, sessions and planted chains."""
    config = load_config(None)
    config = dataclasses.replace(config, novelty=dataclasses.replace(config.novelty, history_start_ms=None))
    return config, read_files(config, discover(config.sources[0].paths), run(config, [], []))


def test_workload_hops_match_the_flink_operator(sample):
    from chainwatch.flink.step_operators import WorkloadResolver
    job_alias, job_instance = workload_alias, workload_instance     # one definition (steps.workload_binding) serves both
    config, events = sample
    from chainwatch.enrich.asset_inventory import RefreshingAssets
    assert any(e["kind"] == "flow" and e.get("egress") for e in events)
    assert any(e["kind"] == "binding" for e in events)

    def hop(field, key_of, tagged):
        resolver, out = WorkloadResolver(field, config), []
        resolver.key_state = {}      # a bucket's MapState of key -> bound; changes written directly
        resolver.assets, resolver.egress = RefreshingAssets((), 60_000), {}      # what open() sets
        resolver.inventory = resolver.assets.get()
        for ts, n, event in sorted(tagged, key=lambda t: t[:2]):
            out += [(ts, n, e) for row in resolver.on_key_events(key_of(event), [event], resolver.key_state)
                    for e in row[1][2]]
        return out

    tagged = [(e["ts"], n, json.loads(json.dumps(e))) for n, e in enumerate(events)]
    first = hop("instance", job_alias, [t for t in tagged if t[2]["kind"] == "flow" and t[2].get("egress")]
                + [t for t in tagged if t[2]["kind"] == "binding" and "alias" in t[2]["binding"]])
    second = hop("principal", job_instance,
                 first + [t for t in tagged if t[2]["kind"] == "binding" and "principal" in t[2]["binding"]])
    attributed, unattributed = attribute_egress(events)
    assert attributed == [t for t in second if t[2]["principal"]] and attributed
    assert unattributed == [t[2] for t in second if not t[2]["principal"]]


def test_identity_steps_match_the_flink_operator(sample):
    from chainwatch.flink.step_operators import IdentityStepsOperator
    from chainwatch.steps.identity_steps import identity_key
    from chainwatch.steps.known_identities import load_inventory
    from chainwatch.steps.variants import StepVariants
    config, events = sample
    inputs = identity_events(events, attribute_egress(events)[0])
    operator = IdentityStepsOperator(config)
    operator.key_state, operator.history_start = {}, config.novelty.history_start_ms  # what open() sets
    operator.logic = StepVariants(config, None, load_inventory(config.novelty.inventory))
    job_rows = []
    for event in json.loads(json.dumps(inputs)):
        operator.flush_time = event["ts"]               # as flushed in order by its own timer
        job_rows += [tuple(r) for r in operator.on_key_events(identity_key(event), [event], operator.key_state)]
    rows = step_rows(config, inputs)
    assert [tuple(r[f] for f in STEP_ROW_FIELDS) for r in rows] == job_rows
    assert {r["step"] for r in rows} >= {"new_identity", "cross_account_entry", "external_exfiltration"}
