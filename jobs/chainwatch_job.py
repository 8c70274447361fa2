"""PyFlink entry point that a Flink cluster runs: the same streaming job as `chainwatch run`.

    flink run --python jobs/chainwatch_job.py --pyFiles chainwatch/ --pyExecutable PYTHON \
        --conf conf/chainwatch.yaml [--out DIR] [--dlq DIR]

`chainwatch cluster submit` builds that command. The client process imports chainwatch from
what `flink run` ships (-pyfs puts the package's parent folder first on PYTHONPATH, on the
client and on every TaskManager's Python workers); the interpreter given with -pyexec brings the
dependencies (pyflink, pyyaml, geoip2). In the container image (deploy/Dockerfile) the package
is installed into that interpreter instead, so the Flink Kubernetes Operator passes only -py.

The config file, the patterns folder and the reference lists are read here, on the client, and
travel inside the job graph; GeoIP databases are opened by the TaskManagers, so their paths must
exist there (the same paths locally; a mounted volume or the image in production).
"""
from __future__ import annotations

import argparse
import logging
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="chainwatch_job.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--conf", help="job config (default: conf/chainwatch.yaml or $CHAINWATCH_CONF)")
    parser.add_argument("--out", help="findings folder (rolling JSONL part files) or - for stdout; default: the configured sinks")
    parser.add_argument("--dlq", help="dead-letter folder")
    parser.add_argument("--name", default="chainwatch", help="Flink job name")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from chainwatch.config import load_config
    from chainwatch.patterns.model import load_patterns
    from chainwatch.stream import build_streaming_job, execute

    config = load_config(args.conf)
    patterns = load_patterns(config.patterns_dir)
    env, statements = build_streaming_job(config, patterns, args.out, args.dlq)
    # `flink run --detached` makes this return once the job is submitted; attached, it blocks.
    execute(env, statements, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
