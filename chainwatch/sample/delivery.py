"""Lay records out the way AWS delivers them to S3, writing each file once no later record can join it.

Records arrive in chunks (all at once for the small sample, hour by hour at enterprise scale,
so that millions of records never sit in memory together). Each chunk first draws every
CloudTrail record's delivery delay, writes the CloudTrail files now complete, then does the
same for the flows. With a single chunk that is exactly the order of draws the generator has
always made, which keeps the packaged sample's bytes unchanged.
"""
from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from chainwatch.sample.flows import HEADER, Flow
from chainwatch.sample.ids import Ids, utc
from chainwatch.sample.org import FLOW_LOG_ID, REGION

NEVER = 2 ** 62  # horizon of the last chunk: every file is complete


def _stamp(ts: int) -> str:
    return utc(ts).strftime("%Y%m%dT%H%MZ")


class EventTime:
    """parse_iso for eventTime, without strptime per record (a hot path at a million records)."""

    def __init__(self):
        self._days: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        day = self._days.get(text[:10])
        if day is None:
            day = int(datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())
            self._days[text[:10]] = day
        return day + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])


class Delivery:
    def __init__(self, out: Path, rng: random.Random, cloudtrail_every: int, flows_every: int):
        self.out, self.rng = out, rng
        self.ct_every, self.flow_every = cloudtrail_every, flows_every
        self.ct_ids, self.flow_ids = Ids(rng), Ids(rng)
        self._event_time = EventTime()
        # Serialised records waiting for their file: (account, delivery slot) -> records.
        self._ct: dict[tuple[str, int], list[str]] = defaultdict(list)
        self._flows: dict[tuple[str, int], list[Flow]] = defaultdict(list)
        self._dirs: set[Path] = set()
        self.files = {"cloudtrail": 0, "vpcflow": 0}
        self.records = {"cloudtrail": 0, "vpcflow": 0}
        self.raw_bytes = {"cloudtrail": 0, "vpcflow": 0}

    def add(self, events: list[dict], flows: list[Flow], horizon: int = NEVER) -> None:
        """Deliver a chunk. horizon: no later chunk holds a record timed before it."""
        rng = self.rng
        for ev in events:
            # CloudTrail delivers a few minutes late, so a file also holds the previous window's stragglers.
            delivered = self._event_time(ev["eventTime"]) + rng.randint(30, 420)
            text = json.dumps(ev, separators=(",", ":"))
            self._ct[(ev["recipientAccountId"], delivered - delivered % self.ct_every)].append(text)
            self.raw_bytes["cloudtrail"] += len(text)
        self.records["cloudtrail"] += len(events)
        self._flush_cloudtrail(horizon)
        for fl in flows:
            delivered = fl.end + rng.randint(60, 300)
            self._flows[(fl.account, delivered - delivered % self.flow_every)].append(fl)
        self.records["vpcflow"] += len(flows)
        self._flush_flows(horizon)

    def _write(self, path: Path, text: str) -> None:
        if path.parent not in self._dirs:   # one folder per account and day: make it once
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        # mtime=0 keeps the gzip header, and so the file bytes, reproducible.
        path.write_bytes(gzip.compress(text.encode(), compresslevel=6, mtime=0))

    def close(self) -> None:
        self._flush_cloudtrail(NEVER)
        self._flush_flows(NEVER)

    def average_bytes(self, kind: str) -> float:
        """Mean size of one raw record: a compact CloudTrail JSON object, or a flow log line."""
        return self.raw_bytes[kind] / self.records[kind] if self.records[kind] else 0.0

    def _flush_cloudtrail(self, horizon: int) -> None:
        # Records are delivered at least 30 s after their eventTime, so a slot ending by the
        # horizon can receive nothing more.
        for account, slot in sorted(k for k in self._ct if k[1] + self.ct_every <= horizon):
            records = self._ct.pop((account, slot))
            self.rng.shuffle(records)  # AWS does not order records within a file
            d = utc(slot)
            name = f"{account}_CloudTrail_{REGION}_{_stamp(slot)}_{self.ct_ids.alnum(16)}.json.gz"
            path = self.out / "cloudtrail" / "AWSLogs" / account / "CloudTrail" / REGION / f"{d:%Y/%m/%d}" / name
            self._write(path, '{"Records":[' + ",".join(records) + "]}")
            self.files["cloudtrail"] += 1

    def _flush_flows(self, horizon: int) -> None:
        for account, slot in sorted(k for k in self._flows if k[1] + self.flow_every <= horizon):
            records = sorted(self._flows.pop((account, slot)), key=lambda fl: (fl.start, fl.eni))
            d = utc(slot)
            name = f"{account}_vpcflowlogs_{REGION}_{FLOW_LOG_ID}_{_stamp(slot)}_{self.flow_ids.hex(8)}.log.gz"
            path = self.out / "vpcflow" / "AWSLogs" / account / "vpcflowlogs" / REGION / f"{d:%Y/%m/%d}" / name
            lines = [HEADER, *(fl.line() for fl in records)]
            self._write(path, "\n".join(lines) + "\n")
            self.raw_bytes["vpcflow"] += sum(len(line) + 1 for line in lines[1:])
            self.files["vpcflow"] += 1
