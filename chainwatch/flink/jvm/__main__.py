"""python -m chainwatch.flink.jvm [--into DIR]: builds chainwatch's jar (into the cache, or DIR) and
prints its path. An existing jar of the same sources is kept."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chainwatch.flink.jvm import JvmBuildError, jar_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chainwatch.flink.jvm", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--into", type=Path, help="build into this folder (an image: the package's chainwatch/flink/jvm)")
    args = parser.parse_args(argv)
    try:
        path = jar_path(args.into)
    except JvmBuildError as exc:
        print(f"chainwatch.flink.jvm: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
