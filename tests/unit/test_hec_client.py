"""The Splunk HEC client (chainwatch/sinks/hec_client.py) against a real local HEC-compatible server.

No Flink here (tests/integration/test_hec_sink.py runs the operator in a job): batching, the
token header, retries and back-off, fail-fast answers, partial batches, TLS, and the token
never showing in logs, reprs or reasons.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import shutil
import socket
import subprocess
import time

import pytest

from chainwatch.config.sink_settings import SinkConfig
from chainwatch.sinks.hec_client import HecClient, event_url, split_batches
from chainwatch.sinks.secrets import Secret, SecretError, SecretSource
from tests.hec_server import HecServer

TOKEN = "11111111-2222-3333-4444-555566667777"


def sink_for(url, **options) -> SinkConfig:
    settings = dict(name="splunk", type="hec", format="hec", url=url, token=SecretSource(env="HEC_TOKEN"),
                    batch_size=2, max_retries=3, retry_backoff_ms=10, max_backoff_ms=2000, timeout_ms=5000)
    settings.update(options)
    return SinkConfig(**settings)


def lines(n: int) -> list[str]:
    return [json.dumps({"time": 1.0 + i, "event": {"n": i}}) for i in range(n)]


@pytest.fixture
def server():
    with HecServer(TOKEN) as running:
        yield running


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once it is closed


# --- pure parts ----------------------------------------------------------------------------

def test_split_batches_by_count_and_bytes():
    assert split_batches([10] * 5, 2, 1000) == [[0, 1], [2, 3], [4]]
    assert split_batches([10, 10, 10, 10], 100, 25) == [[0, 1], [2, 3]]
    assert split_batches([5, 50, 5], 100, 20) == [[0], [1], [2]]  # an oversized event travels alone
    assert split_batches([], 10, 10) == []


def test_event_url():
    assert event_url("https://splunk:8088") == "https://splunk:8088/services/collector/event"
    assert event_url("https://splunk:8088/") == "https://splunk:8088/services/collector/event"
    assert event_url("https://splunk/services/collector/event") == "https://splunk/services/collector/event"


# --- delivery ----------------------------------------------------------------------------

def test_batches_carry_the_token_header_and_concatenated_envelopes(server):
    client = HecClient(sink_for(server.url), Secret(TOKEN, "test"))
    sent = lines(5)
    assert client.deliver(sent) == {}
    assert server.batches() == [2, 2, 1]
    assert [e["event"]["n"] for e in server.events] == [0, 1, 2, 3, 4]
    first = server.requests[0]
    assert first.path == "/services/collector/event"
    assert first.headers["Authorization"] == f"Splunk {TOKEN}"
    assert first.headers["Content-Type"] == "application/json"
    assert first.body == (sent[0] + sent[1]).encode()  # HEC's batch format: envelopes back to back


def test_batches_are_cut_by_bytes(server):
    sent = lines(6)
    client = HecClient(sink_for(server.url, batch_size=100, max_batch_bytes=len(sent[0]) * 3), Secret(TOKEN, "t"))
    assert client.deliver(sent) == {}
    assert server.batches() == [3, 3]


def test_a_503_is_retried_with_the_same_batch(server):
    server.fail_next(2, 503)
    client = HecClient(sink_for(server.url), Secret(TOKEN, "test"))
    assert client.deliver(lines(2)) == {}
    assert [r.status for r in server.requests] == [503, 503, 200]
    assert len({r.body for r in server.requests}) == 1
    assert client.requests == 3


def test_a_429_waits_at_least_retry_after(server):
    server.fail_next(1, 429, retry_after="1")
    client = HecClient(sink_for(server.url, retry_backoff_ms=1), Secret(TOKEN, "test"))
    assert client.deliver(lines(1)) == {}
    first, second = server.requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.95  # back-off alone would be ~1 ms


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    client = HecClient(sink_for("http://127.0.0.1:9", retry_backoff_ms=100, max_backoff_ms=1000),
                       Secret(TOKEN, "t"), jitter=lambda: 1.0)
    assert [client._delay(n, None) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    low = HecClient(client.sink, Secret(TOKEN, "t"), jitter=lambda: 0.0)
    assert [low._delay(n, None) for n in (1, 2)] == [0.05, 0.1]  # at least half the back-off
    assert client._delay(1, 5.0) == 1.0 and client._delay(1, 0.5) == 0.5  # Retry-After, within the cap


def test_a_wrong_token_fails_fast(server):
    client = HecClient(sink_for(server.url), Secret("wrong-token", "test"))
    failures = client.deliver(lines(3))
    assert sorted(failures) == [0, 1, 2]
    assert failures[0] == "HTTP 403: Invalid token (HEC code 4) (not retried)"
    assert len(server.requests) == 2  # one request per batch, none repeated


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_client_errors_are_not_retried(server, status):
    server.fail_next(1, status)
    failures = HecClient(sink_for(server.url), Secret(TOKEN, "test")).deliver(lines(1))
    assert failures[0].startswith(f"HTTP {status}: ") and failures[0].endswith("(not retried)")
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_server_errors_and_throttling_are_retried(server, status):
    server.fail_next(1, status)
    assert HecClient(sink_for(server.url), Secret(TOKEN, "test")).deliver(lines(1)) == {}
    assert [r.status for r in server.requests] == [status, 200]


def test_redirects_are_not_followed(server):
    with HecServer(TOKEN) as elsewhere:
        server.fail_next(1, 302, headers={"Location": elsewhere.url + "/services/collector/event"})
        failures = HecClient(sink_for(server.url), Secret(TOKEN, "test")).deliver(lines(1))
        assert failures[0].startswith("HTTP 302") and failures[0].endswith("(not retried)")
        assert elsewhere.requests == []  # the token did not travel there


def test_a_bad_event_fails_alone_and_the_rest_of_its_batch_is_resent(server):
    server.reject_event = lambda envelope: envelope["event"]["n"] == 2
    client = HecClient(sink_for(server.url, batch_size=10), Secret(TOKEN, "test"))
    failures = client.deliver(lines(5))
    assert list(failures) == [2] and "HTTP 400: Invalid data format (HEC code 6)" in failures[2]
    assert [e["event"]["n"] for e in server.events] == [0, 1, 3, 4]
    assert [len(r.events) for r in server.requests] == [5, 2]


def test_a_server_that_stays_down_gives_up_after_the_retries():
    client = HecClient(sink_for(closed_port_url(), max_retries=2), Secret(TOKEN, "test"))
    started = time.monotonic()
    failures = client.deliver(lines(2))
    assert list(failures) == [0, 1]
    assert "connection error" in failures[0] and "gave up after 3 attempts" in failures[0]
    assert client.requests == 3 and time.monotonic() - started < 5


# --- TLS -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def test_tls_is_verified_by_default_and_trusts_the_given_ca_file(certificate):
    cert, key = certificate
    with HecServer(TOKEN, certfile=cert, keyfile=key) as server:
        untrusted = HecClient(sink_for(server.url), Secret(TOKEN, "t")).deliver(lines(1))
        assert "TLS certificate not trusted" in untrusted[0] and "not retried" in untrusted[0]
        assert HecClient(sink_for(server.url, ca_file=cert), Secret(TOKEN, "t")).deliver(lines(1)) == {}
        assert HecClient(sink_for(server.url, verify_tls=False), Secret(TOKEN, "t")).deliver(lines(1)) == {}
        assert len(server.events) == 2
    with pytest.raises(ValueError, match="cannot load ca_file /nonexistent/ca.pem"):
        HecClient(sink_for("https://127.0.0.1:9", ca_file="/nonexistent/ca.pem"), Secret(TOKEN, "t"))


# --- the token never shows -------------------------------------------------------------------

def test_the_token_is_not_in_logs_reprs_or_reasons(server, caplog, monkeypatch):
    monkeypatch.setenv("HEC_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    sink = sink_for(server.url, max_retries=1)
    client = HecClient(sink, sink.token.read())
    server.fail_next(2, 502, echo_auth=True)  # a proxy that echoes the request headers
    failures = client.deliver(lines(1))
    assert "gave up after 2 attempts" in failures[0] and "Splunk ***" in failures[0]
    assert "retry 1 of 1" in caplog.text and "not delivered" in caplog.text  # it did log
    for text in (caplog.text, repr(client), repr(sink), str(client._token), *failures.values()):
        assert TOKEN not in text
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(client._token)


def test_failures_are_logged_at_most_once_a_minute(caplog):
    caplog.set_level(logging.INFO, logger="chainwatch.sinks.hec_client")
    client = HecClient(sink_for(closed_port_url(), max_retries=0), Secret(TOKEN, "test"))
    for _ in range(3):
        assert len(client.deliver(lines(1))) == 1  # every failure still becomes a dead letter
    assert caplog.text.count("not delivered") == 1
    client._next_error_log = 0.0  # a minute later
    client.deliver(lines(1))
    assert "(2 more failed deliveries since the last message)" in caplog.text


def test_secret_sources_name_where_and_never_what(tmp_path, monkeypatch):
    monkeypatch.delenv("HEC_TOKEN", raising=False)
    with pytest.raises(SecretError, match="environment variable HEC_TOKEN is not set"):
        SecretSource(env="HEC_TOKEN").read()
    monkeypatch.setenv("HEC_TOKEN", "  ")
    with pytest.raises(SecretError, match="HEC_TOKEN is empty"):
        SecretSource(env="HEC_TOKEN").read()
    monkeypatch.setenv("HEC_TOKEN", "abc def-secret")
    with pytest.raises(SecretError, match="whitespace") as info:
        SecretSource(env="HEC_TOKEN").read()
    assert "secret" not in str(info.value).replace("(not shown)", "")
    with pytest.raises(SecretError, match=f"cannot read file {tmp_path}/missing"):
        SecretSource(file=str(tmp_path / "missing")).read()
    token_file = tmp_path / "hec.token"
    token_file.write_text(TOKEN + "\n")
    secret = SecretSource(file=str(token_file)).read()
    assert secret.reveal() == TOKEN and repr(secret) == f"<secret from file {token_file}>"


def test_sink_config_is_picklable_without_the_token(monkeypatch):
    monkeypatch.setenv("HEC_TOKEN", TOKEN)
    sink = sink_for("http://127.0.0.1:9")
    assert TOKEN.encode() not in pickle.dumps(sink)  # what Flink ships to its workers
    assert dataclasses.replace(sink, batch_size=1).token == SecretSource(env="HEC_TOKEN")
