"""The streaming job with Kafka in and out, on the embedded mini-cluster: every scenario's finding
arrives on the findings topic keyed by its uid, dead letters on theirs, coverage findings (an
evidence stream turned off or silent) beside them; and a job stopped with a savepoint mid-stream
and resumed from it loses no finding."""
from __future__ import annotations

import json
import time

import pytest
import yaml

from chainwatch import engine
from chainwatch.config import load_config
from chainwatch.flink.live_job import build_streaming_job, execute, stop_with_savepoint
from chainwatch.ops.dev_broker import create_topics, feed
from chainwatch.patterns.pattern import load_patterns
from tests.builders import write_cloudtrail, write_flows
from tests.findings_by_key import is_coverage, key_of
from tests.scenarios import all_scenarios
from tests.scenarios_coverage import ACCOUNT as COVERAGE_ACCOUNT, coverage_records
from tests.streaming import kafka_config_file, read_topic, write_scenario_files

SCENARIOS = all_scenarios()
EXPECTED = sum(s.expect for s in SCENARIOS)
EXPECTED_KEYS = sorted(s.key for s in SCENARIOS for _ in range(s.expect))



def _start(conf_path, savepoint=None):
    config = load_config(conf_path)
    env, statements = build_streaming_job(config, load_patterns(config.patterns_dir), savepoint=savepoint)
    return config, execute(env, statements, "chainwatch-test", detached=True)


@pytest.fixture(scope="module")
def kafka_run(tmp_path_factory, geoip_dir, kafka_bootstrap):
    directory = tmp_path_factory.mktemp("kafka-job")
    topics = kafka_config_file(directory / "chainwatch.yaml", geoip_dir, kafka_bootstrap)
    # A second kafka sink: the same findings as ECS, on a topic of their own.
    topics["findings-ecs"] = topics["findings"] + "-ecs"
    data = yaml.safe_load((directory / "chainwatch.yaml").read_text())
    data["sinks"].append({"name": "findings-ecs", "type": "kafka", "topic": topics["findings-ecs"], "format": "ecs"})
    # The default start position, as conf/kafka.yaml has it: a new consumer group reads from the earliest.
    data["sources"][0]["start"] = "committed"
    (directory / "chainwatch.yaml").write_text(yaml.safe_dump(data))
    inputs = directory / "inputs"
    inputs.mkdir()
    sent = write_scenario_files(inputs, SCENARIOS)
    records, flows, coverage_expected = coverage_records()
    write_cloudtrail(inputs / "coverage-cloudtrail.json.gz", records)
    write_flows(inputs / "coverage-vpcflow.log", flows)
    sent += len(records) + len(flows)
    (inputs / "garbage.json").write_text('{"not": "a cloud log"}\n')
    # The coverage findings the reference engine gives on the same input (the scenarios' own
    # StopLogging calls among them): the job must give each, once.
    config = load_config(directory / "chainwatch.yaml")
    reference = engine.run(config, load_patterns(config.patterns_dir), [inputs]).coverage_findings
    expected = EXPECTED + len(reference)
    create_topics(kafka_bootstrap, topics.values())   # as in production, the topics exist first
    config, job = _start(directory / "chainwatch.yaml")
    try:
        counts = feed(config, [inputs], progress=None)
        findings = read_topic(kafka_bootstrap, topics["findings"], expected, timeout_s=180)
        dead = read_topic(kafka_bootstrap, topics["dead"], 1, timeout_s=30, settle_s=1)
        ecs = read_topic(kafka_bootstrap, topics["findings-ecs"], expected, timeout_s=30, settle_s=1)
    finally:
        job.cancel().result()
    return {"sent": sent, "counts": counts, "findings": findings, "dead": dead, "ecs": ecs,
            "coverage_reference": reference, "coverage_expected": coverage_expected}


def test_feed_puts_each_family_on_its_topic(kafka_run):
    assert sum(kafka_run["counts"].values()) == kafka_run["sent"] + 1
    assert len(kafka_run["counts"]) == 2


def test_exactly_the_expected_findings_arrive_keyed_by_uid(kafka_run):
    findings = kafka_run["findings"]
    assert sorted(key_of(f["value"]) for f in findings if not is_coverage(f["value"])) == EXPECTED_KEYS
    for item in findings:
        assert item["key"] == item["value"]["metadata"]["uid"]
        assert item["value"]["class_uid"] == 2004


def test_a_second_kafka_sink_gets_the_same_findings_as_ecs_keyed_by_uid(kafka_run):
    by_uid = {f["key"]: f["value"] for f in kafka_run["findings"]}
    ecs = kafka_run["ecs"]
    assert sorted(item["key"] for item in ecs) == sorted(by_uid)
    for item in ecs:
        assert item["value"]["event"]["kind"] == "alert" and item["value"]["event"]["id"] == item["key"]
        assert item["value"]["rule"]["id"] == by_uid[item["key"]]["finding_info"]["analytic"]["uid"]


def test_unparseable_record_reaches_the_dead_letter_topic_with_its_reason(kafka_run):
    (dead,) = kafka_run["dead"]
    assert "unrecognised record" in dead["value"]["reason"]
    assert json.loads(dead["value"]["raw"]) == {"not": "a cloud log"}
    assert dead["key"] == dead["value"]["ref"]


