"""A local Splunk-HEC-compatible endpoint for tests: a real HTTP server on 127.0.0.1.

It answers as HEC does (POST /services/collector/event, `Authorization: Splunk <token>`,
concatenated JSON envelopes, {"text", "code"} answers, `invalid-event-number` on bad data),
records every request it gets (headers, raw body, parsed events, the status it answered) and
can be told to fail the next requests (503, or 429 with Retry-After). Optionally TLS.
"""
from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVENT_PATH = "/services/collector/event"


@dataclass
class Received:
    at: float                    # time.monotonic() when the request arrived
    method: str
    path: str
    headers: dict
    body: bytes
    events: list | None = field(default_factory=list)  # None: not JSON
    status: int = 0


def parse_batch(body: bytes) -> list:
    """HEC's batch format: JSON objects one after another (whitespace between them allowed)."""
    text, decoder, events, at = body.decode("utf-8"), json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return events
        event, at = decoder.raw_decode(text, at)
        events.append(event)


class HecServer:
    def __init__(self, token: str, *, certfile: str | None = None, keyfile: str | None = None):
        self.token = token
        self.requests: list[Received] = []
        self.events: list = []            # accepted events, in arrival order
        self.reject_event = None          # predicate: answer 400 with invalid-event-number for it
        self._failures: list[tuple[int, dict, bool]] = []
        self._lock = threading.Condition()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.scheme = "http"
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None,
                  echo_auth: bool = False, headers: dict | None = None) -> None:
        """Answer the next `count` requests with `status` (and Retry-After, other headers such as
        Location); echo_auth: a text page that repeats the Authorization header, as a
        misconfigured proxy's error page may."""
        headers = dict(headers or {}, **({"Retry-After": retry_after} if retry_after else {}))
        with self._lock:
            self._failures.extend([(status, headers, echo_auth)] * count)

    def wait_for_events(self, count: int, timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: len(self.events) >= count, timeout)

    def batches(self) -> list[int]:
        """Sizes of the batches it accepted."""
        with self._lock:
            return [len(r.events) for r in self.requests if r.status == 200]

    def _answer(self, received: Received) -> tuple[int, dict | str, dict]:
        try:
            received.events = parse_batch(received.body)  # recorded whatever the answer
        except ValueError:
            received.events = None
        if received.method != "POST":
            return 405, {"text": "Method not allowed", "code": 405}, {}
        if received.path != EVENT_PATH:
            return 404, {"text": "The requested URL was not found on this server.", "code": 404}, {}
        if self._failures:
            status, headers, echo = self._failures.pop(0)
            answer = (f"<html>Bad gateway. Authorization: {received.headers.get('Authorization')}</html>" if echo
                      else {"text": "Server is busy", "code": 9})
            return status, answer, headers
        auth = received.headers.get("Authorization", "")
        if not auth:
            return 401, {"text": "Token is required", "code": 2}, {}
        if auth != f"Splunk {self.token}":
            return 403, {"text": "Invalid token", "code": 4}, {}
        events = received.events
        if events is None:
            return 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": 0}, {}
        for number, event in enumerate(events):
            if not isinstance(event, dict) or "event" not in event:
                self.events.extend(events[:number])
                return 400, {"text": "Event field is required", "code": 12, "invalid-event-number": number}, {}
            if self.reject_event and self.reject_event(event):
                self.events.extend(events[:number])
                return 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": number}, {}
        self.events.extend(events)
        return 200, {"text": "Success", "code": 0}, {}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received = Received(time.monotonic(), self.command, self.path, dict(self.headers.items()), body)
                with server._lock:
                    status, answer, headers = server._answer(received)
                    received.status = status
                    server.requests.append(received)
                    server._lock.notify_all()
                payload = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if isinstance(answer, str) else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST  # recorded too: a client that follows a redirect may change method

            def log_message(self, *args):
                pass  # the tests read server.requests

        return Handler
