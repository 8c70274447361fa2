"""A finding's `message`: one paragraph an analyst reads in ten seconds, with the numbers.

Who, then each step as a clause with its figures (what, how much, against which baseline, to or
from where), each step after the first with how long after the one before it:

  AN1328: svc-sync (Role, AWS account 111122223333) was created 2026-11-05 10:00:00Z by
  arn:aws:iam::111122223333:user/alice; 12m later it read 450 objects (1.2 GB) from 3 buckets
  (a, b, c) within 9m 40s, 56x the peer group's baseline of 8 reads per 10m; 25m later it sent
  1.5 GB in 12 transfers to 45.155.205.17 (XHOST-NET, AS208091, RU).

A step kind without a clause here still gets one naming it. Only evidence fields are used, never
raw event payloads.
"""
from __future__ import annotations

from chainwatch.core.providers import account_word
from chainwatch.core.wording import duration
from chainwatch.steps.registry import BY_NAME


def clause(step: dict) -> str:
    """The words of one step, its kind's own (steps.registry: StepKind.clause)."""
    kind = BY_NAME.get(step["step"])
    return kind.clause(step["evidence"]) if kind else f"completed the step {step['name']}"


def narrative(finding: dict) -> str:
    principal, cloud = finding["principal"], finding["cloud"]
    account = f"{account_word(cloud['provider'])} {cloud['account']}"
    parts = []
    for n, step in enumerate(finding["steps"]):
        if n == 0:
            parts.append(clause(step))
        else:
            gap = step["time"] - finding["steps"][n - 1]["time"]
            parts.append(f"{duration(gap)} later it {clause(step)}" if gap >= 1000 else f"and it {clause(step)}")
    return f"{finding['analytic']['id']}: {principal['name']} ({principal['type']}, {account}) {'; '.join(parts)}."
