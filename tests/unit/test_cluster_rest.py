"""The REST client of the local cluster against a real HTTP server on loopback: a 503 (the
JobManager answers while it still elects its leader, seen on a loaded machine) is NotReady, which
`cluster.start` keeps waiting through; other errors stay ClusterError with Flink's message."""
from __future__ import annotations

import pytest

from chainwatch.ops import cluster
from tests.fake_rest import fake_rest

ANSWERS = {"/taskmanagers": (503, {"errors": ["Service temporarily unavailable due to an ongoing leader election."]}),
           "/jobs/nope": (404, {"errors": ["Job nope not found"]}),
           "/overview": (200, {"taskmanagers": 2})}


@pytest.fixture
def state(tmp_path):
    with fake_rest(ANSWERS.__getitem__) as url:
        yield cluster.ClusterState(str(tmp_path), str(tmp_path), url, {}, 0.0)


def test_503_during_leader_election_is_not_ready(state):
    with pytest.raises(cluster.NotReady, match="leader election"):
        cluster.rest(state, "/taskmanagers")


def test_other_http_errors_are_cluster_errors_with_flinks_message(state):
    with pytest.raises(cluster.ClusterError, match="HTTP 404.*Job nope not found") as caught:
        cluster.rest(state, "/jobs/nope")
    assert not isinstance(caught.value, cluster.NotReady)
    assert cluster.rest(state, "/overview") == {"taskmanagers": 2}
