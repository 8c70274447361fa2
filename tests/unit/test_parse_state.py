"""The streaming parse operator (flink.parse_operators.NormaliseLines) keeps the flow-log header a reader
passed in keyed state, so the lines after a restore (which resumes a file in its middle) are
still parsed with it; and each reader's lines are keyed so that Flink sends them to the parse
subtask of the reader's own index (the JVM agrees: tests/integration/test_uids.py)."""
from __future__ import annotations

import pytest
from pyflink.common import Row

from chainwatch.flink.parse_operators import DEAD_LETTERS, NormaliseLines, parse_subtask, reader_key

ACCT = "111122223333"
# A custom field order: lines in it only parse with their header.
HEADER = "start end bytes packets protocol dstport srcport dstaddr srcaddr interface-id account-id version action log-status"


def flow(nbytes: int, start: int = 1_791_000_000) -> str:
    values = {"version": "2", "account-id": ACCT, "interface-id": "eni-0a1b2c3d4e5f60718", "srcaddr": "10.0.1.5",
              "dstaddr": "8.8.8.8", "srcport": "49152", "dstport": "443", "protocol": "6", "packets": "12",
              "bytes": str(nbytes), "start": str(start), "end": str(start + 60), "action": "ACCEPT", "log-status": "OK"}
    return " ".join(values[name] for name in HEADER.split())


_CURRENT = {"key": None}     # the key Flink has set for the element being processed


class _ValueState:
    """Keyed value state: one value per key."""

    def __init__(self, store: dict):
        self.store = store

    def value(self):
        return self.store.get(_CURRENT["key"])

    def update(self, value):
        self.store[_CURRENT["key"]] = value


class _Group:
    def add_group(self, *_args):
        return self

    def counter(self, _name):
        return self

    def inc(self, _n=1):
        pass


class _Context:
    def __init__(self, key):
        self.key = key

    def get_current_key(self):
        return self.key


class _RuntimeContext:
    def __init__(self, store: dict):
        self.store = store

    def get_state(self, descriptor):
        assert descriptor.name == "flow-header"
        return _ValueState(self.store.setdefault(descriptor.name, {}))

    def get_metrics_group(self):
        return _Group()


def _operator(config, store: dict):
    operator = NormaliseLines(config, "vpcflow", "topic:flows")
    operator.open(_RuntimeContext(store))
    return operator


def _run(operator, ctx, lines):
    _CURRENT["key"] = ctx.key
    out = [item for line in lines for item in operator.process_element(line, ctx)]
    dead = [item[1] for item in out if isinstance(item, tuple) and item[0] is DEAD_LETTERS]
    # batch rows (flink.step_operators); coverage beats and the history start (flink.parse_operators) are not events
    events = [e for row in out if isinstance(row, Row) for e in row[1][2] if e["kind"] not in ("beat", "history")]
    return events, dead


def test_the_header_survives_a_restart_of_the_operator(config):
    store, ctx = {}, _Context(7)
    events, dead = _run(_operator(config, store), ctx, [HEADER, flow(1000)])
    assert not dead and [e["flow"]["bytes"] for e in events] == [1000]
    # A restore: a new operator instance, the state as the checkpoint held it.
    restored = _operator(config, store)
    events, dead = _run(restored, ctx, [flow(2000), flow(3000)])
    assert not dead and [e["flow"]["bytes"] for e in events] == [2000, 3000]


def test_without_the_state_the_same_lines_are_dead_letters(config):
    ctx = _Context(7)
    events, dead = _run(_operator(config, {}), ctx, [flow(2000)])
    assert events == [] and len(dead) == 1


def test_each_reader_has_its_own_header(config):
    store, reader_a, reader_b = {}, _Context(1), _Context(2)
    operator = _operator(config, store)
    _run(operator, reader_a, [HEADER])
    events, dead = _run(operator, reader_b, [flow(1000)])       # reader b saw no header
    assert events == [] and len(dead) == 1
    events, dead = _run(operator, reader_a, [flow(1000)])
    assert not dead and len(events) == 1


@pytest.mark.parametrize("parallelism, max_parallelism", [(1, 128), (2, 128), (2, 720), (3, 720), (8, 4096)])
def test_each_readers_key_goes_to_the_parse_subtask_of_its_index(parallelism, max_parallelism):
    keys = [reader_key(i, parallelism, max_parallelism) for i in range(parallelism)]
    assert [parse_subtask(k, parallelism, max_parallelism) for k in keys] == list(range(parallelism))
    assert len(set(keys)) == parallelism
