"""One entry point for every sink: an OCSF finding (the pipeline's JSON string) in the sink's format."""
from __future__ import annotations

import json

from chainwatch.findings.ecs import to_ecs
from chainwatch.findings.splunk_hec import HecFields, envelope

FORMATS = ("ocsf", "ecs", "hec")


def _dumps(document: dict) -> str:
    return json.dumps(document, separators=(",", ":"))


def render(ocsf_json: str, fmt: str, hec: HecFields | None = None) -> str:
    """fmt: ocsf (as it is), ecs, or hec (a HEC envelope around hec.event_format, OCSF by default)."""
    if fmt == "ocsf":
        return ocsf_json
    if fmt not in FORMATS:
        raise ValueError(f"unknown findings format {fmt!r}; expected one of {', '.join(FORMATS)}")
    ocsf = json.loads(ocsf_json)
    if fmt == "ecs":
        return _dumps(to_ecs(ocsf))
    fields = hec or HecFields()
    document = to_ecs(ocsf) if fields.event_format == "ecs" else ocsf
    return _dumps(envelope(document, ocsf["time"], fields))
