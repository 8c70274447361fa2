"""Issue 4 acceptance (SIEM delivery): real PyFlink jobs send findings to a local HEC endpoint.

tests/hec_server.py is a real HTTP server that answers as Splunk HEC does and records what it
receives. Four jobs, one at a time:
  1. the real pipeline over the shipped patterns' positive cases, findings to two HEC sinks
     (OCSF and ECS inside the envelope), wired with attach_finding_sinks as the job does;
  2. batches by size, the token header, a retry after a 503 and after a 429 with Retry-After,
     the last partial batch flushed at end of input;
  3. an unbounded job (a watched folder): a batch leaves after flush_interval while the job
     keeps running and no further finding arrives;
  4. dead letters for a refused token (401/403: no retry) and for an endpoint that stays down,
     in a process of its own, in process mode, so the sink's log lines reach a Flink log the
     test can read: it must not hold the token.
"""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from pyflink.common import Duration, Types, WatermarkStrategy
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat

from chainwatch.config.sink_settings import SinkConfig
from chainwatch.findings.ecs import to_ecs
from chainwatch.flink.graph import HOLD_ALL, build_pipeline, watermark_strategy
from chainwatch.flink.hec_sink import deliver_to_hec
from chainwatch.flink.parse_operators import DEAD_LETTERS, READ_STATS, read_files
from chainwatch.flink.runtime import make_env
from chainwatch.flink.sinks import attach_finding_sinks
from chainwatch.patterns.cases import case_config
from chainwatch.sinks.secrets import SecretSource
from chainwatch.sources.files import discover
from tests.conftest import REPO
from tests.finding_samples import case_findings, positive_case, write_case
from tests.hec_server import HecServer

TOKEN = "5e1f0c3a-7d2b-4e59-9a60-c0ffee15c0de"


@pytest.fixture(scope="module")
def token_file(tmp_path_factory) -> str:
    # A file, not an environment variable: the operators run in the JVM started earlier in the
    # session, which does not see variables set now.
    path = tmp_path_factory.mktemp("secrets") / "hec.token"
    path.write_text(TOKEN + "\n")
    return str(path)


def hec_sink(name, url, token_file, **options) -> SinkConfig:
    settings = dict(name=name, type="hec", format="hec", url=url, token=SecretSource(file=token_file),
                    retry_backoff_ms=50, max_backoff_ms=5000, timeout_ms=5000)
    settings.update(options)
    return SinkConfig(**settings)


@pytest.fixture(scope="module")
def sample_findings(config, patterns) -> list[str]:
    """Six distinct OCSF findings (JSON strings): the two real ones and copies with other uids."""
    originals = [f for p in patterns for f in case_findings(config, p)]
    findings = []
    for n in range(6):
        finding = json.loads(json.dumps(originals[n % 2]))
        if n >= 2:
            finding["finding_info"]["uid"] = finding["metadata"]["uid"] = f"{finding['metadata']['uid'][:28]}{n:04d}"
        findings.append(json.dumps(finding, separators=(",", ":")))
    return findings


def collect(stream) -> list[str]:
    with stream.execute_and_collect() as results:
        return list(results)


# --- 1. the real pipeline -> two HEC sinks -----------------------------------------------------

