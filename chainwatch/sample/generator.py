"""Deterministic synthetic AWS telemetry laid out the way AWS delivers it to S3.

Each concern draws from its own `random.Random` derived from the seed, so the
planted attacks keep their ids whatever the background volume, and the same
arguments always produce byte-identical files.

Two scales. Without `scale` (or with the core org's own numbers) the small org of
org.py: every record is built first, then written, byte for byte as it always was.
With `scale` (the --accounts/--principals/--instances knobs, see enterprise_org.py)
the same core org, background and attacks, plus the added accounts, principals and
instances; records are then made and written hour by hour, so a few million never
sit in memory at once.
"""
from __future__ import annotations

import random
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Callable

from chainwatch.sample.attacks import Attacks
from chainwatch.sample.background import NIGHTLY_READS, PARTNER_HOURS, Background
from chainwatch.sample.delivery import Delivery, EventTime
from chainwatch.sample.enterprise import EnterpriseActivity
from chainwatch.sample.enterprise_org import (CORE_ACCOUNTS, CORE_INSTANCES, Scale, build_enterprise,
                                              core_principal_count)
from chainwatch.sample.ids import iso, parse_iso
from chainwatch.sample.org import DATA, PARTNER, PROD, build_org

DAY = 86400
HOUR = 3600
CLOUDTRAIL_EVERY = 300
FLOWS_EVERY = 600
# Events per day outside the hourly budget (nightly burst and backup, partner, credential
# refreshes) and per attack run; used only to size --events.
_FIXED_PER_DAY = NIGHTLY_READS + 46 + len(PARTNER_HOURS) * 5.5 + 7 * 4
_ATTACK_EVENTS = 780
# At enterprise scale the core org gets its head-count share of the hourly budget, but never
# less than this: its roles run the nightly jobs and the partner sync the detector must tolerate.
_CORE_MIN_SHARE = 0.05

Progress = Callable[[int, int, int], None]   # (hours done, hours, records written)


def background_rate_for(total_events: int, days: int, attacks: bool = True) -> int:
    """The background_per_hour giving about `total_events` raw records in all."""
    rest = total_events - days * _FIXED_PER_DAY - (_ATTACK_EVENTS if attacks else 0)
    return max(1, round(rest / (days * 24)))


@cache
def core_principals() -> int:
    return core_principal_count(build_org(0))   # the same for every seed


def split_rate(per_hour: int, scale: Scale) -> tuple[int, int]:
    """(core org, added principals) shares of an hourly budget at enterprise scale."""
    core = core_principals()
    share = max(_CORE_MIN_SHARE, core / scale.check(core).principals)
    core_rate = max(1, round(per_hour * share))
    return core_rate, max(0, per_hour - core_rate)


def is_core(scale: Scale | None) -> bool:
    return scale is None or (scale.accounts == CORE_ACCOUNTS and scale.instances == CORE_INSTANCES
                             and scale.principals in (0, core_principals()))


def generate(out_dir, *, days: int = 3, seed: int = 7, start: str = "2026-11-01T00:00:00Z",
             background_per_hour: int = 400, attacks: bool = True, file_span: int | None = None,
             scale: Scale | None = None, enterprise_per_hour: int = 0, progress: Progress | None = None) -> dict:
    """file_span: seconds of telemetry per file and account; default as AWS delivers to S3
    (CloudTrail every 5 minutes, flow logs every 10). The packaged sample uses a day per file.
    background_per_hour: the core org's budget. scale, enterprise_per_hour: the added accounts,
    principals and instances and their hourly budget (see split_rate)."""
    out = Path(out_dir)
    t0 = parse_iso(start)
    org = build_org(seed)
    events, flows = Background(org, random.Random(f"{seed}:background"), t0, days, background_per_hour).run()
    attack_summary: dict = {}
    if attacks:
        a_events, a_flows, attack_summary = Attacks(org, random.Random(f"{seed}:attacks")).run(t0 + (days - 1) * DAY)
        events += a_events
        flows += a_flows

    delivery = Delivery(out, random.Random(f"{seed}:delivery"), file_span or CLOUDTRAIL_EVERY, file_span or FLOWS_EVERY)
    summary_scale = None
    if is_core(scale):
        delivery.add(events, flows)
    else:
        scale = scale.check(core_principals())
        ent = build_enterprise(org, scale, seed)
        activity = EnterpriseActivity(ent, random.Random(f"{seed}:enterprise"), t0, enterprise_per_hour)
        _deliver_hourly(delivery, events, flows, activity, t0, days, progress)
        summary_scale = {"accounts": ent.accounts, "principals": scale.principals, "instances": scale.instances,
                         "added_principals_by_kind": _by_kind(ent), "enterprise_per_hour": enterprise_per_hour}
    delivery.close()

    records = dict(delivery.records, total=sum(delivery.records.values()))
    summary = {
        "out_dir": str(out),
        "seed": seed, "days": days, "start": iso(t0), "end": iso(t0 + days * DAY),
        "background_per_hour": background_per_hour,
        "accounts": {"prod": PROD, "data": DATA, "partner": PARTNER},
        "files": dict(delivery.files),
        "records": records,
        "average_record_bytes": {k: round(delivery.average_bytes(k), 1) for k in ("cloudtrail", "vpcflow")},
        "instances": [{"instance_id": i.instance_id, "eni": i.eni, "private_ip": i.private_ip,
                       "role_arn": i.role.arn, "logs_instance_id": not i.hides_instance_id}
                      for i in org.instances],
        "attacks": attack_summary,
    }
    if summary_scale:
        summary["scale"] = summary_scale
    return summary


def _by_kind(ent) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for p in ent.principals:
        counts[p.kind] += 1
    return dict(counts)


def _deliver_hourly(delivery: Delivery, events: list[dict], flows: list, activity: EnterpriseActivity,
                    t0: int, days: int, progress: Progress | None) -> None:
    """Merge the core org's and the attacks' records (small, already built) into the added
    activity hour by hour, and let each hour's complete files go to disk."""
    hours = days * 24
    event_time = EventTime()

    def hour_of(ts: int) -> int:
        return min(max((ts - t0) // HOUR, 0), hours - 1)

    core_events: dict[int, list[dict]] = defaultdict(list)
    for ev in events:
        core_events[hour_of(event_time(ev["eventTime"]))].append(ev)
    core_flows: dict[int, list] = defaultdict(list)
    for fl in flows:
        core_flows[hour_of(fl.start)].append(fl)
    for h in range(hours):
        ent_events, ent_flows = activity.hour(h)
        delivery.add(core_events.pop(h, []) + ent_events, core_flows.pop(h, []) + ent_flows,
                     horizon=t0 + (h + 1) * HOUR)
        if progress:
            progress(h + 1, hours, sum(delivery.records.values()))
