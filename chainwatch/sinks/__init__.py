"""Findings sinks (config `sinks:`): stdout or files in OCSF, ECS or HEC format, and Splunk HEC.

PyFlink is imported only when a job is built, so config loading (which reads
chainwatch/sinks/settings.py) stays free of it.
"""
from __future__ import annotations


def attach_finding_sinks(findings, config, dead_letter_target, dead_letter_name: str = "dead-letters",
                         route_dead_letters: bool = True):
    """Send the findings stream (OCSF JSON strings) to every sink in `config.sinks`.

    Findings a HEC sink could not deliver become dead letters ({ref, reason, raw}) written to
    `dead_letter_target` (a folder, or '-'/None for stdout, as sinks/files.sink_to). Returns
    that dead-letter stream (None without HEC sinks), already routed, for callers that also
    count or collect it.
    """
    from chainwatch.sinks.files import sink_to
    from chainwatch.sinks.flink import deliver_to_hec, formatted

    dead_letters = []
    for sink in config.sinks:
        if sink.type == "hec":
            dead_letters.append(deliver_to_hec(findings, sink))
        else:
            sink_to(formatted(findings, sink), sink.path if sink.type == "file" else None, sink.name)
    if not dead_letters:
        return None
    merged = dead_letters[0].union(*dead_letters[1:]) if len(dead_letters) > 1 else dead_letters[0]
    if route_dead_letters:
        sink_to(merged, dead_letter_target, dead_letter_name)
    return merged
