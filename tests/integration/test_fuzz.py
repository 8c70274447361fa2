"""Issue 10 acceptance, the fuzz test: one replay through the real PyFlink job over a corpus of
hostile input (tests/hostile_corpus.py: 130 kinds of bad, odd and malicious files and records,
planted secrets, and one real AN1328 chain spread among them).

The replay runs in a process of its own (tests/integration/fuzz_job.py) with its own Flink log
folder and the JVM's stderr passed through, so the test reads everything the job logged. It must
return normally; its summary must account for every record the generator wrote (read =
normalised + dead-lettered, the totals the generator counted, and each file's dead letters where
the generator knows them) and every file it skipped; the planted chain must give exactly its
finding and nothing else may; no planted secret may appear in a finding, a dead letter's reason
or the log. Then the plain-Python reference engine (chainwatch.engine) must give the same counts,
dead letters, findings and coverage on the same corpus.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from chainwatch.core.event import MAX_REASON_CHARS
from chainwatch.engine import run
from tests.builders import write_cloudtrail
from tests.conftest import REPO
from tests.findings_by_key import check_scenario, group_by_key
from tests.hostile_corpus import write_corpus

_SUMMARY = {
    "files": r"files read:\s+(\d+)$", "skipped": r"files skipped:\s+(\d+)$", "read": r"records read:\s+(\d+)$",
    "normalised": r"  normalised:\s+(\d+) \(\d+ events\)$", "events": r"  normalised:\s+\d+ \((\d+) events\)$",
    "dead_lettered": r"  dead-lettered:\s+(\d+)$", "accounted": r"  accounted for:\s+(\d+) of \d+$",
    "findings": r"findings:\s+(\d+)$",
}


def summary_counts(lines: list[str]) -> dict:
    found = {}
    for name, pattern in _SUMMARY.items():
        values = [int(m.group(1)) for m in map(re.compile(pattern).match, lines) if m]
        assert len(values) == 1, (name, lines)
        found[name] = values[0]
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    corpus = write_corpus(tmp_path_factory.mktemp("fuzz") / "corpus")
    assert len(corpus.kinds) >= 60
    return corpus


@pytest.fixture(scope="module")
def job(tmp_path_factory, corpus, config_path):
    work = tmp_path_factory.mktemp("fuzz-job")
    logs, out = work / "flink-logs", work / "result.json"
    done = subprocess.run([sys.executable, "-m", "tests.integration.fuzz_job", str(config_path), str(corpus.root),
                           str(out)], cwd=REPO, env=dict(os.environ, FLINK_LOG_DIR=str(logs)),
                          capture_output=True, text=True, errors="replace", timeout=1800)
    logged = "".join(p.read_text(errors="replace") for p in sorted(logs.glob("*"))) if logs.exists() else ""
    assert done.returncode == 0, (done.stderr[-6000:], logged[-6000:])
    result = json.loads(out.read_text())
    result["log"] = "\n".join([logged, done.stdout, done.stderr])
    return result


def _letters_by_file(letters, corpus) -> Counter:
    """Dead letters per generated file: a ref is the file's path, then `:line`, `#n` or `@offset`."""
    paths = sorted((str(p) for k in corpus.kinds for p in k.paths), key=len, reverse=True)
    counts = Counter()
    for letter in letters:
        ref = letter["ref"]
        owner = next((p for p in paths if ref == p or (ref.startswith(p) and ref[len(p)] in ":#@")), None)
        assert owner is not None, ref
        counts[owner] += 1
    return counts


def test_a_hostile_corpus_is_read_accounted_for_and_only_the_planted_chain_found(job, corpus, config, patterns,
                                                                                tmp_path):
    summary = summary_counts(job["summary"])
    assert not any("MISMATCH" in line for line in job["summary"])
    # Every record the generator wrote is read, and each is normalised or dead-lettered.
    assert summary["read"] == corpus.records == job["counts"]["read"]
    assert summary["accounted"] == summary["normalised"] + summary["dead_lettered"] == summary["read"]
    assert corpus.dead_at_least <= summary["dead_lettered"] <= corpus.dead_at_most
    assert summary["dead_lettered"] == len(job["dead_letters"])
    # Every file is read or reported as skipped, with its reason.
    assert (summary["files"], summary["skipped"]) == (corpus.files, corpus.skipped) == \
        (job["files"], len(job["skipped"]))
    assert all(s["reason"] for s in job["skipped"])
    # File by file, the dead letters the generator expects.
    by_file = _letters_by_file(job["dead_letters"], corpus)
    wrong = {k.name: (by_file[str(k.paths[0])], k.dead) for k in corpus.kinds
             if k.files and k.dead is not None and by_file[str(k.paths[0])] != k.dead}
    assert not wrong, wrong
    # Reasons are bounded and name what went wrong; no parser fails on a wrong type of value.
    assert all(0 < len(d["reason"]) <= MAX_REASON_CHARS for d in job["dead_letters"])
    assert not [d["reason"] for d in job["dead_letters"] if d["reason"].startswith("parser error")]
    # The planted chain, found exactly as on its own, and nothing else.
    scenario = corpus.scenario
    alone = tmp_path / "alone"
    write_cloudtrail(alone / "chain.json.gz", scenario.records)
    expected = run(config, patterns, [alone]).findings
    assert summary["findings"] == len(job["findings"]) == len(expected) == scenario.expect == 1
    check_scenario(scenario, group_by_key(job["findings"]).get(scenario.key, []))
    assert [f["metadata"]["uid"] for f in job["findings"]] == [f["metadata"]["uid"] for f in expected]
    assert job["counts"]["late"] == 0
    # No planted secret in a finding, a reason or anything the job logged.
    findings, reasons = json.dumps(job["findings"]), json.dumps([d["reason"] for d in job["dead_letters"]])
    assert "chainwatch replay:" in job["log"]
    for secret in corpus.secrets:
        for where, text in (("findings", findings), ("reasons", reasons), ("log", job["log"])):
            assert secret not in text and secret[:16] not in text, (secret, where)


def test_the_reference_engine_gives_what_the_job_gives_on_the_hostile_corpus(job, corpus, config, patterns):
    engine = run(config, patterns, [corpus.root])
    counts = {k: v for k, v in job["counts"].items() if k != "late"}
    assert dict(engine.counts) == counts
    assert (engine.files, engine.skipped) == (job["files"], job["skipped"])
    assert engine.findings == job["findings"]
    canonical = lambda letters: sorted(json.dumps(d, sort_keys=True) for d in letters)  # noqa: E731
    assert canonical(engine.dead_letters) == canonical(job["dead_letters"])
    assert engine.unattributed_egress == job["unattributed_egress"]
    assert engine.coverage["accounts"] == job["coverage"]["accounts"]
    assert engine.coverage_findings == job["coverage_findings"]
