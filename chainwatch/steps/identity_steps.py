"""All step logic for one identity (IAM user or role), over plain state: no Flink here.

The Flink operator keyed by identity holds `state` and calls `IdentitySteps.process`. AN1348's
sessions live inside their role's state: every session call is logged under its role, so the
role's key sees the entry, the calls and the networks the role is usually reached from.
"""
from __future__ import annotations

from chainwatch.steps.allowlist import outside_reason
from typing import NamedTuple

from chainwatch.core.event import NOVELTY_TYPES, principal_type_of
from chainwatch.steps import dedup, egress, familiarity, novelty, sessions, spike
from chainwatch.steps.first_party import FACTS_KEY, FirstPartyProviders
from chainwatch.steps.peers import PeerBaselines
from chainwatch.steps.registry import step_handlers


def identity_key(event: dict) -> str:
    """Which identity an event is about: the created one, the assumed role, or the actor."""
    if "route" in event:
        return event["route"]
    if "created" in event:
        return event["created"]["identity"]
    if "assume" in event:
        return event["assume"]["role"]
    return event["principal"]


def route_to_identities(event: dict):
    """Identity activity (API calls, object access) for the identity-keyed steps. A creation is
    about two identities: the new one (novelty) and its creator, whose session may be in a
    privileged burst (CreateAccessKey, credentials added to an app). Both get it."""
    if event["kind"] not in ("api", "object_access"):
        return
    created = event.get("created")
    if created and event["principal"] and created["identity"] != event["principal"]:
        yield dict(event, route=created["identity"])
        yield dict(event, route=event["principal"])
    else:
        yield event


def identity_type(key: str, event: dict) -> str:
    """The key's identity type as this event tells it (creation, assumption or the actor)."""
    created = event.get("created")
    if created and created["identity"] == key:
        return created["identity_type"]
    if event.get("principal") == key and event.get("principal_type"):
        return event["principal_type"]
    return principal_type_of(key)


def identity_name(key: str, event: dict) -> str:
    if event.get("principal") == key and event.get("principal_name"):
        return event["principal_name"]
    created = event.get("created")
    if created and created["identity"] == key and created.get("name"):
        return created["name"]
    if key.startswith(("serviceAccount:", "user:")):  # GCP IAM member: the e-mail is the name
        return key.partition(":")[2]
    return key.rsplit("/", 1)[-1]


class _Now(NamedTuple):
    """What every handler of one event shares."""
    key: str                 # the identity the event is about (identity_key)
    kind: str                # its type (role, user, ...), as this event or its state tells it
    history_start_ms: int
    learning: bool           # still in unfamiliar_origin's learning period


HANDLERS = step_handlers()      # the IdentitySteps method of each step kind, in the registry's order


