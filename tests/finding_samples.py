"""Real findings without a Flink job: a pattern's case through chainwatch.engine (the job's
parsers, enrichment, routing, step logic and findings, with a plain MATCH_RECOGNIZE matcher).

tests/integration/test_pattern_cases.py checks that the engine and the real pipeline give the
same findings for every pattern case; test_hec_sink.py again for what reaches HEC.
"""
from __future__ import annotations

import dataclasses

from chainwatch.case_runner import run_case
from chainwatch.patterns.cases import write_case  # noqa: F401  (for the tests that use this)


def positive_case(pattern):
    return next(c for c in pattern.cases if c.expect_findings > 0)


def case_result(config, pattern, case=None):
    result = run_case(config, pattern, case or positive_case(pattern))
    assert result.dead_letters == [], result.dead_letters
    return result


def case_findings(config, pattern, case=None) -> list[dict]:
    """OCSF findings of a pattern's case (its first positive case by default)."""
    return case_result(config, pattern, case).findings


def case_matches(config, pattern, case=None) -> list[dict]:
    """The MATCH_RECOGNIZE rows (as dicts) the pipeline would produce for the case."""
    return case_result(config, pattern, case).matches


def creation_in_burst_case(pattern):
    """AN1348's positive case with CreateUser as one of the burst's calls: found only if the
    creation reaches the creator's session too (route_to_identities), not just the new user."""
    case = positive_case(pattern)
    events = [dict(e) for e in case.events]
    events[2] = dict(events[2], eventName="CreateUser", requestParameters={"userName": "backdoor"},
                     responseElements={"user": {"userName": "backdoor"}})
    return dataclasses.replace(case, name=f"{case.name}, one of them CreateUser", events=tuple(events))
