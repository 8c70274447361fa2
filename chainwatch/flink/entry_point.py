"""PyFlink entry point that a Flink cluster runs: the same streaming job as `chainwatch run`.

    flink run --parallelism 2 --python DIR_HOLDING_chainwatch/chainwatch/flink/entry_point.py \
        --pyFiles DIR_HOLDING_chainwatch/ --pyExecutable PYTHON --pyClientExecutable PYTHON \
        --conf JOB_CONFIG [--out DIR] [--dlq DIR]

It is part of the package, so an installed chainwatch can be submitted with nothing else.
`chainwatch cluster submit` builds that command for the local cluster: -pyfs ships a copy of
the package (Flink puts a shipped folder on PYTHONPATH, of this client and of every
TaskManager's Python) and -py runs this file from that copy; the -pyexec interpreter brings the
dependencies (pyflink, pyyaml, geoip2) but not chainwatch. In the container image
(deploy/Dockerfile) the package is installed into the image's Python instead, so the Flink
Kubernetes Operator passes only -py with this file's path in site-packages.

On a cluster the parallelism is the submitter's (`flink run -p`, the FlinkDeployment's
job.parallelism, the autoscaler), not job.parallelism of the config file: that one is for
`chainwatch run` and `replay` on the embedded mini-cluster.

The config, the patterns and the reference lists are read here, on the client, and travel in
the job graph; GeoIP databases are opened by the TaskManagers, so their paths must exist there.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="entry_point.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--conf", help="job config (default: $CHAINWATCH_CONF, else the packaged conf/chainwatch.yaml)")
    parser.add_argument("--out", help="findings to this folder (rolling JSONL part files; - for stdout) instead of "
                                      "the config's sinks")
    parser.add_argument("--dlq", help="dead-letter folder")
    parser.add_argument("--name", default="chainwatch", help="Flink job name")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from pyflink.datastream import StreamExecutionEnvironment

    from chainwatch.config import load_config
    from chainwatch.flink.live_job import build_streaming_job, execute
    from chainwatch.patterns.pattern import load_patterns

    config = load_config(args.conf)
    if "PYFLINK_GATEWAY_PORT" in os.environ:   # started by a Flink client (`flink run`, the operator)
        # Its environment carries -p (or the cluster's parallelism.default); the job builder sets
        # config.job.parallelism explicitly, so hand it the submitter's.
        submitted = StreamExecutionEnvironment.get_execution_environment().get_parallelism()
        if submitted > 0:
            config = dataclasses.replace(config, job=dataclasses.replace(config.job, parallelism=submitted))
    patterns = load_patterns(config.patterns_dir)
    env, statements = build_streaming_job(config, patterns, args.out, args.dlq)
    # `flink run --detached` makes this return once the job is submitted; attached, it blocks.
    execute(env, statements, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
