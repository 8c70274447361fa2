"""chainwatch command line: replay | run | test | validate."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from chainwatch.errors import ChainwatchError


def _load(conf_path, only=()):
    from chainwatch.config import load_config
    from chainwatch.patterns.model import load_patterns
    config = load_config(conf_path)
    return config, load_patterns(config.patterns_dir, only)


def _write_jsonl(path, items) -> None:
    handle = open(path, "w", encoding="utf-8") if path and path != "-" else sys.stdout
    try:
        for item in items:
            handle.write(json.dumps(item, separators=(",", ":")) + "\n")
    finally:
        if handle is not sys.stdout:
            handle.close()


def cmd_replay(args) -> int:
    from chainwatch.replay import print_progress, replay, summary_lines
    config, patterns = _load(args.conf)
    result = replay(config, patterns, args.inputs, streaming_watermarks=args.streaming_watermarks,
                    progress=print_progress if sys.stderr.isatty() else None)
    _write_jsonl(args.out, result.findings)
    if args.dlq:
        _write_jsonl(args.dlq, result.dead_letters)
    print("\n".join(["chainwatch replay:"] + summary_lines(result)), file=sys.stderr)
    if result.dead_letters and not args.dlq:
        print(f"  ({len(result.dead_letters)} dead letters not written: pass --dlq FILE)", file=sys.stderr)
    return 0


def cmd_validate(args) -> int:
    config, patterns = _load(args.conf)
    from chainwatch.patterns.compiler import compile_pattern
    for pattern in patterns:
        compile_pattern(pattern)
    print(f"{config.path}: ok ({len(config.sources)} sources, {len(patterns)} patterns: "
          f"{', '.join(p.id for p in patterns)})")
    return 0


def cmd_test(args) -> int:
    from chainwatch.casetest import run_cases
    config, patterns = _load(args.conf, tuple(args.patterns))
    return 0 if run_cases(config, patterns) else 1


def cmd_run(args) -> int:
    from chainwatch.stream import run
    config, patterns = _load(args.conf)
    run(config, patterns, out=args.out, dlq=args.dlq)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="chainwatch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("replay", help="run the job over files or folders, in event time, and exit")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--conf", help="job config (default: conf/chainwatch.yaml or $CHAINWATCH_CONF)")
    p.add_argument("--out", default="-", help="findings as OCSF JSON Lines (default: stdout)")
    p.add_argument("--dlq", help="dead-letter output, JSON Lines with reason and raw record")
    p.add_argument("--streaming-watermarks", action="store_true",
                   help="advance event time as a live stream would (time.watermark_delay) instead of "
                        "ordering the whole replay; late records may then be missed")
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser("run", help="the streaming job as configured")
    p.add_argument("--conf")
    p.add_argument("--out", default="-", help="findings folder (rolling JSONL files) or - for stdout")
    p.add_argument("--dlq", help="dead-letter folder")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("test", help="run the patterns' embedded cases through the real pipeline")
    p.add_argument("patterns", nargs="*", metavar="PATTERN")
    p.add_argument("--conf")
    p.set_defaults(func=cmd_test)
    p = sub.add_parser("validate", help="check config and patterns")
    p.add_argument("--conf")
    p.set_defaults(func=cmd_validate)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ChainwatchError as exc:
        print(f"chainwatch: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"chainwatch: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