@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory, config, patterns, token_file):
    folder = tmp_path_factory.mktemp("cases")
    events = []
    for pattern in patterns:
        case = positive_case(pattern)
        case_dir = folder / pattern.id
        case_dir.mkdir()
        events += write_case(case_dir, case)
    case = dataclasses.replace(positive_case(patterns[0]), history_start=None)
    job_config = case_config(config, case, events)
    with HecServer(TOKEN) as server:
        sinks = (hec_sink("splunk-ocsf", server.url, token_file, host="detector-1", index="security"),
                 hec_sink("splunk-ecs", server.url, token_file, event_format="ecs"))
        job_config = dataclasses.replace(job_config, sinks=sinks)
        env = make_env(job_config, streaming=False)
        normalised = read_files(env, job_config, discover([folder]), hold_all=True)
        events_stream = normalised.assign_timestamps_and_watermarks(watermark_strategy(job_config, HOLD_ALL))
        findings, _unattributed, late, notices = build_pipeline(env, job_config, patterns, events_stream)
        late.union(notices).filter(lambda notice: False).print()      # not what this test checks
        dead_letters = attach_finding_sinks(findings, job_config, None)
        outputs = collect(findings.map(lambda f: "F" + f, Types.STRING()).union(
            dead_letters.map(lambda d: "D" + d, Types.STRING()),
            normalised.get_side_output(DEAD_LETTERS).map(lambda d: "R" + d, Types.STRING()),
            normalised.get_side_output(READ_STATS).map(lambda s: "S" + s, Types.STRING())))
    by_kind = {kind: [json.loads(o[1:]) for o in outputs if o[0] == kind] for kind in "FDRS"}
    assert by_kind["R"] == [] and sum(s["read"] for s in by_kind["S"]) > 0  # every record parsed
    return server, job_config, by_kind["F"], by_kind["D"]


def test_real_findings_reach_hec_as_ocsf_and_ecs(pipeline_run, patterns):
    server, job_config, findings, dead_letters = pipeline_run
    from tests.findings_by_key import is_coverage
    assert sorted(f["finding_info"]["analytic"]["uid"] for f in findings if not is_coverage(f)) == ["AN1328", "AN1348"]
    # AN1348's case stops the trail: that coverage finding reaches HEC like any other
    assert [f["evidences"][0]["details"]["action"] for f in findings if is_coverage(f)] == ["StopLogging"]
    assert dead_letters == []
    by_type = {}
    for envelope in server.events:
        by_type.setdefault(envelope["sourcetype"], []).append(envelope)
    ocsf = sorted(by_type["chainwatch:ocsf"], key=lambda e: e["event"]["metadata"]["uid"])
    ecs = sorted(by_type["chainwatch:ecs"], key=lambda e: e["event"]["event"]["id"])
    findings = sorted(findings, key=lambda f: f["metadata"]["uid"])
    assert [e["event"] for e in ocsf] == findings
    assert [e["event"] for e in ecs] == sorted((to_ecs(f) for f in findings), key=lambda d: d["event"]["id"])
    assert all((e["host"], e["index"], e["time"]) == ("detector-1", "security", e["event"]["time"] / 1000)
               for e in ocsf)
    assert all("index" not in e for e in ecs)
    assert {r.headers["Authorization"] for r in server.requests} == {f"Splunk {TOKEN}"}
    # The plain-Python sample findings the other tests use are what the real pipeline produces.
    assert sorted((f for p in patterns for f in case_findings(job_config, p)),
                  key=lambda f: f["metadata"]["uid"]) == [f for f in findings if not is_coverage(f)]


# --- 2. batches, token header, retries, end-of-input flush -----------------------------------------

def test_batches_token_header_and_retries(config, sample_findings, token_file):
    findings = sample_findings[:5]
    with HecServer(TOKEN) as server:
        server.fail_next(1, 503)
        server.fail_next(1, 429, retry_after="1")
        sink = hec_sink("splunk", server.url, token_file, batch_size=2, flush_interval_ms=3_600_000)
        env = make_env(config, streaming=False)
        stream = env.from_collection(findings, type_info=Types.STRING())
        dead_letters = collect(deliver_to_hec(stream, sink))
    assert dead_letters == []
    assert [r.status for r in server.requests] == [503, 429, 200, 200, 200]
    assert server.batches() == [2, 2, 1]  # the last one only at end of input: flush_interval is 1h
    assert server.requests[0].body == server.requests[1].body == server.requests[2].body  # the same batch
    assert server.requests[2].at - server.requests[1].at >= 0.95  # Retry-After: 1 honoured
    assert [e["event"] for e in server.events] == [json.loads(f) for f in findings]
    for request in server.requests:
        assert request.headers["Authorization"] == f"Splunk {TOKEN}"
        assert request.headers["Content-Type"] == "application/json"
        assert request.path == "/services/collector/event"
        assert TOKEN.encode() not in request.body


# --- 3. flush_interval holds while the job runs and nothing else arrives ----------------------------

