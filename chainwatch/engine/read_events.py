"""Files -> normalised events, dead letters, read counts and coverage, as flink.parse_operators.ReadFiles
produces them (same readers, same Normaliser), one file after another."""
from __future__ import annotations

from chainwatch.enrich.normalise import Normaliser
from chainwatch.sources.files import records_from_file
from chainwatch.steps.coverage_watch import merge as merge_coverage, observe as observe_coverage


def read_files(config, files, result) -> list[dict]:
    """Normalised events of `files` in read order; dead letters, counts and coverage go to `result`."""
    normaliser, events = Normaliser(config), []
    for path in files:
        coverage: dict = {}
        result.counts.update(read=0, normalised=0, dead_lettered=0, events=0)  # every key, as a file's stats
        for ref, payload, framing in records_from_file(path):
            result.counts["read"] += 1
            parsed, dead = normaliser.normalise(ref, payload, framing)
            if dead is not None:
                result.counts["dead_lettered"] += 1
                result.dead_letters.append(dead)
                continue
            result.counts["normalised"] += 1
            result.counts["events"] += len(parsed)
            for event in parsed:
                observe_coverage(coverage, event)
            events.extend(parsed)
        merge_coverage(result.coverage, coverage)
    return events
