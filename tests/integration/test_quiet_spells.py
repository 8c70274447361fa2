"""Quiet spells (issue 10): live Kafka input that goes quiet for twice the shipped
time.idle_timeout between chunks, on the embedded mini-cluster at parallelism 2, gets exactly the
chains a replay finds on the same data, and nothing is late without a dead letter saying so.

After a spell every source is idle. With Flink's plain idleness the one that resumes first moves
event time on while the others are still idle, so their first events arrive behind the
watermark (seen: 48 late events, and a chain lost in CI). chainwatch's live watermarks hold
event time for time.resume_hold after a source resumes, so no event is late here at all.
"""
from __future__ import annotations

import time
from datetime import datetime

import yaml

from chainwatch.config import load_config
from chainwatch.flink.live_job import build_streaming_job, execute
from chainwatch.flink.replay_job import replay
from chainwatch.ops.dev_broker import create_topics, feed
from chainwatch.patterns.pattern import load_patterns
from tests.builders import write_cloudtrail, write_flows
from tests.findings_by_key import key_of
from tests.scenarios import all_scenarios
from tests.streaming import clock_records, kafka_config_file, read_topic

SCENARIOS = all_scenarios()
EXPECTED = sum(s.expect for s in SCENARIOS)


def _chunks(directory, parts=3):
    """The scenarios' records and flows cut by event time into `parts` folders, then the clock."""
    records = sorted((r for s in SCENARIOS for r in s.records), key=lambda r: r["eventTime"])
    flows = sorted((f for s in SCENARIOS for f in s.flows), key=lambda f: int(f.split()[10]))
    times = sorted([datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")).timestamp() for r in records]
                   + [int(f.split()[10]) for f in flows])
    cuts = [times[len(times) * n // parts] for n in range(1, parts)] + [float("inf")]
    folders, low = [], float("-inf")
    for n, high in enumerate(cuts):
        folder = directory / f"chunk-{n}"
        folder.mkdir()
        ct = [r for r in records
              if low <= datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")).timestamp() < high]
        fl = [f for f in flows if low <= int(f.split()[10]) < high]
        if ct:
            write_cloudtrail(folder / "cloudtrail.json.gz", ct)
        if fl:
            write_flows(folder / "vpcflow.log", fl)
        folders.append(folder)
        low = high
    clock = directory / "clock"
    clock.mkdir()
    clock_ct, clock_flows = clock_records()
    write_cloudtrail(clock / "cloudtrail.json.gz", clock_ct)
    write_flows(clock / "vpcflow.log", clock_flows)
    return folders + [clock]


def test_quiet_spells_between_chunks_lose_no_finding(tmp_path, geoip_dir, kafka_bootstrap):
    conf = tmp_path / "chainwatch.yaml"
    topics = kafka_config_file(conf, geoip_dir, kafka_bootstrap)
    data = yaml.safe_load(conf.read_text())
    data["time"]["idle_timeout"] = "1m"         # the shipped value (conf/chainwatch.yaml)
    conf.write_text(yaml.safe_dump(data))
    config = load_config(conf)
    patterns = load_patterns(config.patterns_dir)
    quiet_s = 2 * config.time.idle_timeout_ms / 1000
    chunks = _chunks(tmp_path)
    expected = replay(config, patterns, chunks)       # the clock included: it moves coverage on too
    assert len(expected.findings) == EXPECTED
    everything = expected.findings + expected.coverage_findings     # coverage findings go to the same sinks

    create_topics(kafka_bootstrap, topics.values())
    env, statements = build_streaming_job(config, patterns)
    job = execute(env, statements, "chainwatch-quiet-spells", detached=True)
    try:
        for n, chunk in enumerate(chunks):
            if n:
                time.sleep(quiet_s)             # every source idle, then resuming at its own pace
            feed(config, [chunk], progress=None)
        findings = read_topic(kafka_bootstrap, topics["findings"], len(everything), timeout_s=180)
        dead = read_topic(kafka_bootstrap, topics["dead"], 0, timeout_s=5, settle_s=5)
    finally:
        job.cancel().result()
    late = [d["value"] for d in dead if d["value"].get("late")]
    # Each source holds event time for time.resume_hold after it resumes (ResumeHoldWatermarks),
    # so none is left behind the watermark by another that resumed first: nothing is late.
    assert late == [], f"{len(late)} events late, e.g. {late[:2]}"
    got = sorted((f["value"]["finding_info"]["analytic"]["uid"], key_of(f["value"]), f["value"]["finding_info"]["uid"])
                 for f in findings)
    want = sorted((f["finding_info"]["analytic"]["uid"], key_of(f), f["finding_info"]["uid"]) for f in everything)
    messages = {f["finding_info"]["uid"]: f["message"] for f in everything + [f["value"] for f in findings]}
    assert got == want, ([messages[t[2]] for t in set(got) - set(want)], [messages[t[2]] for t in set(want) - set(got)])
    # The same findings, uids included (a hash of each step's first event): nothing was processed
    # out of order, and events with the same time go by id (steps.lanes.event_order), not by
    # arrival, which differs between the files and the interleaved partitions.
