"""The job in plain Python: the same parsers, enrichment, routing, workload binding, step logic
and findings as flink.graph.build_pipeline, with the Flink parts replaced by their plain
equivalents (event-time order per key, a MATCH_RECOGNIZE matcher). Replay semantics: all input
is read before anything is ordered, as with no watermark until the end of input.

For what needs findings in milliseconds (`chainwatch test`, tests); no PyFlink here. Not
modelled, as a replay never meets them: state TTL (processing time), late rows under streaming
watermarks. Events of one key with the same timestamp go by event id in both
(steps.lanes.event_order).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from chainwatch.engine.cep import pattern_matches
from chainwatch.engine.coverage import coverage_findings
from chainwatch.engine.identity import identity_events, step_rows
from chainwatch.engine.read_events import read_files
from chainwatch.engine.workload import attribute_egress
from chainwatch.enrich.asset_inventory import load_assets
from chainwatch.findings.finding import build_finding
from chainwatch.findings.ocsf import to_ocsf
from chainwatch.findings.run_result import ReplayResult
from chainwatch.findings.suppression import group_key, suppress
from chainwatch.sources.files import find_inputs


@dataclass
class EngineResult(ReplayResult):
    """A replay's result, plus the MATCH_RECOGNIZE rows the findings were built from."""
    matches: list = field(default_factory=list)


def finding_of(pattern, match: dict) -> dict:
    """As pipeline.FormatFinding writes it and replay reads it back (JSON both ways)."""
    return json.loads(json.dumps(to_ocsf(build_finding(pattern, match)), separators=(",", ":")))


def run(config, patterns, inputs) -> EngineResult:
    """Run the job's logic over `inputs` (files or folders) and return everything it produced."""
    started = time.monotonic()
    files, skipped = find_inputs(inputs)
    result = EngineResult(files=len(files), skipped=skipped)
    events = read_files(config, files, result)
    inventory = load_assets(config.inventory.files)
    attributed, unattributed = attribute_egress(events, inventory, result.egress_attribution)
    result.unattributed_egress = len(unattributed)
    rows = step_rows(config, identity_events(events, attributed), patterns, inventory.created)
    result.coverage_findings = coverage_findings(config, events)
    for pattern in patterns:
        groups: dict = {}      # what flink.graph.Suppress keeps in keyed state
        matches = pattern_matches(pattern, rows)
        result.matches += matches
        # in event time, as MATCH_RECOGNIZE emits them when the watermark passes
        findings = sorted((finding_of(pattern, m) for m in matches), key=lambda f: (f["time"], f["metadata"]["uid"]))
        for finding in findings:
            group = group_key(finding, pattern.suppress)
            groups[group], finding = suppress(groups.get(group), finding, pattern.suppress)
            result.findings.append(finding)
    result.sort_findings()
    result.seconds = time.monotonic() - started
    return result
