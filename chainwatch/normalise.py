"""Raw records -> enriched normalised events, or dead letters. Pure Python, no Flink.

Used by the Flink operators of every source (files now, Kafka later): one place decides what
a record becomes, so replay and streaming agree.
"""
from __future__ import annotations

import json

from chainwatch.enrich.geoip import GeoIP
from chainwatch.enrich.netclass import NetworkClassifier
from chainwatch.model import ParseError
from chainwatch.parsers import parse_record

_MAX_RAW_CHARS = 100_000


def dead_letter(ref: str, reason: str, payload) -> dict:
    if isinstance(payload, tuple):
        payload = payload[-1]
    raw = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    return {"ref": ref, "reason": reason, "raw": raw[:_MAX_RAW_CHARS], "raw_truncated": len(raw) > _MAX_RAW_CHARS}


class Normaliser:
    def __init__(self, config):
        self.reference = config.reference
        self.classifier = NetworkClassifier(config.networks.org_cidrs, config.networks.egress_allowlist)
        self.geoip = GeoIP(config.geoip.city_db, config.geoip.asn_db)

    def normalise(self, ref: str, payload, framing: str, source_format: str = "auto"):
        """(events, dead_letter or None) for one raw record. Never raises on bad input."""
        try:
            events = parse_record(payload, framing, self.reference, source_format)
        except ParseError as exc:
            return [], dead_letter(ref, str(exc), payload)
        except Exception as exc:  # a parser bug must not stop the job or lose the record
            return [], dead_letter(ref, f"parser error {type(exc).__name__}: {exc}", payload)
        for event in events:
            event["raw_ref"] = ref
            self._enrich(event)
        return events, None

    def _enrich(self, event: dict) -> None:
        if event["kind"] == "flow":
            flow = event["flow"]
            event["egress"] = (flow["action"] != "REJECT" and flow["bytes"] > 0 and flow["direction"] != "ingress"
                               and not self.classifier.is_external(flow["src"])
                               and self.classifier.is_external(flow["dst"]))
            if event["egress"]:
                event["geo"] = self.geoip.lookup(flow["dst"])
        elif event["kind"] != "binding" and self.classifier.is_external(event.get("src_ip", "")):
            event["external_src"] = True
            event["geo"] = self.geoip.lookup(event["src_ip"])
