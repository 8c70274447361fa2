"""python -m chainwatch.sample OUT_DIR [--days N] [--seed S] [--events N] [--file-span SECONDS]"""
from __future__ import annotations

import argparse
import json
import time

from chainwatch.sample.generator import background_rate_for, generate


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")

    per_hour = 400 if args.events is None else background_rate_for(args.events, args.days, not args.no_attacks)
    began = time.monotonic()
    summary = generate(args.out_dir, days=args.days, seed=args.seed, background_per_hour=per_hour,
                       attacks=not args.no_attacks, file_span=args.file_span)
    elapsed = time.monotonic() - began

    files, records = summary["files"], summary["records"]
    print(f"wrote {summary['out_dir']}  ({summary['start']} .. {summary['end']}, seed {args.seed}, "
          f"{per_hour} background events/hour, {elapsed:.1f}s)")
    print(f"  cloudtrail/  {files['cloudtrail']:6d} files  {records['cloudtrail']:8d} records")
    print(f"  vpcflow/     {files['vpcflow']:6d} files  {records['vpcflow']:8d} records")
    print(f"  total                     {records['total']:8d} records")
    for name, attack in summary["attacks"].items():
        print(f"  attack {name}: {attack['start']} .. {attack['end']}, {len(attack['event_ids'])} events")
    print(json.dumps({k: summary[k] for k in ("files", "records")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
