"""Issue 4 acceptance: CloudTrail and flow records produced to the broker, the job submitted with
`flink run` to a local standalone cluster (a JobManager and two TaskManagers) at parallelism 2,
exactly the expected findings read back from the findings topic, keyed by finding uid."""
from __future__ import annotations

import pytest

from chainwatch.config import load_config
from chainwatch.ops import cluster
from chainwatch.ops.dev_broker import create_topics, feed
from tests.findings_by_key import is_coverage, key_of
from tests.scenarios import all_scenarios
from tests.streaming import kafka_config_file, read_topic, write_scenario_files

SCENARIOS = all_scenarios()
EXPECTED_KEYS = sorted(s.key for s in SCENARIOS for _ in range(s.expect))



@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory, geoip_dir, kafka_bootstrap, standalone_cluster):
    directory = tmp_path_factory.mktemp("cluster-kafka")
    conf = directory / "chainwatch.yaml"
    topics = kafka_config_file(conf, geoip_dir, kafka_bootstrap, parallelism=2,
                               checkpoint_dir=directory / "checkpoints")
    inputs = directory / "inputs"
    inputs.mkdir()
    write_scenario_files(inputs, SCENARIOS)
    create_topics(kafka_bootstrap, topics.values())
    job_id = cluster.submit(standalone_cluster, conf, parallelism=2, detached=True)
    try:
        cluster.wait_for_job(standalone_cluster, job_id, timeout=180)
        counts = feed(load_config(conf), [inputs], progress=None)
        # the scenarios' StopLogging calls: a coverage finding each, beside the patterns' findings
        stops = sum(1 for s in SCENARIOS for r in s.records if r["eventName"] == "StopLogging")
        findings = read_topic(kafka_bootstrap, topics["findings"], len(EXPECTED_KEYS) + stops, timeout_s=240)
        job = cluster.rest(cluster.running_state(standalone_cluster), f"/jobs/{job_id}")
    finally:
        cluster.cancel(standalone_cluster, job_id)
    return {"findings": findings, "counts": counts, "job": job}


def test_job_ran_on_two_taskmanagers_at_parallelism_2(cluster_run, standalone_cluster):
    overview = cluster.rest(cluster.running_state(standalone_cluster), "/taskmanagers")
    assert len(overview["taskmanagers"]) == 2
    assert max(v["parallelism"] for v in cluster_run["job"]["vertices"]) == 2


def test_exactly_the_expected_findings_on_the_findings_topic(cluster_run):
    findings = cluster_run["findings"]
    assert sorted(key_of(f["value"]) for f in findings if not is_coverage(f["value"])) == EXPECTED_KEYS
    for item in findings:
        assert item["key"] == item["value"]["metadata"]["uid"]
        assert item["value"]["finding_info"]["analytic"]["uid"] in ("AN1328", "AN1348", "CW-COVERAGE")
