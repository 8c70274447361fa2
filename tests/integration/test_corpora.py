"""Every real AWS corpus replays with no crash and every record accounted for.

Records are counted here independently of the job (by plain JSON / line counting) and must
equal what the job read, normalised and dead-lettered. These corpora hold no complete chain,
so any finding would be a false positive.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwatch.flink.replay_job import replay
from chainwatch.sources.files import discover, read_text

CORPORA = Path(__file__).resolve().parent.parent / "data" / "corpora"


def count_records(path: str) -> int:
    text = read_text(path).strip()
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return sum(1 for line in text.splitlines() if line.strip())
    if isinstance(document, dict) and "Records" in document:
        return len(document["Records"])
    return len(document) if isinstance(document, list) else 1


@pytest.fixture(scope="module")
def result(config, patterns):
    return replay(config, patterns, [CORPORA])


def test_every_record_accounted_for(result):
    expected = sum(count_records(p) for p in discover([CORPORA]))
    assert result.counts["read"] == expected
    assert result.counts["normalised"] + result.counts["dead_lettered"] == expected
    assert len(result.dead_letters) == result.counts["dead_lettered"]


def test_dead_letters_say_why_and_keep_the_record(result):
    for dead in result.dead_letters:
        assert dead["reason"] and dead["raw"] and dead["ref"].startswith(str(CORPORA))
        assert not dead["reason"].startswith("parser error"), dead  # a parser bug, not bad input


def test_raw_cloudtrail_files_are_fully_normalised(result):
    dead_refs = {d["ref"].split("#")[0].split(":")[0] for d in result.dead_letters}
    for corpus in ("invictus-aws-stratus", "flaws2-defender", "stratus-detonation-logs", "otrf-aws-cloudbreach"):
        assert not [r for r in dead_refs if f"/{corpus}/" in r], corpus


def test_no_findings_on_corpora_without_a_chain(result):
    assert result.findings == []
