"""A Splunk HTTP Event Collector client: batches, retries with back-off, reasons for what fails.

Standard library only (urllib): one POST per batch needs no connection pool, and the job's
dependencies stay what Flink needs. The body is HEC's batch format, JSON envelopes written one
after another. Retried: connection errors and timeouts, 408, 429 and 5xx, with exponential
back-off and jitter, honouring Retry-After. Not retried: other 4xx (400 bad data, 401/403
token, 413 too large): the same request would fail the same way. TLS certificates are
verified unless verify_tls is false, against ca_file when given. Redirects are not followed
(the token must not travel to another address). The token is never logged: every reason that
leaves this module is scrubbed of it.
"""
from __future__ import annotations

import http.client
import json
import logging
import random
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from chainwatch import __version__
from chainwatch.sinks.secrets import Secret

log = logging.getLogger("chainwatch.sinks.hec_client")

EVENT_PATH = "/services/collector/event"
_RETRY_STATUS = frozenset({408, 429})
# Failures are logged at most this often per sink (every one is in the dead-letter output):
# in thread mode PyFlink's Python log lines go to the JVM's stderr, a pipe nobody reads, and
# a long outage must not fill it (a full pipe blocks the job).
ERROR_LOG_INTERVAL_S = 60.0


def event_url(url: str) -> str:
    base = url.rstrip("/")
    return base if base.endswith(EVENT_PATH) else base + EVENT_PATH


def split_batches(sizes: list[int], batch_size: int, max_bytes: int) -> list[list[int]]:
    """Indexes of the events, grouped into batches of at most batch_size events and max_bytes
    (an event larger than max_bytes travels alone; HEC then answers 413 if it is too large)."""
    batches, current, current_bytes = [], [], 0
    for index, size in enumerate(sizes):
        if current and (len(current) >= batch_size or current_bytes + size > max_bytes):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(index)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class _Answer:
    status: int | None           # None: no HTTP answer (connection error, timeout)
    reason: str = ""
    retryable: bool = False
    retry_after: float | None = None
    invalid_event: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx surfaces as an HTTPError, and fails fast


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class HecClient:
    def __init__(self, sink, token: Secret, *, sleep=time.sleep, jitter=random.random):
        self.sink, self.url = sink, event_url(sink.url)
        self._token = token
        self._sleep, self._jitter = sleep, jitter
        self.requests = 0  # HTTP requests made, retries included (for logs and tests)
        self._next_error_log, self._suppressed = 0.0, 0
        try:  # a ca_file replaces the system's CAs: trust exactly the CA that signed the HEC endpoint
            context = ssl.create_default_context(cafile=sink.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"HEC sink {sink.name}: cannot load ca_file {sink.ca_file}: {exc}") from None
        if not sink.verify_tls:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            log.warning("HEC sink %s: TLS certificate verification is off (verify_tls: false)", sink.name)
        if self.url.startswith("http://"):
            log.warning("HEC sink %s: %s is plain HTTP; the token travels unencrypted", sink.name, self.url)
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())

    def __repr__(self) -> str:
        return f"HecClient({self.sink.name!r}, {self.url!r}, token={self._token!r})"

    def deliver(self, lines: list[str]) -> dict[int, str]:
        """POST the rendered envelopes in batches; returns {index: reason} of those not delivered."""
        bodies = [line.encode("utf-8") for line in lines]
        failures: dict[int, str] = {}
        for batch in split_batches([len(b) for b in bodies], self.sink.batch_size, self.sink.max_batch_bytes):
            while batch:
                answer = self._send(b"".join(bodies[i] for i in batch), len(batch))
                if answer.ok:
                    break
                invalid = answer.invalid_event
                if invalid is not None and 0 <= invalid < len(batch):
                    # HEC indexed the events before the invalid one and stopped there: only that one
                    # failed; the rest are sent again.
                    failures[batch[invalid]] = answer.reason
                    batch = batch[invalid + 1:]
                    continue
                failures.update((i, answer.reason) for i in batch)
                break
        if failures:
            self._log_failures(len(failures), len(lines), next(iter(failures.values())))
        return failures

    def _log_failures(self, failed: int, total: int, reason: str) -> None:
        now = time.monotonic()
        if now < self._next_error_log:
            self._suppressed += 1
            return
        more = f" ({self._suppressed} more failed deliveries since the last message)" if self._suppressed else ""
        log.error("HEC sink %s: %d of %d finding(s) not delivered, sent to the dead-letter output: %s%s",
                  self.sink.name, failed, total, reason, more)
        self._next_error_log, self._suppressed = now + ERROR_LOG_INTERVAL_S, 0

    def _send(self, body: bytes, count: int) -> _Answer:
        attempts = self.sink.max_retries + 1
        for attempt in range(1, attempts + 1):
            answer = self._post(body)
            if answer.ok:
                return answer
            if not answer.retryable:
                return _Answer(answer.status, f"{answer.reason} (not retried)", invalid_event=answer.invalid_event)
            if attempt == attempts:
                return _Answer(answer.status, f"{answer.reason} (gave up after {attempts} attempts)")
            delay = self._delay(attempt, answer.retry_after)
            log.info("HEC sink %s: batch of %d: %s; retry %d of %d in %.2fs", self.sink.name, count,
                     answer.reason, attempt, attempts - 1, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential back-off with equal jitter (half fixed, half random), capped at max_backoff;
        at least what the server asked for in Retry-After (within the same cap)."""
        cap = self.sink.max_backoff_ms / 1000
        base = min(cap, self.sink.retry_backoff_ms / 1000 * 2 ** (attempt - 1))
        delay = base / 2 + self._jitter() * base / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return delay

    def _post(self, body: bytes) -> _Answer:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Authorization": f"Splunk {self._token.reveal()}", "Content-Type": "application/json",
            "User-Agent": f"chainwatch/{__version__}"})
        self.requests += 1
        try:
            with self._opener.open(request, timeout=self.sink.timeout_ms / 1000) as response:
                response.read()
                return _Answer(response.status)
        except urllib.error.HTTPError as exc:
            return self._http_error(exc)
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                return _Answer(None, self._scrub(f"TLS certificate not trusted: {reason.verify_message}"))
            return _Answer(None, self._scrub(f"connection error: {reason}"), retryable=True)
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
            return _Answer(None, self._scrub(f"connection error: {type(exc).__name__}: {exc}"), retryable=True)

    def _http_error(self, exc: urllib.error.HTTPError) -> _Answer:
        try:
            text = exc.read(4096).decode("utf-8", "replace")
        except OSError:
            text = ""
        invalid = None
        try:
            answer = json.loads(text)  # HEC: {"text": "Invalid token", "code": 4, "invalid-event-number": 3}
            detail = f"{answer.get('text', '')} (HEC code {answer.get('code')})"
            invalid = answer.get("invalid-event-number")
        except (ValueError, AttributeError):
            detail = " ".join(text.split())[:200] or exc.reason
        status = exc.code
        retryable = status in _RETRY_STATUS or status >= 500
        return _Answer(status, self._scrub(f"HTTP {status}: {detail}"), retryable,
                       _retry_after(exc.headers.get("Retry-After")) if exc.headers else None,
                       invalid if isinstance(invalid, int) and status == 400 else None)

    def _scrub(self, text: str) -> str:
        """A proxy's error page may echo the request headers: the token never leaves in a reason."""
        return str(text).replace(self._token.reveal(), "***")