class IdentitySteps:
    def __init__(self, config, inventory: dict | None = None):
        self.config = config
        self.inventory = inventory or {}
        self.dedup_horizon_ms = max(config.spike.window_ms, config.egress.window_ms, config.burst.span_ms)
        self.allowlist_uses: list[dict] = []     # sessions an allowlist entry let in, until taken
        self.first_party = FirstPartyProviders(config.cross_account.first_party_providers)
        self.learned_providers: list[dict] = []  # first-party providers learned, until taken
        self.peers = PeerBaselines()              # learned peer baselines (steps.peers)
        self._handlers = [getattr(self, name) for name in HANDLERS]     # bound once, not per event

    def process(self, key: str, state: dict, event: dict, history_start_ms: int) -> list[dict]:
        """Update the identity's state with one event; return the step rows it completes: each
        step kind's handler in the registry's order (steps.registry), until one says the event
        is done (an assumption of this role is the entry and nothing else)."""
        cfg = self.config
        if key == FACTS_KEY:
            self._learn(state, event)
            return []
        if dedup.is_duplicate(state, event, self.dedup_horizon_ms):
            return []
        kind = identity_type(key, event) or state.get("type", "")
        if kind:
            state["type"] = kind
        sessions.expire(state, event["ts"], cfg.burst.session_ttl_ms)
        now = _Now(key, kind, history_start_ms, event["ts"] < history_start_ms + cfg.familiarity.learning_period_ms)
        rows: list[dict] = []
        for handler in self._handlers:
            if handler(now, state, event, rows):
                break
        return [self._label(r, key, event) for r in rows]

    def _learn(self, state: dict, event: dict) -> None:
        """A first-party provider the event shows (steps.first_party): kept in the facts key's
        state, so a restore brings it back (restore_providers), and here for every key."""
        fact = event.get("first_party")
        if fact and self.first_party.learn(fact, event["ts"], event["id"]):
            state.setdefault("providers", {})[fact["provider"]] = self.first_party.learned[fact["provider"]]
            self.learned_providers.append({"first_party_provider": fact["provider"], "how": fact["how"],
                                           "event_id": event["id"], "event_time_ms": event["ts"]})

    def restore_providers(self, facts_state: dict | None) -> None:
        self.first_party.restore((facts_state or {}).get("providers", {}))

    def new_identity(self, now, state, event, rows) -> bool:
        if now.kind in NOVELTY_TYPES:
            created = event.get("created")
            cfg = self.config.novelty
            step = novelty.observe(state, event, created is not None and created["identity"] == now.key,
                                   now.history_start_ms + cfg.learning_period_ms, cfg.max_age_ms,
                                   self.inventory.get(now.key))
            rows.extend([step] if step else [])
        return False

    def object_access_spike(self, now, state, event, rows) -> bool:
        if event["kind"] == "object_access":
            cfg = self.config.spike
            step = spike.observe(state, event, cfg.window_ms, cfg.floor_reads, cfg.multiplier, cfg.min_history_windows,
                                 cfg.peer_baselines.get(now.kind, 0.0), self.config.job.max_event_ids_per_step,
                                 self.peers, now.key, self.peers.groups_of(now.kind, event["account"]))
            rows.extend([step] if step else [])
        return False

    def external_exfiltration(self, now, state, event, rows) -> bool:
        cfg = self.config.egress
        step = egress.observe(state, event, cfg.window_ms, cfg.min_bytes, self.config.job.max_event_ids_per_step)
        rows.extend([step] if step else [])
        return False

    def cross_account_entry(self, now, state, event, rows) -> bool:
        assume = event.get("assume")
        if not (assume and assume["role"] == now.key):
            return False
        rows.extend(self._entry(state, now.key, event, assume, now.learning))
        return True

    def session_call(self, now, state, event, rows) -> bool:
        """A call of a session this role's entry opened: the origin it came from, the burst, and
        the unfamiliar origin behind the burst (privileged_burst and unfamiliar_origin)."""
        cfg = self.config
        session = state.get("sessions", {}).get(event.get("session") or "")
        verdict = None
        if event.get("geo") and event["kind"] != "flow":
            caller = session["caller"] if session else ""
            caller_account = session["caller_account"] if session else ""
            allowlisted = session is not None and cfg.allowlist.expected_origin(
                sessions.caller_of(session), event.get("src_ip", ""), event["geo"])
            verdict = familiarity.assess(state, event["geo"], now.key, caller, caller_account, now.learning,
                                         cfg.familiarity.expected_networks, allowlisted)
        if session is not None:
            if verdict:
                sessions.note_origin(session, verdict, event)
            category = cfg.reference.privileged_category(event["cloud"], event["service"], event["action"])
            if session.get("allowed_by"):
                rows.extend(self._left_allowlist(session, event, category))
            if not session.get("allowed_by"):       # also the call it just fell outside with: it counts
                for step in sessions.observe_call(session, event, category, cfg.burst.span_ms, cfg.burst.min_calls):
                    rows.append(dict(step, session=event["session"], outside_account=session["caller_account"]))
        return False

    def _entry(self, state, key, event, assume, learning) -> list[dict]:
        cfg = self.config.cross_account
        role_account = key.split(":")[4] if key.count(":") >= 5 else event["account"]
        allowlist, src_ip = self.config.allowlist, event.get("src_ip", "")
        verdict = None
        if event.get("geo"):
            verdict = familiarity.assess(state, event["geo"], key, assume["caller"], assume["caller_account"],
                                         learning, self.config.familiarity.expected_networks,
                                         allowlist.expected_origin(assume, src_ip, event["geo"]))
        reason = sessions.entry_reason(assume, role_account, cfg.org_accounts, cfg.trusted_accounts,
                                       cfg.trusted_principals)
        if not reason or self.first_party.vouches(assume, event["ts"]):
            return []
        allowed_by, outside = allowlist.judge_entry(assume, key, src_ip, event.get("geo"), event["ts"])
        earlier = state.get("sessions", {}).get(assume["session"])
        step = sessions.start_session(state, event, f"{reason}; {outside_reason(outside)}" if outside else reason)
        session = state["sessions"][assume["session"]]
        if verdict:
            sessions.note_origin(session, verdict, event)
            step["origin"] = verdict
        if allowed_by:       # inside the entry: no step, but the session is watched (_left_allowlist)
            if earlier is not None and not earlier.get("allowed_by"):
                return []    # a re-entry into a session that already fell outside: it stays an entry
            session.update(allowed_by=allowed_by.id, pending_entry=dict(step, allowed_by=allowed_by.describe()))
            self.allowlist_uses.append({"allowlist_use": allowed_by.id, "event_id": event["id"],
                                        "event_time_ms": event["ts"]})
            return []
        if outside:
            step["allowlist"] = outside
        return [step]

    def _left_allowlist(self, session: dict, event: dict, category: str | None) -> list[dict]:
        """The entry step of a session an allowlist entry let in, once a call of it falls outside
        the entry (another network, a category it may not call, past expiry): at that call."""
        entry = self.config.allowlist.by_id(session["allowed_by"])
        why = ["the entry is no longer in the allowlist"] if entry is None else \
            entry.call_outside(category, event.get("src_ip", ""), event.get("geo"), event["ts"])
        if not why:
            return []
        pending = session.pop("pending_entry")
        outside = [dict(pending.pop("allowed_by"), outside=why)]
        session["allowed_by"] = None
        return [dict(pending, ts=event["ts"], event_ids=pending["event_ids"] + [event["id"]],
                     event_times=pending["event_times"] + [event["ts"]], allowlist=outside,
                     reason=f"{pending['reason']}; {outside_reason(outside)}", session=event["session"])]

    @staticmethod
    def _label(row: dict, key: str, event: dict) -> dict:
        row.setdefault("session", "")
        row.update(principal=key, account=event["account"], region=event["region"], cloud=event["cloud"],
                   principal_type=identity_type(key, event), principal_name=identity_name(key, event))
        return row
