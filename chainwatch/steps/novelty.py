"""Identity novelty: is this identity new?

The rule (documented in the README):
  * created: a creation event (CreateUser, CreateRole, ...) or an inventory creation date
    makes the identity new for `max_age` after its creation.
  * first seen: an identity with no creation record is new when first seen after the history
    horizon (history_start + learning_period), for `max_age` after it was first seen.
    Before the horizon the job is still learning who exists, so nothing is "first seen".
  * a credential event (CreateAccessKey, CreateLoginProfile) counts as creation only for an
    identity with no earlier activity: a new key for an old user is not a new identity.
A step row is emitted once per identity lifetime (again if it is deleted and re-created).
"""
from __future__ import annotations

from chainwatch.core.wording import when
from chainwatch.steps import NEW_IDENTITY


def observe(state: dict, event: dict, is_creation_target: bool, horizon_ms: int, max_age_ms: int,
            inventory_created_ms: int | None) -> dict | None:
    """Update novelty state for one event of this identity; returns step evidence or None."""
    ts = event["ts"]
    nov = state.setdefault("novelty", {"first_seen": None, "created": None, "created_by": None,
                                       "creation_id": None, "emitted_for": None})
    if nov["created"] is None and inventory_created_ms is not None:
        nov["created"], nov["creation_id"] = inventory_created_ms, "inventory"
    if is_creation_target:
        created = event["created"]
        if created["signal"] == "creation" or nov["first_seen"] is None or nov["first_seen"] >= ts:
            nov.update(created=ts, created_by=event.get("principal_arn") or event.get("principal"),
                       creation_id=event["id"])
    elif nov["first_seen"] is None or ts < nov["first_seen"]:
        nov["first_seen"] = ts

    if nov["created"] is not None:
        origin, basis = nov["created"], "created"
    elif nov["first_seen"] is not None and nov["first_seen"] >= horizon_ms:
        origin, basis = nov["first_seen"], "first_seen"
    else:
        return None
    if ts - origin > max_age_ms or nov["emitted_for"] == origin:
        return None
    nov["emitted_for"] = origin
    by_creation = basis == "created" and nov["creation_id"] != "inventory"
    return {
        "step": NEW_IDENTITY, "ts": ts, "basis": basis,
        "created_at": nov["created"], "first_seen": nov["first_seen"] if nov["first_seen"] is not None else ts,
        "created_by": nov["created_by"], "identity_age_ms": max(0, ts - origin),
        "event_ids": [nov["creation_id"] if by_creation else event["id"]],
        "event_times": [nov["created"] if by_creation else ts],
        "max_age_ms": max_age_ms,
    }


def clause(ev: dict) -> str:
    """The narrative's words for this step, from its evidence."""
    if ev.get("basis") == "created":
        by = f" by {ev['created_by']}" if ev.get("created_by") else ""
        return f"was created {when(ev.get('created_at'))}{by}"
    return f"was first seen {when(ev.get('first_seen'))}, with no creation on record"
