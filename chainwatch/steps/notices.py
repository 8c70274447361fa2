"""Notices: what the steps tell a run besides step rows and dead letters, each record naming its
kind (`notice`), so a consumer dispatches on a field, never on which keys a record happens to have.

  allowlist_use         a session an allowlist entry let in: {allowlist_use: entry id, event_id, ...}
  first_party_provider  a provider the telemetry showed is the org's: {first_party_provider, how, event_id}
  egress_attribution    a report of egress bytes: {egress_attribution: {cloud:account: {attribution: bytes}}}

The Flink job sends them on their own output (flink.step_operators.NOTICES); late events are
dead letters (core.dead_letters, kind `late`) on another.
"""
from __future__ import annotations

import json

ALLOWLIST_USE = "allowlist_use"
FIRST_PARTY_PROVIDER = "first_party_provider"
EGRESS_ATTRIBUTION = "egress_attribution"
KINDS = (ALLOWLIST_USE, FIRST_PARTY_PROVIDER, EGRESS_ATTRIBUTION)


def notice(kind: str, fields: dict) -> str:
    """A notice as the job sends it: JSON with its kind first."""
    assert kind in KINDS, kind
    return json.dumps({"notice": kind, **fields})
