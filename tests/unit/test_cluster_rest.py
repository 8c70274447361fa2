"""The REST client of the local cluster against a real HTTP server on loopback: a 503 (the
JobManager answers while it still elects its leader, seen on a loaded machine) is NotReady, which
`cluster.start` keeps waiting through; other errors stay ClusterError with Flink's message."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chainwatch import cluster

ANSWERS = {"/taskmanagers": (503, {"errors": ["Service temporarily unavailable due to an ongoing leader election."]}),
           "/jobs/nope": (404, {"errors": ["Job nope not found"]}),
           "/overview": (200, {"taskmanagers": 2})}


class _Flink(BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = ANSWERS[self.path]
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def state(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cluster.ClusterState(str(tmp_path), str(tmp_path), f"http://127.0.0.1:{server.server_port}", {}, 0.0)
    finally:
        server.shutdown()
        server.server_close()


def test_503_during_leader_election_is_not_ready(state):
    with pytest.raises(cluster.NotReady, match="leader election"):
        cluster.rest(state, "/taskmanagers")


def test_other_http_errors_are_cluster_errors_with_flinks_message(state):
    with pytest.raises(cluster.ClusterError, match="HTTP 404.*Job nope not found") as caught:
        cluster.rest(state, "/jobs/nope")
    assert not isinstance(caught.value, cluster.NotReady)
    assert cluster.rest(state, "/overview") == {"taskmanagers": 2}
