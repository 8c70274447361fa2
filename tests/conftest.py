"""Shared fixtures: real GeoIP databases built for the tests and a job config that uses them."""
from __future__ import annotations

from pathlib import Path

import pytest

from chainwatch.config import load_config
from chainwatch.patterns.pattern import load_patterns
from chainwatch.sample import build_geoip

REPO = Path(__file__).resolve().parent.parent

TEST_CONF = """
sources:
  - name: tests
    paths: [{inputs}]
patterns: {repo}/patterns
reference:
  privileged_apis: [{repo}/conf/aws/privileged_apis.yaml, {repo}/conf/gcp/privileged_apis.yaml,
                    {repo}/conf/azure/privileged_apis.yaml]
  creation_events: [{repo}/conf/aws/creation_events.yaml, {repo}/conf/gcp/creation_events.yaml,
                    {repo}/conf/azure/creation_events.yaml]
time:
  watermark_delay: 15m
  idle_timeout: 1m
enrichment:
  geoip:
    city_db: {geo}/chainwatch-City.mmdb
    asn_db: {geo}/chainwatch-ASN.mmdb
  networks:
    org_cidrs: [10.0.0.0/8, 198.51.100.0/24]
    egress_allowlist: [185.199.108.0/22]
steps:
  novelty: {{max_age: 24h, learning_period: 2d}}
  object_access_spike: {{window: 10m, floor_reads: 100, multiplier: 10, min_history_windows: 6,
                         peer_baselines: {{role: 8, user: 8}}}}
  exfiltration: {{window: 1h, min_bytes: 100MB}}
  # Org: AWS account; GCP project acme-prod and domain acme.example; Azure tenant 1111...5555.
  # Partners (tests/data/allowlist.yaml): AWS 7777..., GCP project partner-ops, Azure tenant 7777...bbbb.
  # First-party federation: GitHub Actions of the org's repositories only (others learned: EKS, GKE).
  cross_account_entry: {{org_accounts: ["111122223333", "acme-prod", "acme.example",
                                        "11111111-2222-3333-4444-555555555555"],
                         first_party_providers: [{{provider: token.actions.githubusercontent.com,
                                                  subjects: ["repo:example-org/*"]}}]}}
  privileged_burst: {{span: 5m, min_calls: 3}}
  unfamiliar_origin: {{learning_period: 2d}}
job:
  parallelism: {parallelism}
  python_execution_mode: thread
allowlist: {repo}/tests/data/allowlist.yaml
"""


@pytest.fixture(scope="session")
def geoip_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("geoip")
    build_geoip(directory)
    return directory


@pytest.fixture(scope="session")
def config_path(tmp_path_factory, geoip_dir) -> Path:
    path = tmp_path_factory.mktemp("conf") / "chainwatch.yaml"
    path.write_text(TEST_CONF.format(repo=REPO, geo=geoip_dir, inputs=path.parent, parallelism=2))
    return path


@pytest.fixture(scope="session")
def config(config_path):
    return load_config(config_path)


@pytest.fixture(scope="session")
def patterns(config):
    return load_patterns(config.patterns_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory):
    """KAFKA_BOOTSTRAP when set (a real Kafka cluster), else a local noida-db broker on a free port."""
    import os
    from chainwatch.ops.dev_broker import LocalBroker
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    broker = LocalBroker(tmp_path_factory.mktemp("broker")).start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory, config):
    """A local Flink standalone cluster (JobManager + 2 TaskManagers), shared by the cluster tests
    and stopped by its PIDs at the end of the session, even after a failure."""
    from chainwatch.ops import cluster
    state_dir = tmp_path_factory.mktemp("flink-cluster")
    try:
        cluster.start(state_dir, config, taskmanagers=2, progress=lambda *_: None)
        yield state_dir
    finally:
        cluster.stop(state_dir, progress=lambda *_: None)
