"""Issue 10, item 8: a savepoint maps onto a changed job. Every stateful operator of the streaming
job has a uid (chainwatch/flink/uids.py), so its operator id does not depend on the shape of the graph:
built twice, the second time with another source, more sinks and one pattern less, the stateful
operators both jobs have keep their ids. The graphs are built, not run (a JVM, no job: ~30 s).
The restore itself: tests/integration/test_kafka_job.py resumes a savepoint in a changed job.
(A source starting at the committed offsets, the default, also builds: PyFlink 2.0's own
committed_offsets() does not, sources/kafka.py.)"""
from __future__ import annotations

import pytest
import yaml

from chainwatch.config import load_config
from chainwatch.flink.parse_operators import parse_subtask
from chainwatch.patterns.pattern import load_patterns
from tests.conftest import REPO, TEST_CONF

# Stateless operators have no uid (chainwatch/flink/uids.py says why): PyFlink's own helpers, and
# chainwatch's filters and maps.
STATELESS_WITHOUT_UID = {"_stream_key_by_map_operator", "reader key", "Extract-Timestamp", "Timestamps/Watermarks", "Map",
                         "Filter", "FlatMap", "egress flows, alias bindings", "instance -> identity bindings",
                         "identity activity", "attributed egress", "unattributed egress",
                         "evidence stream beats and changes", "AN1328 findings", "AN1348 findings",
                         "event time cloudtrail", "event time flows", "event time watched", "findings: Kafka record",
                         "dead-letters: Kafka record", "ecs: Kafka record", "archive: ecs"}


def _config(tmp_path, name, *, extra_source=False, extra_sinks=False):
    data = yaml.safe_load(TEST_CONF.format(repo=REPO, geo=tmp_path, inputs=tmp_path, parallelism=2))
    data["enrichment"].pop("geoip")
    data["sources"] = [{"name": "cloudtrail", "type": "kafka", "topic": "ct", "format": "cloudtrail", "start": "committed"},
                       {"name": "flows", "type": "kafka", "topic": "fl", "format": "vpcflow", "start": "earliest"}]
    data["sinks"] = [{"name": "findings", "type": "kafka", "topic": "findings"},
                     {"name": "dead-letters", "type": "kafka", "topic": "dead", "stream": "dead_letters"}]
    if extra_source:
        data["sources"].insert(0, {"name": "watched", "type": "files", "paths": [str(tmp_path)]})
    if extra_sinks:
        data["sinks"][:0] = [{"name": "archive", "type": "file", "path": str(tmp_path / "a"), "format": "ecs"},
                             {"name": "ecs", "type": "kafka", "topic": "ecs", "format": "ecs",
                              "delivery_guarantee": "exactly-once"},
                             {"name": "dlq", "type": "file", "path": str(tmp_path / "d"), "stream": "dead_letters"}]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


def _operators(config, patterns) -> dict:
    """{uid or None: [(operator name, operator id)]} of the job graph build_streaming_job makes."""
    from chainwatch.flink.live_job import build_streaming_job
    env, table_sinks = build_streaming_job(config, patterns)
    if table_sinks is not None:
        table_sinks.attach()
    stream_graph = env._generate_stream_graph(clear_transformations=True)
    names = {}
    for node in stream_graph.getStreamNodes().toArray():
        names.setdefault(node.getTransformationUID(), []).append(node.getOperatorName())
    found, vertices = {}, {}
    for vertex in stream_graph.getJobGraph().getVerticesSortedTopologicallyFromSources():
        for pair in vertex.getOperatorIDs():
            uid = pair.getUserDefinedOperatorUid()
            found.setdefault(uid, []).append(pair.getGeneratedOperatorID().toString())
            vertices[pair.getGeneratedOperatorID().toString()] = vertex.getName()
    return {"ids": found, "names": names, "vertices": vertices}


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("uids")
    config = _config(tmp_path, "before")
    patterns = load_patterns(config.patterns_dir)
    changed = _config(tmp_path, "after", extra_source=True, extra_sinks=True)
    return _operators(config, patterns), _operators(changed, [p for p in patterns if p.id == "AN1328"]), patterns


def test_every_stateful_operator_has_a_uid(graphs):
    before, _after, patterns = graphs
    uids = set(before["ids"]) - {None}
    assert {"source-cloudtrail", "source-flows", "parse-cloudtrail", "parse-flows", "resolve-instance-v2",
            "resolve-identity-v2", "identity-steps-v2", "coverage-v1"} <= uids
    for pattern in patterns:
        assert any(u.startswith(f"cep-{pattern.id}-") and u.endswith("-match") for u in uids), pattern.id
        assert f"suppress-{pattern.id}" in uids         # each group's first finding and count
    for sink in ("findings", "dead-letters"):
        assert any(u.startswith(f"sink-{sink}-") and u.endswith("-sink") for u in uids), sink   # the Kafka writer
    # What has none: stateless operators only.
    for name in before["names"].get(None, []):       # fused operators: "Filter, FlatMap"
        rest = name
        for allowed in sorted(STATELESS_WITHOUT_UID, key=len, reverse=True):
            rest = rest.replace(allowed, "")
        assert not rest.strip(", "), name


def test_the_stateful_operators_keep_their_ids_in_a_changed_job(graphs):
    before, after, _patterns = graphs
    kept = ["source-cloudtrail", "source-flows", "parse-cloudtrail", "parse-flows", "resolve-instance-v2",
            "resolve-identity-v2", "identity-steps-v2", "suppress-AN1328"]
    kept += [u for u in before["ids"] if u and (u.startswith("cep-AN1328-") or u.startswith("sink-"))]
    for uid in kept:
        assert before["ids"][uid] == after["ids"].get(uid), uid
    # Without uids they would not: the changed job's operators without one have other ids, but
    # for a stateless one whose chain is the same in both jobs: AN1328's findings map, between
    # its MATCH_RECOGNIZE and its suppression (both with uids).
    unnamed_before, unnamed_after = set(before["ids"].get(None, [])), set(after["ids"].get(None, []))
    assert unnamed_before
    assert {before["vertices"][i].rsplit(" -> ", 1)[-1] for i in unnamed_before & unnamed_after} <= \
        {"AN1328 findings, _stream_key_by_map_operator"}


@pytest.mark.parametrize("parallelism, max_parallelism", [(1, 128), (2, 128), (2, 720), (3, 720), (8, 4096)])
def test_reader_keys_go_where_flink_sends_them(parallelism, max_parallelism):
    """flink.parse_operators.parse_subtask, in Python, is what Flink computes for PyFlink's INT keys."""
    from pyflink.java_gateway import get_gateway
    gateway = get_gateway()
    assign = gateway.jvm.org.apache.flink.runtime.state.KeyGroupRangeAssignment.assignKeyToParallelOperator
    for key in list(range(300)) + [2**31 - 1, -5, -(2**31)]:
        fields = gateway.new_array(gateway.jvm.Object, 1)
        fields[0] = key
        row = gateway.jvm.org.apache.flink.types.Row.of(fields)
        assert parse_subtask(key, parallelism, max_parallelism) == assign(row, max_parallelism, parallelism), key
