"""Real findings without a Flink job: a pattern's positive case through the real parsers,
enrichment and step logic, matched in plain Python, then chainwatch.findings (build_finding,
to_ocsf) exactly as pipeline.FormatFinding does.

The Flink parts are replaced by their plain equivalents: events in event-time order, the two
workload-binding hops of pipeline.build_pipeline as dicts, and the first in-order chain within
the pattern's window for MATCH_RECOGNIZE. tests/integration/test_hec_sink.py checks that the
real pipeline produces the same OCSF for these cases.
"""
from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

from chainwatch.casetest import _case_config, expand_events
from chainwatch.findings.model import build_finding
from chainwatch.findings.ocsf import to_ocsf
from chainwatch.model import principal_type_of
from chainwatch.normalise import Normaliser
from chainwatch.pipeline import workload_alias
from chainwatch.sources.files import records_from_file
from chainwatch.steps.identity import IdentitySteps, identity_key


def positive_case(pattern):
    return next(c for c in pattern.cases if c.expect_findings > 0)


def write_case(folder: Path, case) -> list[dict]:
    """The case's input files, as `chainwatch test` writes them; returns the expanded events."""
    events = expand_events(case.events)
    if events:
        (folder / "cloudtrail.json.gz").write_bytes(gzip.compress(json.dumps({"Records": events}).encode()))
    if case.flows:
        (folder / "flows.log").write_text("\n".join(case.flows) + "\n")
    return events


def _normalised(config, folder: Path) -> list[dict]:
    normaliser, events = Normaliser(config), []
    for path in sorted(folder.iterdir()):
        for ref, payload, framing in records_from_file(str(path)):
            parsed, dead = normaliser.normalise(ref, payload, framing)
            assert dead is None, dead
            events.extend(parsed)
    return sorted(events, key=lambda e: e["ts"])


def _attributed(events: list[dict]) -> list[dict]:
    """Identity activity plus egress flows bound to an identity (alias -> instance -> identity)."""
    instances, holders, activity = {}, {}, []
    for event in events:
        if event["kind"] == "binding":
            binding = event["binding"]
            if "alias" in binding:
                instances[binding["alias"]] = binding["instance"]
            if "principal" in binding:
                holders[binding["instance"]] = (binding["principal"], binding.get("principal_type", ""))
        elif event["kind"] == "flow":
            if not event.get("egress"):
                continue
            event["flow"]["instance"] = event["flow"]["instance"] or instances.get(workload_alias(event), "")
            principal, kind = holders.get(event["flow"]["instance"], ("", ""))
            if principal:
                event["principal"], event["principal_type"] = principal, kind or principal_type_of(principal)
                activity.append(event)
        elif event["kind"] in ("api", "object_access"):
            activity.append(event)
    return activity


def _first_chain(pattern, rows: list[dict]) -> list[dict] | None:
    chain = []
    for row in rows:
        if row["step"] == pattern.steps[len(chain)].step:
            chain.append(row)
            if len(chain) == len(pattern.steps):
                return chain if chain[-1]["ts"] - chain[0]["ts"] <= pattern.window_ms else None
    return None


def case_findings(config, pattern, case=None) -> list[dict]:
    """OCSF findings of a pattern's case (its first positive case by default)."""
    return [to_ocsf(build_finding(pattern, match)) for match in case_matches(config, pattern, case)]


def case_matches(config, pattern, case=None) -> list[dict]:
    """The MATCH_RECOGNIZE rows (as dicts) the pipeline would produce for the case."""
    case = case or positive_case(pattern)
    with tempfile.TemporaryDirectory(prefix="chainwatch-sample-") as folder:
        events = write_case(Path(folder), case)
        config = _case_config(config, case, events)
        normalised = _normalised(config, Path(folder))
    logic, states, rows = IdentitySteps(config, {}), {}, []
    for event in _attributed(normalised):
        key = identity_key(event)
        rows.extend(logic.process(key, states.setdefault(key, {}), event, config.novelty.history_start_ms))
    by_key: dict[str, list] = {}
    for row in sorted(rows, key=lambda r: r["ts"]):
        if row[pattern.key]:
            by_key.setdefault(row[pattern.key], []).append(row)
    matches = []
    for key, key_rows in by_key.items():
        chain = _first_chain(pattern, key_rows)
        if chain:
            match = {"match_key": key, "account": chain[0]["account"], "region": chain[0]["region"],
                     "cloud": chain[0]["cloud"]}
            for n, row in enumerate(chain, start=1):
                match[f"s{n}_ts"] = row["ts"]
                match[f"s{n}_evidence"] = json.dumps(row, default=str, separators=(",", ":"))
            matches.append(match)
    return matches
