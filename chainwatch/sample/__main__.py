"""python -m chainwatch.sample OUT_DIR [--days N] [--seed S] [--events N] [--file-span SECONDS]
                                  [--accounts N] [--principals N] [--instances N]

Without the last three: the small core org (as the packaged sample). With any of them: an
enterprise-sized org around it (see enterprise_org.py), e.g. the throughput benchmark's set:

  python -m chainwatch.sample DIR --days 3 --events 1000000 --accounts 25 --principals 5000 --instances 1500
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from chainwatch.sample.enterprise_org import CORE_ACCOUNTS, CORE_INSTANCES, Scale
from chainwatch.sample.generator import background_rate_for, core_principals, generate, is_core, split_rate

_PROGRESS_EVERY = 6   # simulated hours between progress lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chainwatch.sample",
                                     description="Write synthetic CloudTrail and VPC Flow Logs with planted attacks.")
    parser.add_argument("out_dir")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events", type=int, default=None,
                        help="aim for about this many raw records in total (scales the background)")
    parser.add_argument("--no-attacks", action="store_true", help="background only")
    parser.add_argument("--file-span", type=int, default=None, metavar="SECONDS",
                        help="telemetry per file and account (default: as AWS delivers, 5 min / 10 min)")
    scale = parser.add_argument_group("enterprise cardinality (totals, the core org included)")
    scale.add_argument("--accounts", type=int, default=None,
                       help=f"org accounts logging CloudTrail and flows (default {CORE_ACCOUNTS}: prod and data)")
    scale.add_argument("--principals", type=int, default=None,
                       help=f"IAM users and roles active in the background (core org: {core_principals()}); the "
                            "added ones are Lambda, ECS, instance-profile and SSO roles, service and legacy users, "
                            "with Zipf-skewed activity")
    scale.add_argument("--instances", type=int, default=None,
                       help=f"EC2 instances (core org: {CORE_INSTANCES}), spread over the accounts, each under "
                            "an instance-profile role from its account's pool")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    scale = None
    if (args.accounts, args.principals, args.instances) != (None, None, None):
        try:
            scale = Scale(CORE_ACCOUNTS if args.accounts is None else args.accounts,
                          0 if args.principals is None else max(1, args.principals),
                          CORE_INSTANCES if args.instances is None else args.instances).check(core_principals())
        except ValueError as exc:
            parser.error(str(exc))

    per_hour = 400 if args.events is None else background_rate_for(args.events, args.days, not args.no_attacks)
    core_rate, added_rate = (per_hour, 0) if is_core(scale) else split_rate(per_hour, scale)
    began = time.monotonic()

    def progress(done: int, hours: int, records: int) -> None:
        if done % _PROGRESS_EVERY == 0 or done == hours:
            print(f"  {done:4d}/{hours} h  {records:10,d} records  {time.monotonic() - began:6.1f}s",
                  file=sys.stderr, flush=True)

    summary = generate(args.out_dir, days=args.days, seed=args.seed, background_per_hour=core_rate,
                       attacks=not args.no_attacks, file_span=args.file_span, scale=scale,
                       enterprise_per_hour=added_rate, progress=progress)
    elapsed = time.monotonic() - began

    files, records, size = summary["files"], summary["records"], summary["average_record_bytes"]
    print(f"wrote {summary['out_dir']}  ({summary['start']} .. {summary['end']}, seed {args.seed}, "
          f"{per_hour} background events/hour, {elapsed:.1f}s)")
    if "scale" in summary:
        s = summary["scale"]
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(s["added_principals_by_kind"].items()))
        print(f"  org: {len(s['accounts'])} accounts, {s['principals']} principals (added: {kinds}), "
              f"{s['instances']} instances")
    print(f"  cloudtrail/  {files['cloudtrail']:6d} files  {records['cloudtrail']:8d} records  "
          f"avg {size['cloudtrail']:.0f} bytes/record raw")
    print(f"  vpcflow/     {files['vpcflow']:6d} files  {records['vpcflow']:8d} records  "
          f"avg {size['vpcflow']:.0f} bytes/record raw")
    print(f"  total                     {records['total']:8d} records")
    for name, attack in summary["attacks"].items():
        print(f"  attack {name}: {attack['start']} .. {attack['end']}, {len(attack['event_ids'])} events")
    print(json.dumps({k: summary[k] for k in ("files", "records", "average_record_bytes")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
