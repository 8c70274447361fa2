"""chainwatch.flink.metrics: the dead-letter reason classes (a fixed vocabulary: never a value) of what
the reading and normalising code really produces, and the counter registry's rules."""
from __future__ import annotations

import gzip
import json

import pytest

from chainwatch.core.units import parse_timestamp_ms
from chainwatch.enrich.normalise import Normaliser
from chainwatch.flink.metrics import COUNTERS, REASONS, Metrics
from chainwatch.sources.files import records_from_file, records_from_line
from tests.builders import minimal_cloudtrail as _cloudtrail

NOW = parse_timestamp_ms("2026-11-29T12:00:00Z")
SECRET = "hunter2-S3CR3T"
ACCT = "111122223333"


def _classes(normaliser, records) -> list[str]:
    found = []
    for ref, payload, framing in records:
        _events, letter = normaliser.normalise(ref, payload, framing)
        assert letter is not None, ref
        cls = letter["kind"]
        assert cls in REASONS and SECRET not in cls
        found.append(cls)
    return found


@pytest.fixture(scope="module")
def normaliser(config):
    return Normaliser(config, clock=lambda: NOW / 1000)


@pytest.mark.parametrize("line, expected", [
    ("this is not a log line " + SECRET, "malformed"),
    ('{"Records": [', "malformed"),
    ('{"hello": "' + SECRET + '"}', "unrecognised"),
    ('"just a string"', "malformed"),
    (json.dumps(_cloudtrail(userIdentity="nobody")), "invalid_field"),
])
def test_lines_of_a_watched_file_or_topic(normaliser, line, expected):
    assert _classes(normaliser, records_from_line(line, "topic:0:1")) == [expected]


@pytest.mark.parametrize("overrides, expected", [
    ({"eventTime": "1970-01-01T00:00:00Z"}, "event_time"),
    ({"eventTime": "2030-01-01T00:00:00Z"}, "event_time"),
    ({"eventTime": SECRET}, "invalid_field"),
    ({"eventName": 42}, "invalid_field"),
    ({"eventName": "List" + "U" * 200_000}, "too_long"),
    ({"userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/ev\udc80il", "accountId": ACCT}},
     "invalid_unicode"),
])
def test_records_of_a_known_family(normaliser, overrides, expected):
    assert _classes(normaliser, [("f:1", _cloudtrail(**overrides), "json")]) == [expected]


def test_unreadable_bytes_of_a_damaged_gzip(normaliser, tmp_path):
    damaged = gzip.compress(b'{"Records": []}' * 1000)
    path = tmp_path / "damaged.json.gz"
    path.write_bytes(damaged[:20] + b"\x00" * 40 + damaged[60:])
    classes = _classes(normaliser, [r for r in records_from_file(str(path)) if r[2] == "error"])
    assert classes and set(classes) == {"unreadable"}


def test_a_parser_bug_has_its_kind(normaliser, monkeypatch):
    from chainwatch.parsers import aws_cloudtrail
    monkeypatch.setattr(aws_cloudtrail, "parse", lambda record, reference: {}["boom"])
    _events, letter = normaliser.normalise("r", _cloudtrail(), "json")
    assert letter["kind"] == "parser_error" and letter["reason"].startswith("parser error KeyError")



class _Counter:
    def __init__(self):
        self.count = 0

    def inc(self, n=1):
        self.count += n


class _Group:
    def __init__(self, path=()):
        self.path, self.groups, self.counters = path, {}, {}

    def add_group(self, name, extra=None):
        key = (name,) if extra is None else (name, extra)
        return self.groups.setdefault(key, _Group(self.path + key))

    def counter(self, name):
        return self.counters.setdefault(name, _Counter())


class _Context:
    def __init__(self):
        self.group = _Group()

    def get_metrics_group(self):
        return self.group


def test_counters_live_in_the_chainwatch_group_with_label_groups():
    context = _Context()
    metrics = Metrics(context)
    metrics.register_records()
    metrics.records(read=5, normalised=3, events=7, dead={"event_time": 1, "malformed": 1})
    metrics.dead_lettered("late", 2)
    with pytest.raises(ValueError, match="not one of"):       # a kind, never a reason's text
        metrics.dead_lettered("no such class", 1)
    metrics.inc("findings", 1, "AN1328")
    chainwatch = context.group.groups[("chainwatch",)]
    assert chainwatch.counters["records_read"].count == 5
    assert chainwatch.counters["records_normalised"].count == 3 and chainwatch.counters["events"].count == 7
    by_reason = {key[1]: g.counters["dead_lettered"].count for key, g in chainwatch.groups.items() if key[0] == "reason"}
    assert set(by_reason) == set(REASONS)           # every class registered, at 0 until counted
    assert (by_reason["event_time"], by_reason["malformed"], by_reason["late"], by_reason["unreadable"]) == (1, 1, 2, 0)
    assert chainwatch.groups[("analytic", "AN1328")].counters["findings"].count == 1


def test_a_counter_must_be_declared_with_its_label():
    metrics = Metrics(_Context())
    with pytest.raises(KeyError):
        metrics.inc("records_lost")
    with pytest.raises(ValueError):
        metrics.inc("findings")               # needs the analytic
    with pytest.raises(ValueError):
        metrics.inc("records_read", 1, "x")   # takes no label
    assert all(label in (None, "reason", "analytic", "sink", "entry", "kind", ("account", "attribution"))
               for label in COUNTERS.values())


def test_a_counter_with_two_labels_nests_them():
    metrics = Metrics(_Context())
    metrics.inc("egress_bytes", 500, ("aws:111122223333", "nat_gateway"))
    group = metrics.counter("egress_bytes", ("aws:111122223333", "nat_gateway"))
    assert group.count == 500
