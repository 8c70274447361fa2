"""Optional identity inventory: identity ARN -> creation time, from a CSV or JSON Lines file.

CSV needs a header with `arn` and `created` columns (extra columns are ignored); JSON Lines
objects need the same two keys. Bad rows raise an error naming the file, line and problem.
"""
from __future__ import annotations

import csv
import json

from chainwatch.core.errors import ChainwatchError, Problem
from chainwatch.core.identity_keys import canonical_identity
from chainwatch.core.units import parse_timestamp_ms


def load_inventory(path: str | None) -> dict:
    if not path:
        return {}
    problems, inventory = [], {}
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if text.lstrip().startswith("{"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    problems.append(Problem(path, "", f"invalid JSON: {exc.msg}", number))
    else:
        rows = list(enumerate(csv.DictReader(text.splitlines()), start=2))
    for number, row in rows:
        arn, created = row.get("arn"), row.get("created")
        key, _ = canonical_identity(arn)
        if not key:
            problems.append(Problem(path, "arn", f"not an IAM user or role ARN: {arn!r}", number))
            continue
        try:
            inventory[key] = parse_timestamp_ms(str(created))
        except ValueError:
            problems.append(Problem(path, "created", f"not an ISO-8601 timestamp: {created!r}", number))
    if problems:
        raise ChainwatchError(problems)
    return inventory
