"""Live equals replay (issue 20, part 0): the streaming job fed through Kafka, oldest first, with
quiet spells before the first record, between chunks (inside chains) long enough only for the
sources to go idle or long enough for time.quiet_flush, and after the last record (no newer
"clock" event to move event time on), finds exactly the findings, uids and bytes included, that a
replay of the very same records finds; flows go as JSON objects with hyphenated names (as Firehose
ships them) in some chunks and as flow-log text lines after their header in others.

The spell after the last record is the one that lost a chain before: the live watermarks trailed
the latest event by time.watermark_delay, so whatever the last burst completed waited for a newer
record that never came. Now an input quiet for time.quiet_flush publishes its latest event time
(ResumeHoldWatermarks).
"""
from __future__ import annotations

import json
import time
from datetime import datetime

import yaml

from chainwatch import engine
from chainwatch.config import load_config
from chainwatch.flink.live_job import build_streaming_job, execute
from chainwatch.flink.replay_job import replay
from chainwatch.ops.dev_broker import create_topics
from chainwatch.patterns.pattern import load_patterns
from tests.builders import FLOW_HEADER, write_cloudtrail, write_flows
from tests.findings_by_key import key_of
from tests.scenarios import all_scenarios
from tests.streaming import kafka_config_file, read_topic

SCENARIOS = all_scenarios()
# time.idle_timeout, time.resume_hold, time.quiet_flush: short, so the spells can be
IDLE_S, HOLD_S, FLUSH_S = 3, 3, 8
SPELLS_S = (FLUSH_S + 4, IDLE_S + 2, FLUSH_S + 4, FLUSH_S + 4)   # after each chunk: flushed, idle only, ...


def _seconds(record) -> float:
    return datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")).timestamp()


def _chunks(end: float, parts=len(SPELLS_S)):
    """The scenarios' CloudTrail records and flow lines up to `end` (epoch seconds), cut by event
    time into `parts` chunks."""
    records = sorted((r for s in SCENARIOS for r in s.records if _seconds(r) <= end), key=_seconds)
    flows = sorted((f for s in SCENARIOS for f in s.flows if int(f.split()[10]) <= end),
                   key=lambda f: int(f.split()[10]))
    times = sorted([_seconds(r) for r in records] + [int(f.split()[10]) for f in flows])
    cuts = [float("-inf")] + [times[len(times) * n // parts] for n in range(1, parts)] + [float("inf")]
    return [([r for r in records if low <= _seconds(r) < high], [f for f in flows if low <= int(f.split()[10]) < high])
            for low, high in zip(cuts, cuts[1:])]


def _written(directory, chunks) -> list:
    folders = []
    for n, (records, flows) in enumerate(chunks):
        folder = directory / f"chunk-{n}"
        if records:
            write_cloudtrail(folder / "cloudtrail.json.gz", records)
        if flows:
            write_flows(folder / "vpcflow.log", flows)
        folders.append(folder)
    return folders


def _ending_with_a_chain(config, patterns, directory):
    """The data cut right after the step that completes the AN1328 chain completing last, as an
    attack day that then goes quiet: (the chain's key, its chunks)."""
    everything = engine.run(config, patterns, _written(directory / "all", _chunks(float("inf"), 1)))
    last = max((f for f in everything.findings if f["finding_info"]["analytic"]["uid"] == "AN1328"),
               key=lambda f: f["finding_info"]["last_seen_time"])
    return key_of(last), _chunks(last["finding_info"]["last_seen_time"] / 1000)


def _produce(bootstrap, topics, records, flows, *, flows_as_text: bool, partitions=2):
    """One chunk, oldest first across both topics, as a live feed delivers it: CloudTrail records
    as JSON objects; flows as JSON objects with the header's hyphenated names (Firehose), or as
    text lines after the header line in each partition (a shipper of files, line by line)."""
    from kafka import KafkaProducer
    header = FLOW_HEADER.split()
    timed = [(_seconds(r), 0, n, "cloudtrail", json.dumps(r)) for n, r in enumerate(records)]
    timed += [(int(f.split()[10]), 1, n, "flows", f if flows_as_text else json.dumps(dict(zip(header, f.split()))))
              for n, f in enumerate(flows)]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        if flows_as_text:
            for partition in range(partitions):
                producer.send(topics["flows"], FLOW_HEADER.encode(), partition=partition)
        for n, (_ts, _kind, _i, topic, value) in enumerate(sorted(timed)):
            producer.send(topics[topic], value.encode(), partition=n % partitions)
        producer.flush()
    finally:
        producer.close()


def test_a_stream_with_quiet_spells_finds_what_its_replay_finds(tmp_path, geoip_dir, kafka_bootstrap):
    conf = tmp_path / "chainwatch.yaml"
    topics = kafka_config_file(conf, geoip_dir, kafka_bootstrap)
    data = yaml.safe_load(conf.read_text())
    data["time"].update(idle_timeout=f"{IDLE_S}s", resume_hold=f"{HOLD_S}s", quiet_flush=f"{FLUSH_S}s")
    conf.write_text(yaml.safe_dump(data))
    config = load_config(conf)
    patterns = load_patterns(config.patterns_dir)

    last_chain, chunks = _ending_with_a_chain(config, patterns, tmp_path)
    expected = replay(config, patterns, _written(tmp_path, chunks))
    assert last_chain in {key_of(f) for f in expected.findings}

    create_topics(kafka_bootstrap, topics.values())
    env, statements = build_streaming_job(config, patterns)
    job = execute(env, statements, "chainwatch-live-equals-replay", detached=True)
    try:
        time.sleep(SPELLS_S[0])                  # before anything: every source idle from the start
        for n, ((records, flows), spell) in enumerate(zip(chunks, SPELLS_S)):
            _produce(kafka_bootstrap, topics, records, flows, flows_as_text=bool(n % 2))
            time.sleep(spell)                    # both quiet: inside chains, and after the last record
        want = expected.findings
        findings = [f for f in read_topic(kafka_bootstrap, topics["findings"], len(want), timeout_s=120)
                    if f["value"]["finding_info"]["analytic"]["uid"] != "CW-COVERAGE"]
        dead = read_topic(kafka_bootstrap, topics["dead"], 0, timeout_s=5, settle_s=5)
    finally:
        job.cancel().result()
    late = [(d["value"].get("source"), d["value"].get("behind_ms"), d["value"].get("event_id")) for d in dead]
    assert late == [], f"{len(late)} dead letters, e.g. {late[:8]}"        # nothing late, nothing unreadable
    got = sorted((f["value"]["finding_info"]["analytic"]["uid"], key_of(f["value"]), f["value"]["finding_info"]["uid"])
                 for f in findings)
    wanted = sorted((f["finding_info"]["analytic"]["uid"], key_of(f), f["finding_info"]["uid"]) for f in want)
    messages = {f["finding_info"]["uid"]: f["message"] for f in want + [f["value"] for f in findings]}
    assert got == wanted, ([messages[t[2]] for t in set(got) - set(wanted)],
                           [messages[t[2]] for t in set(wanted) - set(got)])
    # and each the same to the byte: the evidence, counts and narrative do not depend on the timing
    by_uid = {f["value"]["finding_info"]["uid"]: f["value"] for f in findings}
    for finding in want:
        assert json.dumps(by_uid[finding["finding_info"]["uid"]], sort_keys=True) == json.dumps(finding, sort_keys=True)
