"""Splunk HTTP Event Collector (HEC) event envelope around a finding document (OCSF or ECS).

`time` is the finding's time (its last step) in epoch seconds, so Splunk indexes the finding
when the attack happened, not when it was sent. HEC takes a batch as envelopes written one
after another in one request body (chainwatch/sinks/hec_client.py does that).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass

EVENT_FORMATS = ("ocsf", "ecs")


@dataclass(frozen=True)
class HecFields:
    """Envelope metadata; None means "the default": this machine's name, chainwatch:<format>,
    and no index (HEC then uses the token's default index)."""
    host: str | None = None
    source: str = "chainwatch"
    sourcetype: str | None = None
    index: str | None = None
    event_format: str = "ocsf"


def envelope(document: dict, time_ms: int, fields: HecFields) -> dict:
    result = {
        "time": round(time_ms / 1000, 3),
        "host": fields.host or socket.gethostname(),
        "source": fields.source,
        "sourcetype": fields.sourcetype or f"chainwatch:{fields.event_format}",
    }
    if fields.index:
        result["index"] = fields.index
    result["event"] = document
    return result
