"""Calls that turn an evidence stream off or name where one is written (conf/*/evidence_changes.yaml):
marked on the event at parse time, where the raw record is at hand (steps.coverage_watch decides the rest).

event["evidence"] = {role: change | destination, stream, when, targets}: the targets (space
separated: the event model nests only scalars; no bucket or log group name holds a space) are the
buckets (`s3:NAME`) and log groups (`logs:NAME`) the record names, for a deletion that matters
only when a trail or flow log writes there, and for the calls that say where they write.
"""
from __future__ import annotations

from chainwatch.core.event import dig


def _list(value) -> list:
    """A field a record should hold as a list: anything else (hostile or damaged) holds nothing."""
    return value if isinstance(value, list) else []


def _data_events_removed(record: dict) -> bool:
    """CloudTrail event selectors that log no data events any more (an empty list included)."""
    params = record.get("requestParameters") if isinstance(record.get("requestParameters"), dict) else {}
    if isinstance(params.get("eventSelectors"), list):
        return not any(isinstance(s, dict) and s.get("dataResources") for s in params["eventSelectors"])
    if isinstance(params.get("advancedEventSelectors"), list):
        return not any(isinstance(f, dict) and f.get("field") == "eventCategory" and "Data" in _list(f.get("equals"))
                       for s in params["advancedEventSelectors"] if isinstance(s, dict)
                       for f in _list(s.get("fieldSelectors")))
    return False


def _audit_config_removed(record: dict) -> bool:
    """A GCP IAM policy change whose delta removes audit log configs (Data Access logs)."""
    deltas = dig(record, "protoPayload.serviceData.policyDelta.auditConfigDeltas")
    return isinstance(deltas, list) and any(isinstance(d, dict) and d.get("action") == "REMOVE" for d in deltas)


CONDITIONS = {"data_events_removed": _data_events_removed, "audit_config_removed": _audit_config_removed}


def target(kind: str, value) -> str:
    """`s3:BUCKET` or `logs:GROUP` for a name or an ARN (an ARN names its own kind); '' for none."""
    if not isinstance(value, str) or not value.strip():
        return ""
    value = value.strip()
    if value.startswith("arn:"):
        parts = value.split(":", 6)
        if len(parts) > 5 and parts[2] == "s3":
            return f"s3:{parts[5].split('/', 1)[0]}"
        if len(parts) > 6 and parts[2] == "logs" and parts[5] == "log-group":
            return f"logs:{parts[6].split(':', 1)[0]}"
        return ""
    return f"{kind}:{value.split('/', 1)[0] if kind == 's3' else value}"


def mark(event: dict, record: dict, reference) -> None:
    """Mark a successful call listed in the evidence changes (conf) whose condition holds."""
    rule = reference.evidence_rule(event["cloud"], event["service"], event["action"]) if event["success"] else None
    if rule is None or (rule.when in CONDITIONS and not CONDITIONS[rule.when](record)):
        return
    targets = sorted({t for kind, path in rule.target_from if (t := target(kind, dig(record, path)))})
    if rule.target_from and not targets:
        return
    event["evidence"] = {"role": rule.role, "stream": rule.stream, "when": rule.when, "targets": " ".join(targets)}
