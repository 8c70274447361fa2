"""Shared by the streaming tests (Kafka in-process, restart, standalone cluster): scenario files,
a Kafka job config derived from the test config, and reading a topic until enough has arrived."""
from __future__ import annotations

import json
import time
import uuid

import yaml

from tests.builders import at, call, flow_line, user, write_cloudtrail, write_flows
from tests.conftest import REPO, TEST_CONF

CLOCK_DAY = 12   # after every scenario (day 10) by far more than the watermark delay


def clock_records():
    """A CloudTrail event and a flow two days after the scenarios: they move event time past them
    on both topics (a live stream always has newer events coming; a test has to send them)."""
    alice = user("111122223333", "clock-alice")
    record = call(at(CLOCK_DAY), alice, "sts.amazonaws.com", "GetCallerIdentity", "198.51.100.10", seed="clock")
    flow = flow_line("111122223333", "eni-0c10c10c10c10c10c", "10.0.9.9", "10.0.9.10", 100, at(CLOCK_DAY))
    return [record], [flow]


def write_scenario_files(directory, scenarios, with_clock=True):
    """All scenario records as one CloudTrail file and one flow-log file, plus the clock."""
    records = sorted((r for s in scenarios for r in s.records), key=lambda r: r["eventTime"])
    flows = sorted((f for s in scenarios for f in s.flows), key=lambda f: int(f.split()[10]))
    if with_clock:
        clock_ct, clock_flows = clock_records()
        records, flows = records + clock_ct, flows + clock_flows
    write_cloudtrail(directory / "cloudtrail.json.gz", records)
    write_flows(directory / "vpcflow.log", flows)
    return len(records) + len(flows)


def kafka_config_file(path, geoip_dir, bootstrap: str, *, parallelism=2, checkpoint_dir=None) -> dict:
    """The test config with Kafka topics (unique per call) in place of files."""
    data = yaml.safe_load(TEST_CONF.format(repo=REPO, geo=geoip_dir, inputs=path.parent, parallelism=parallelism))
    run = uuid.uuid4().hex[:8]
    topics = {"cloudtrail": f"cloudtrail-{run}", "flows": f"vpcflow-{run}", "findings": f"findings-{run}",
              "dead": f"dead-letters-{run}"}
    data["sources"] = [
        {"name": "cloudtrail", "type": "kafka", "topic": topics["cloudtrail"], "format": "cloudtrail", "start": "earliest"},
        {"name": "flows", "type": "kafka", "topic": topics["flows"], "format": "vpcflow", "start": "earliest"},
    ]
    data["kafka"] = {"bootstrap_servers": bootstrap, "group_id": f"chainwatch-{run}"}
    data["sinks"] = [{"name": "findings", "type": "kafka", "topic": topics["findings"]},
                     {"name": "dead-letters", "type": "kafka", "stream": "dead_letters", "topic": topics["dead"]}]
    # Long enough that keyed subtasks do not go idle between feeding and the clock records
    # (a short idle timeout let the CEP watermark pass rows still buffered elsewhere: seen dropped).
    data["time"]["idle_timeout"] = "30s"
    # A long-running job pins its history horizon, so a restore does not restart learning.
    data["steps"]["novelty"]["history_start"] = "2026-10-01T00:00:00Z"
    data["job"]["checkpoint_interval"] = "2s"
    if checkpoint_dir:
        data["job"]["checkpoint_dir"] = str(checkpoint_dir)
    path.write_text(yaml.safe_dump(data))
    return topics


def read_topic(bootstrap: str, topic: str, expect: int, timeout_s: float, settle_s: float = 5.0) -> list[dict]:
    """Everything on `topic`, waiting until `expect` records arrived (then `settle_s` more for extras)."""
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000, group_id=None)
    found, deadline, settled_at = [], time.monotonic() + timeout_s, None
    try:
        while time.monotonic() < deadline:
            found.extend({"key": m.key.decode() if m.key else None, "value": json.loads(m.value)} for m in consumer)
            if len(found) >= expect:
                settled_at = settled_at or time.monotonic() + settle_s
                if time.monotonic() >= settled_at:
                    break
    finally:
        consumer.close()
    return found
