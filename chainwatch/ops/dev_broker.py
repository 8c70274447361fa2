"""A local Kafka-protocol broker for development and tests (noida-db, from PyPI), and a feeder
that puts telemetry files onto the configured source topics in event-time order.

Development only: `pip install -e ".[dev]"` brings noida-db and kafka-python. Production uses
the organisation's Kafka; the job itself talks to either through Flink's Kafka connector.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from chainwatch.core.event import ParseError
from chainwatch.parsers import PARSERS, parse_record, unwrap
from chainwatch.sources.files import discover, records_from_file


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _noida() -> str:
    found = shutil.which("noida-db") or str(Path(sys.executable).parent / "noida-db")
    if not Path(found).exists():
        raise RuntimeError("noida-db is not installed: pip install -e '.[dev]'")
    return found


class LocalBroker:
    """One noida-db process serving Kafka on 127.0.0.1:port; stopped by its PID."""

    def __init__(self, data_dir: str | Path, port: int | None = None):
        self.data_dir, self.port = Path(data_dir), port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> "LocalBroker":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "broker.log", "ab")
        self.process = subprocess.Popen(
            [_noida(), "start", "--only", "kafka", "--kafka-port", str(self.port), "--host", "127.0.0.1",
             "--data-dir", str(self.data_dir)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (self.data_dir / "broker.pid").write_text(f"{self.process.pid} {self.port}\n")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"broker exited with {self.process.returncode}; see {self.data_dir / 'broker.log'}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"broker did not listen on {self.bootstrap} within {timeout_s:.0f}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        pid_file = self.data_dir / "broker.pid"
        if pid_file.exists():
            pid_file.unlink()


def stop_recorded(data_dir: str | Path) -> bool:
    """Stop a broker started by `chainwatch broker up` (its PID is in data_dir/broker.pid)."""
    pid_file = Path(data_dir) / "broker.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    pid_file.unlink()
    return True


def create_topics(bootstrap: str, topics, partitions: int = 2) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="chainwatch-admin")
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(t, partitions, 1) for t in topics if t and t not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def _payload(payload, framing: str) -> str:
    if framing == "flowtext":
        header, line = payload          # flow lines travel as JSON objects, as Firehose ships them
        return json.dumps(dict(zip(header, line.split())))
    if framing in ("text", "unicode", "error"):
        raw = payload[-1] if isinstance(payload, tuple) else payload
        if isinstance(raw, bytes):          # an unreadable file's bytes: sent as read, lossily as text
            return raw.decode("utf-8", "replace")
        return raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"))
    return json.dumps(payload, separators=(",", ":"))


def _family(payload, framing: str) -> str:
    if framing == "flowtext":
        return "vpcflow"
    record = unwrap(payload) if isinstance(payload, dict) else None
    for parser in PARSERS:
        if record is not None and parser.recognises(record):
            return parser.FORMAT
    return "auto"


def _event_time(payload, framing: str, reference) -> int:
    try:
        return min((e["ts"] for e in parse_record(payload, framing, reference)), default=0)
    except (ParseError, Exception):  # unparseable records still go out (the job dead-letters them)
        return 0


def topic_for(family: str, sources) -> str:
    kafka = [s for s in sources if s.type == "kafka"]
    for source in kafka:
        if source.format == family:
            return source.topic
    auto = [s for s in kafka if s.format == "auto"]
    if auto:
        return auto[0].topic
    if family == "auto" and kafka:   # unrecognised: the job dead-letters it with the reason
        return kafka[0].topic
    raise ValueError(f"no Kafka source takes {family} records: add a source with format {family} or auto")


def config_topics(config) -> list[str]:
    """Every topic the config reads or writes: its Kafka sources and its kafka sinks."""
    return sorted({s.topic for s in config.sources if s.type == "kafka"}
                  | {s.topic for s in config.sinks if s.type == "kafka"})


def feed(config, inputs, bootstrap: str | None = None, progress=print) -> dict:
    """Produce the records of `inputs` to the configured source topics, oldest first."""
    from kafka import KafkaProducer
    records = []
    for path in discover(inputs):
        for _ref, payload, framing in records_from_file(path):
            records.append((_event_time(payload, framing, config.reference), _family(payload, framing),
                            _payload(payload, framing)))
    records.sort(key=lambda r: r[0])
    bootstrap = bootstrap or config.kafka.bootstrap_servers
    create_topics(bootstrap, config_topics(config))
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    counts: dict[str, int] = {}
    try:
        for n, (_ts, family, value) in enumerate(records, start=1):
            topic = topic_for(family, config.sources)
            producer.send(topic, value.encode("utf-8", "surrogateescape"))    # bytes that were not UTF-8, as read
            counts[topic] = counts.get(topic, 0) + 1
            if progress and n % 5000 == 0:
                progress(f"  fed {n:,}/{len(records):,} records")
        producer.flush()
    finally:
        producer.close()
    return counts