def test_each_coverage_finding_arrives_once_and_housekeeping_makes_none(kafka_run):
    """Issue 12: StopLogging (delivered twice) is one change finding; the flow stream that stops
    while CloudTrail continues is one gap finding; 100 DeleteLogStream calls and an application's
    own DeleteLogGroup are none. Every other coverage finding is the reference engine's."""
    coverage = [f["value"] for f in kafka_run["findings"] if is_coverage(f["value"])]
    assert all(f["key"] == f["value"]["metadata"]["uid"] for f in kafka_run["findings"])
    assert sorted(f["metadata"]["uid"] for f in coverage) == \
        sorted(f["metadata"]["uid"] for f in kafka_run["coverage_reference"])
    ours = [f for f in coverage if f["cloud"]["account"]["uid"] == COVERAGE_ACCOUNT]
    by_kind = {f["finding_info"]["types"][0]: f for f in ours}
    assert len(ours) == 2 and set(by_kind) == {"change", "gap"}, [f["message"] for f in ours]
    change, gap = by_kind["change"], by_kind["gap"]
    assert [e["uid"] for e in change["finding_info"]["related_events"]] == [kafka_run["coverage_expected"]["change"]]
    assert change["evidences"][0]["details"]["action"] == "StopLogging"
    assert gap["evidences"][0]["details"]["streams"] == [kafka_run["coverage_expected"]["gap"]]
    assert "AN1328 step 3" in gap["message"]
    changes = [f["evidences"][0]["details"]["action"] for f in coverage if f["finding_info"]["types"] == ["change"]]
    assert "DeleteLogStream" not in changes and "DeleteLogGroup" not in changes


def _produce(bootstrap: str, topic: str, values, partition=None) -> None:
    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for value in values:
            producer.send(topic, value.encode(), partition=partition)
        producer.flush()
    finally:
        producer.close()


def test_stop_with_savepoint_and_resume_in_a_changed_job_loses_no_finding(tmp_path, geoip_dir, kafka_bootstrap):
    """Half the telemetry, stop with a savepoint, resume from it in a job with more sinks, the
    other half: every finding.

    The flows arrive as flow-log text in a custom field order whose header line came before the
    savepoint (one per partition, as a reader of a watched file sees it at the top): the
    AN1328 chains need those flows, so they are found only if the header was restored with the
    state. The resumed job has two more sinks than the stopped one: its graph differs, and the
    operators' uids still map the state (Flink would refuse the savepoint otherwise)."""
    conf = tmp_path / "chainwatch.yaml"
    topics = kafka_config_file(conf, geoip_dir, kafka_bootstrap, checkpoint_dir=tmp_path / "checkpoints")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    # Split in event time: every chain has steps on both sides of the restart.
    split = "2026-10-11T00:20"
    halves = [[], []]
    for scenario in SCENARIOS:
        early = [r for r in scenario.records if r["eventTime"] < split]
        late = [r for r in scenario.records if r["eventTime"] >= split]
        halves[0].append(type(scenario)(scenario.name, scenario.analytic, scenario.key, 0, early, []))
        halves[1].append(type(scenario)(scenario.name, scenario.analytic, scenario.key, 0, late, scenario.flows))
    write_scenario_files(first, halves[0], with_clock=False)
    write_scenario_files(second, halves[1])
    # The coverage findings (the scenarios' StopLogging calls) arrive on the findings topic too.
    config = load_config(conf)
    coverage = engine.run(config, load_patterns(config.patterns_dir), [first, second]).coverage_findings
    expected = EXPECTED + len(coverage)
    header, *flows = (second / "vpcflow.log").read_text().splitlines()
    (second / "vpcflow.log").unlink()          # the flows go out below, as text in another field order
    order = list(reversed(range(len(header.split()))))

    def reorder(line):
        values = line.split()
        return " ".join(values[i] for i in order)

    create_topics(kafka_bootstrap, topics.values())
    config, job = _start(conf)
    feed(config, [first], progress=None)
    for partition in (0, 1):
        _produce(kafka_bootstrap, topics["flows"], [reorder(header)], partition)
    time.sleep(15)  # let the job read part of it; any point of the stream must do
    savepoint = stop_with_savepoint(job, (tmp_path / "savepoints").as_uri())
    before = read_topic(kafka_bootstrap, topics["findings"], 0, timeout_s=3, settle_s=0)

    data = yaml.safe_load(conf.read_text())
    data["sinks"] += [{"name": "archive", "type": "file", "path": str(tmp_path / "archive"), "format": "ecs"},
                      {"name": "dlq", "type": "file", "path": str(tmp_path / "dlq"), "stream": "dead_letters"}]
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    _config, resumed = _start(changed, savepoint=savepoint)
    try:
        feed(config, [second], progress=None)
        _produce(kafka_bootstrap, topics["flows"], [reorder(line) for line in flows])
        findings = read_topic(kafka_bootstrap, topics["findings"], expected, timeout_s=180)
        dead = read_topic(kafka_bootstrap, topics["dead"], 0, timeout_s=3, settle_s=0)
    finally:
        resumed.cancel().result()
    # At-least-once: a finding may arrive twice across the restart, always with the same uid.
    assert sorted(key_of(f["value"]) for f in {f["key"]: f for f in findings}.values()
                  if not is_coverage(f["value"])) == EXPECTED_KEYS
    # The coverage operator's state (waiting beats, each account's streams) came through too.
    messages = {f["metadata"]["uid"]: f["message"] for f in coverage + [f["value"] for f in findings]}
    got = {f["key"] for f in findings if is_coverage(f["value"])}
    want = {f["metadata"]["uid"] for f in coverage}
    assert got == want, ([messages[u] for u in got - want], [messages[u] for u in want - got])
    assert len(before) <= expected
    assert not [d for d in dead if "header" in d["value"]["reason"] or "fields" in d["value"]["reason"]], dead
