"""Deterministic synthetic AWS telemetry laid out the way AWS delivers it to S3.

Each concern draws from its own `random.Random` derived from the seed, so the
planted attacks keep their ids whatever the background volume, and the same
arguments always produce byte-identical files.
"""
from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from pathlib import Path

from chainwatch.sample.attacks import Attacks
from chainwatch.sample.background import NIGHTLY_READS, PARTNER_HOURS, Background
from chainwatch.sample.flows import HEADER, Flow
from chainwatch.sample.ids import Ids, iso, parse_iso, utc
from chainwatch.sample.org import DATA, FLOW_LOG_ID, PARTNER, PROD, REGION, build_org

DAY = 86400
CLOUDTRAIL_EVERY = 300
FLOWS_EVERY = 600
# Events per day outside the hourly budget (nightly burst and backup, partner, credential
# refreshes) and per attack run; used only to size --events.
_FIXED_PER_DAY = NIGHTLY_READS + 46 + len(PARTNER_HOURS) * 5.5 + 7 * 4
_ATTACK_EVENTS = 780


def background_rate_for(total_events: int, days: int, attacks: bool = True) -> int:
    """The background_per_hour giving about `total_events` raw records in all."""
    rest = total_events - days * _FIXED_PER_DAY - (_ATTACK_EVENTS if attacks else 0)
    return max(1, round(rest / (days * 24)))


def generate(out_dir, *, days: int = 3, seed: int = 7, start: str = "2026-11-01T00:00:00Z",
             background_per_hour: int = 400, attacks: bool = True, file_span: int | None = None) -> dict:
    """file_span: seconds of telemetry per file and account; default as AWS delivers to S3
    (CloudTrail every 5 minutes, flow logs every 10). The packaged sample uses a day per file."""
    out = Path(out_dir)
    t0 = parse_iso(start)
    org = build_org(seed)
    events, flows = Background(org, random.Random(f"{seed}:background"), t0, days, background_per_hour).run()
    attack_summary: dict = {}
    if attacks:
        a_events, a_flows, attack_summary = Attacks(org, random.Random(f"{seed}:attacks")).run(t0 + (days - 1) * DAY)
        events += a_events
        flows += a_flows

    delivery = random.Random(f"{seed}:delivery")
    ct_files = _write_cloudtrail(out, events, delivery, file_span or CLOUDTRAIL_EVERY)
    flow_files = _write_flows(out, flows, delivery, file_span or FLOWS_EVERY)
    return {
        "out_dir": str(out),
        "seed": seed, "days": days, "start": iso(t0), "end": iso(t0 + days * DAY),
        "background_per_hour": background_per_hour,
        "accounts": {"prod": PROD, "data": DATA, "partner": PARTNER},
        "files": {"cloudtrail": ct_files, "vpcflow": flow_files},
        "records": {"cloudtrail": len(events), "vpcflow": len(flows), "total": len(events) + len(flows)},
        "instances": [{"instance_id": i.instance_id, "eni": i.eni, "private_ip": i.private_ip,
                       "role_arn": i.role.arn, "logs_instance_id": not i.hides_instance_id}
                      for i in org.instances],
        "attacks": attack_summary,
    }


def _stamp(ts: int) -> str:
    return utc(ts).strftime("%Y%m%dT%H%MZ")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip header, and so the file bytes, reproducible.
    path.write_bytes(gzip.compress(text.encode(), compresslevel=6, mtime=0))


def _write_cloudtrail(out: Path, events: list[dict], rng: random.Random, every: int) -> int:
    ids = Ids(rng)
    files: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for ev in events:
        # CloudTrail delivers a few minutes late, so a file also holds the previous window's stragglers.
        delivered = parse_iso(ev["eventTime"]) + rng.randint(30, 420)
        files[(ev["recipientAccountId"], delivered - delivered % every)].append(ev)
    for (account, slot) in sorted(files):
        records = files[(account, slot)]
        rng.shuffle(records)  # AWS does not order records within a file
        d = utc(slot)
        name = f"{account}_CloudTrail_{REGION}_{_stamp(slot)}_{ids.alnum(16)}.json.gz"
        path = out / "cloudtrail" / "AWSLogs" / account / "CloudTrail" / REGION / f"{d:%Y/%m/%d}" / name
        _write(path, json.dumps({"Records": records}, separators=(",", ":")))
    return len(files)


def _write_flows(out: Path, flows: list[Flow], rng: random.Random, every: int) -> int:
    ids = Ids(rng)
    files: dict[tuple[str, int], list[Flow]] = defaultdict(list)
    for fl in flows:
        delivered = fl.end + rng.randint(60, 300)
        files[(fl.account, delivered - delivered % every)].append(fl)
    for (account, slot) in sorted(files):
        records = sorted(files[(account, slot)], key=lambda fl: (fl.start, fl.eni))
        d = utc(slot)
        name = f"{account}_vpcflowlogs_{REGION}_{FLOW_LOG_ID}_{_stamp(slot)}_{ids.hex(8)}.log.gz"
        path = out / "vpcflow" / "AWSLogs" / account / "vpcflowlogs" / REGION / f"{d:%Y/%m/%d}" / name
        _write(path, "\n".join([HEADER, *(fl.line() for fl in records)]) + "\n")
    return len(files)
