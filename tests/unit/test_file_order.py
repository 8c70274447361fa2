"""The order a replay reads files in (sources.order): by the start time names and first bytes show."""
from __future__ import annotations

import gzip
import json

from chainwatch.sources.order import file_groups, file_start_ms, in_time_order

T0 = 1793491200000          # 2026-11-01T00:00:00Z
HOUR = 3_600_000


def _cloudtrail(path, *times):
    records = [{"eventVersion": "1.08",
                "userIdentity": {"sessionContext": {"attributes": {"creationDate": "2026-10-01T00:00:00Z"}}},
                "eventTime": t} for t in times]
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return str(path)


def test_a_cloudtrail_file_starts_at_its_earliest_event_time_not_its_session_creation(tmp_path):
    path = _cloudtrail(tmp_path / "events.json.gz", "2026-11-01T02:10:00Z", "2026-11-01T01:05:00Z")
    assert file_start_ms(path) == T0 + HOUR + 5 * 60_000


def test_an_object_name_time_counts_when_it_is_earlier_than_the_content(tmp_path):
    folder = tmp_path / "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01"
    folder.mkdir(parents=True)
    path = _cloudtrail(folder / "111122223333_CloudTrail_us-east-1_20261101T0005Z_abc.json.gz",
                       "2026-11-01T00:07:00Z")
    assert file_start_ms(path) == T0 + 5 * 60_000
    azure = tmp_path / "resourceId=/X/y=2026/m=11/d=01/h=03/m=00/PT1H.json"
    azure.parent.mkdir(parents=True)
    azure.write_text('{"time": "2026-11-01T03:20:00Z"}\n')
    assert file_start_ms(str(azure)) == T0 + 3 * HOUR


def test_a_flow_log_starts_at_its_first_record_start_whatever_the_field_order(tmp_path):
    path = tmp_path / "flows.log"
    path.write_text("start srcaddr dstaddr bytes end\n1793494800 10.0.0.5 203.0.113.9 9999999999 1793494860\n")
    assert file_start_ms(str(path)) == T0 + HOUR


def test_files_showing_no_time_come_first_and_unreadable_ones_do_not_stop_the_ordering(tmp_path):
    late = _cloudtrail(tmp_path / "b.json.gz", "2026-11-01T05:00:00Z")
    early = _cloudtrail(tmp_path / "c.json.gz", "2026-11-01T01:00:00Z")
    untimed = tmp_path / "z.txt"
    untimed.write_text("no time here\n")
    corrupt = tmp_path / "a.json.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 64)
    order = in_time_order([late, early, str(untimed), str(corrupt)])
    assert order == [(str(corrupt), None), (str(untimed), None), (early, T0 + HOUR), (late, T0 + 5 * HOUR)]


def test_files_are_read_in_groups_of_close_starts(tmp_path):
    paths = []
    for n in range(5):
        path = tmp_path / f"f{n}.json"
        path.write_text("x" * 10)
        paths.append(str(path))
    minute = 60_000
    ordered = [(paths[0], None), (paths[1], 0), (paths[2], 4 * minute), (paths[3], 6 * minute), (paths[4], 7 * minute)]
    assert list(file_groups(ordered, 5 * minute)) == [
        ([paths[0]], None), (paths[1:3], 0), (paths[3:], 6 * minute)]
    assert list(file_groups(ordered[1:], 10 * minute, max_files=2)) == [(paths[1:3], 0), (paths[3:], 6 * minute)]
    assert list(file_groups(ordered[1:], 10 * minute, max_bytes=25)) == [(paths[1:3], 0), (paths[3:], 6 * minute)]
    assert list(file_groups([], minute)) == []
