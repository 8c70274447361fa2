"""Step variants: the identity steps once per set of step parameters in use.

Steps are computed once, before CEP, from the job's `steps.*` parameters. A pattern that sets
its own (`steps: - {step: privileged_burst, params: {min_calls: 5}}`) gets its own variant: the
same step logic with its parameters (steps.registry.with_params) over its own state, under
state["variants"][pattern id]. Its rows carry `variant` and go to MATCH_RECOGNIZE as
`<step>@<pattern id>` (step_column), which only that pattern's query reads. So two patterns
using one step kind with different parameters each fire on exactly their own threshold, and a
job whose patterns set nothing computes each step once, as before. No PyFlink.
"""
from __future__ import annotations

from chainwatch.steps.first_party import FACTS_KEY
from chainwatch.steps.identity_steps import IdentitySteps
from chainwatch.steps.registry import with_params


def step_column(step: str, variant: str = "") -> str:
    """What a step row's `step` column holds, and what a pattern's query selects."""
    return f"{step}@{variant}" if variant else step


class StepVariants:
    def __init__(self, config, patterns=None, inventory: dict | None = None):
        patterns = list(patterns or ())
        self.main = IdentitySteps(config, inventory)
        # the job's parameters are computed when a pattern uses them (or with no patterns given)
        self.run_main = not patterns or any(not p.variant for p in patterns)
        self.others = [(p.variant, IdentitySteps(with_params(config, p.overrides), inventory),
                        {s.step for s in p.steps}) for p in patterns if p.variant]

    def take_allowlist_uses(self) -> list[dict]:
        """The sessions an allowlist entry let in since the last call, once each (every variant
        judges the same assumptions)."""
        uses = {}
        for logic in self._logics():
            uses.update((use["event_id"], use) for use in logic.allowlist_uses)
            logic.allowlist_uses.clear()
        return list(uses.values())

    def use_inventory(self, inventory: dict) -> None:
        """Identities' creation times, as reloaded (enrich.asset_inventory)."""
        for logic in self._logics(every=True):
            logic.inventory = inventory

    def _logics(self, every: bool = False) -> list:
        """The variants' logics; the job's own too when a pattern uses it (or `every`)."""
        return ([self.main] if self.run_main or every else []) + [logic for _variant, logic, _used in self.others]

    def take_learned_providers(self) -> list[dict]:
        """First-party providers learned since the last call, once each."""
        learned = {}
        for logic in self._logics():
            learned.update((p["first_party_provider"], p) for p in logic.learned_providers)
            logic.learned_providers.clear()
        return list(learned.values())

    def restore_providers(self, facts_state: dict | None) -> None:
        for logic in self._logics():
            logic.restore_providers(facts_state)

    def peer_snapshot(self) -> dict:
        """Every variant's learned peer baselines (steps.peers), as a bucket keeps them."""
        return {"main": self.main.peers.snapshot(), **{v: logic.peers.snapshot() for v, logic, _used in self.others}}

    def restore_peers(self, snapshot: dict | None) -> None:
        snapshot = snapshot or {}
        self.main.peers.restore(snapshot.get("main"))
        for variant, logic, _used in self.others:
            logic.peers.restore(snapshot.get(variant))

    def peer_changes(self) -> int:
        return sum(logic.peers.changes for logic in self._logics(every=True))

    def process(self, key: str, state: dict, event: dict, history_start_ms: int) -> list[dict]:
        if key == FACTS_KEY:      # the org's facts: every variant learns them, into one state
            for logic in self._logics():
                logic.process(key, state, event, history_start_ms)
            return []
        rows = self.main.process(key, state, event, history_start_ms) if self.run_main else []
        for variant, logic, used in self.others:
            own = state.setdefault("variants", {}).setdefault(variant, {})
            rows += [dict(row, variant=variant) for row in logic.process(key, own, event, history_start_ms)
                     if row["step"] in used]
        return rows