def test_a_batch_leaves_after_flush_interval_while_the_job_runs(tmp_path, config, sample_findings, token_file):
    watched = tmp_path / "findings"
    watched.mkdir()
    with HecServer(TOKEN) as server:
        sink = hec_sink("splunk", server.url, token_file, batch_size=100, flush_interval_ms=1000)
        env = make_env(config, streaming=True)
        source = (FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(watched))
                  .monitor_continuously(Duration.of_millis(200)).build())
        lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "watched findings")
        deliver_to_hec(lines, sink).print("hec-dead-letters")
        job = env.execute_async("hec flush interval")
        try:
            _wait_until_running(job)
            written = time.monotonic()
            (watched / "batch-1.jsonl").write_text("\n".join(sample_findings[:3]) + "\n")
            assert server.wait_for_events(3, timeout=60)
            waited = time.monotonic() - written
            print(f"flush_interval 1s: batch received {waited:.2f}s after the file was written")
            assert job.get_job_status().result().name == "RUNNING"
            assert server.batches() == [3]  # by time, not by size (batch_size 100)
            time.sleep(1.5)
            assert server.batches() == [3]  # and only once
        finally:
            job.cancel().result()
    # file discovery (200 ms) + flush_interval (1 s) + a loaded machine's slack (2 cores, shared)
    assert 1.0 <= waited < 30, waited


def _wait_until_running(job, timeout=60):
    deadline = time.monotonic() + timeout
    while job.get_job_status().result().name != "RUNNING":
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.2)
    time.sleep(1.0)  # the source reader is up shortly after the job is


# --- 4. dead letters, and no token in what is logged -------------------------------------------------

def test_refused_token_and_endpoint_down_become_dead_letters(tmp_path, config_path, sample_findings, token_file):
    """In its own process (tests/integration/hec_job.py) with its own Flink log folder, in process
    mode: there the sink's Python log lines go to the Flink log (thread mode sends them to the
    JVM's stderr, which PyFlink does not read), so the test can read everything that was logged."""
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-the-token")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        down_url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once closed
    findings = sample_findings[:3]
    logs = tmp_path / "flink-logs"
    with HecServer(TOKEN) as server:
        common = dict(type="hec", format="hec", batch_size=10, retry_backoff_ms=50, timeout_ms=5000)
        spec = {"conf": str(config_path), "mode": "process", "findings": findings, "sinks": [
            dict(common, name="refused", url=server.url, token_file=str(wrong)),
            dict(common, name="down", url=down_url, token_file=token_file, max_retries=2)]}
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        job = subprocess.run([sys.executable, "-m", "tests.integration.hec_job", str(tmp_path / "spec.json"),
                              str(tmp_path / "dead.jsonl")], cwd=REPO, env=dict(os.environ, FLINK_LOG_DIR=str(logs)),
                             capture_output=True, text=True, timeout=600)
        assert job.returncode == 0, job.stderr[-3000:]
    dead_letters = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    by_sink = {}
    for letter in dead_letters:
        by_sink.setdefault(letter["ref"].split(":")[0], []).append(letter)
    uids = sorted(json.loads(f)["finding_info"]["uid"] for f in findings)
    assert sorted(by_sink) == ["down", "refused"]
    for letters in by_sink.values():
        assert sorted(letter["ref"].split(":", 1)[1] for letter in letters) == uids
        assert sorted(letter["raw"] for letter in letters) == sorted(findings)
    assert {d["reason"] for d in by_sink["refused"]} == {"HTTP 403: Invalid token (HEC code 4) (not retried)"}
    assert len(server.requests) == 1 and server.events == []  # one batch, refused once, not retried
    (reason,) = {d["reason"] for d in by_sink["down"]}
    assert reason.startswith("connection error") and reason.endswith("(gave up after 3 attempts)")
    logged = "".join(p.read_text(errors="replace") for p in logs.glob("*.log"))
    assert "HEC sink down: batch of 3: connection error" in logged and "retry 2 of 2" in logged
    assert "HEC sink refused: 3 of 3 finding(s) not delivered" in logged
    for text in (logged, job.stdout, job.stderr, json.dumps(dead_letters)):
        assert TOKEN not in text
