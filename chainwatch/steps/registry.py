"""Every step kind, declared once: its name, the key it is computed on, its parameters (config
section `steps.<section>`, defaults, units), the evidence it emits and its ECS categories.

Derived from here: the config schema of `steps:` (config.load_config), the per-pattern parameter
overrides (`steps: - {step: privileged_burst, params: {min_calls: 5}}`, patterns.pattern), the check
that a pattern's steps are computed on its key, the dispatcher (steps.identity_steps runs each kind's
handler in this order), the config section's dataclass (SECTION_TYPES), the narrative's words for
its rows (`clause`), the docs' step tables (`python -m chainwatch.steps.registry` prints them; a
test keeps docs/reference/configuration.md in step) and ECS's event.category. A new step kind:
its logic and clause in steps/, its entry here, its handler (an IdentitySteps method named after
it); tests/unit/test_extension_points.py fails while one of those parts is missing.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from chainwatch.steps import (CROSS_ACCOUNT_ENTRY, EXTERNAL_EXFILTRATION, NEW_IDENTITY, OBJECT_ACCESS_SPIKE,
                              PRIVILEGED_BURST, UNFAMILIAR_ORIGIN, egress, familiarity, novelty, sessions, spike)

# Kinds a pattern may override (scalars); the others are the job's, not a pattern's.
OVERRIDABLE = ("duration", "int", "float", "size")
_DEPRECATED_TRUST = ("deprecated: trusted from any network to assume any role; still honoured, with a "
                     "warning (`validate` prints it, the job logs it) giving the [allowlist](#allowlist) entry "
                     "to write instead")


@dataclass(frozen=True)
class Param:
    name: str             # as written in the config and in a pattern's `params`
    kind: str             # duration | int | float | size | str_list | timestamp | path | float_map | network_map
                          # | provider_list
    default: object       # as a user writes it (`10m`, `100MB`), None for unset
    field: str            # the config dataclass field it fills
    meaning: str
    minimum: float | None = None


@dataclass(frozen=True)
class StepKind:
    name: str
    key: str              # principal | session: what the step's rows are keyed on
    section: str          # steps.<section> in the config
    config_attr: str      # the Config attribute holding the section's values
    params: tuple[Param, ...]
    evidence: tuple[str, ...]       # the fields of its evidence that findings and the narrative use
    ecs_categories: tuple[str, ...]
    summary: str
    clause: Callable[[dict], str]   # the finding narrative's words for a row of it, from its evidence
    handler: str = ""     # the steps.identity_steps.IdentitySteps method computing it; default: its name

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


STEPS = (
    StepKind(NEW_IDENTITY, "principal", "novelty", "novelty", (
        Param("max_age", "duration", "24h", "max_age_ms", "how long an identity stays \"new\""),
        Param("learning_period", "duration", "7d", "learning_period_ms",
              "first-seen counts only after this much history"),
        Param("history_start", "timestamp", None, "history_start_ms", "start of history (ISO timestamp); unset: "
              "the earliest event the job has seen"),
        Param("inventory", "path", None, "inventory", "CSV/JSONL of identities with `arn`, `created`"),
    ), ("basis", "created_at", "created_by", "first_seen", "identity_age_ms"), ("iam",),
        "an identity created (or first seen after the learning period) within max_age", novelty.clause),
    StepKind(OBJECT_ACCESS_SPIKE, "principal", "object_access_spike", "spike", (
        Param("window", "duration", "10m", "window_ms", "the sliding window reads are counted in"),
        Param("floor_reads", "int", 100, "floor_reads", "never a spike below this many reads in the window", 1),
        Param("multiplier", "float", 10, "multiplier", "... nor below this many times the baseline", 1),
        Param("min_history_windows", "int", 6, "min_history_windows",
              "active windows before an identity's own baseline is used", 1),
        Param("peer_baselines", "float_map", {}, "peer_baselines",
              "reads per window for identities without a baseline, by type (`role`, `user`): the floor under "
              "the baseline learned from their peers (steps/peers.py: the 75th percentile of the own baselines "
              "of 10 or more identities of the type, in the account or anywhere)"),
    ), ("reads", "bytes", "buckets", "bucket_count", "threshold", "baseline", "baseline_basis", "window_ms"), (),
        "object reads and listings in the window at or above max(floor_reads, multiplier x baseline)", spike.clause),
    StepKind(EXTERNAL_EXFILTRATION, "principal", "exfiltration", "egress", (
        Param("window", "duration", "1h", "window_ms", "the window bytes out are summed in"),
        Param("min_bytes", "size", "100MB", "min_bytes", "a step each time another this many bytes leave in it"),
    ), ("bytes", "transfers", "destinations", "channels", "workloads"), ("network",),
        "bytes to external addresses (flows of its workloads, downloads from outside)", egress.clause),
    StepKind(CROSS_ACCOUNT_ENTRY, "session", "cross_account_entry", "cross_account", (
        Param("org_accounts", "str_list", (), "org_accounts",
              "the organisation's own accounts, projects, domains, tenants: not outsiders"),
        Param("first_party_providers", "provider_list", (), "first_party_providers",
              "the org's own identity providers (EKS OIDC issuers, GKE pools, SAML IdPs), each a provider or "
              "`{provider, subjects}` (`*` allowed): their federated sessions are not entries; EKS issuers and "
              "GKE pools of clusters the org creates are also learned from its audit logs"),
        Param("trusted_accounts", "str_list", (), "trusted_accounts", _DEPRECATED_TRUST),
        Param("trusted_principals", "str_list", (), "trusted_principals", _DEPRECATED_TRUST),
    ), ("reason", "role", "method", "caller", "outside_account", "src_ip", "allowlist"), ("authentication", "iam"),
        "a role assumed by an outside principal or a federated identity, outside any allowlist entry",
        sessions.entry_clause),
    StepKind(PRIVILEGED_BURST, "session", "privileged_burst", "burst", (
        Param("span", "duration", "5m", "span_ms", "the span the privileged calls fall in"),
        Param("min_calls", "int", 3, "min_calls", "privileged calls (reference.privileged_apis) in the span", 1),
        Param("session_ttl", "duration", "12h", "session_ttl_ms", "how long a session is tracked"),
    ), ("call_count", "calls", "categories", "first_ts", "last_ts"), ("iam", "configuration"),
        "min_calls privileged calls by the session within span", sessions.burst_clause, handler="session_call"),
    StepKind(UNFAMILIAR_ORIGIN, "session", "unfamiliar_origin", "familiarity", (
        Param("learning_period", "duration", "7d", "learning_period_ms",
              "origins are learned, never called unfamiliar, during it"),
        Param("expected_networks", "network_map", {}, "expected_networks",
              "role ARN, principal ARN or account -> CIDRs / `AS<n>`: never an unfamiliar origin (a partner's "
              "networks belong in its allowlist entry's `from`)"),
    ), ("origins",), ("authentication",),
        "the session's access from a network or country new for the role and its caller", familiarity.clause,
        handler="session_call"),
)
BY_NAME = {kind.name: kind for kind in STEPS}


def _section_type(kind: StepKind) -> type:
    """The frozen dataclass of a kind's config section, one field per parameter. Made here, and
    named in this module, so the job's config pickles by reference into the Flink job."""
    name = "".join(part.title() for part in kind.config_attr.split("_")) + "Config"
    return dataclasses.make_dataclass(name, [(param.field, object) for param in kind.params], frozen=True,
                                      namespace={"__module__": __name__})


# config attribute (config.novelty, config.spike, ...) -> its section's dataclass
SECTION_TYPES = {kind.config_attr: _section_type(kind) for kind in STEPS}
globals().update({section.__name__: section for section in SECTION_TYPES.values()})


def step_handlers() -> tuple[str, ...]:
    """The handlers the identity steps run for each event, once each, in this order (an
    assumption of the role ends at the entry's: nothing after it applies)."""
    return tuple(dict.fromkeys(kind.handler or kind.name for kind in STEPS))


def ecs_categories(step: str) -> tuple[str, ...]:
    kind = BY_NAME.get(step)
    return kind.ecs_categories if kind else ()


def with_params(config, overrides: dict):
    """The config with a pattern's parameters in place of the job's: {step: {param: value}},
    values already converted (patterns.pattern)."""
    for step, params in overrides.items():
        kind = BY_NAME[step]
        section = getattr(config, kind.config_attr)
        section = dataclasses.replace(section, **{kind.param(name).field: value for name, value in params.items()})
        config = dataclasses.replace(config, **{kind.config_attr: section})
    return config


def _default(param: Param) -> str:
    if param.default is None:
        return "unset"
    if isinstance(param.default, (dict, tuple, list)):
        return f"`{'{}' if isinstance(param.default, dict) else '[]'}`"
    return f"`{param.default}`"


def markdown_steps() -> list[str]:
    """The README's table of step kinds: key, what it means, the evidence a finding carries."""
    rows = ["| step | computed per | a row when | evidence |", "|---|---|---|---|"]
    rows += [f"| `{kind.name}` | {kind.key} | {kind.summary} | {', '.join(f'`{e}`' for e in kind.evidence)} |"
             for kind in STEPS]
    return rows


def markdown_rows() -> list[str]:
    """The README's rows for `steps.*`, one per parameter."""
    rows = []
    for kind in STEPS:
        for param in kind.params:
            per_pattern = " (per pattern: `params`)" if param.kind in OVERRIDABLE else ""
            rows.append(f"| `steps.{kind.section}.{param.name}` | {_default(param)} | {kind.name} "
                        f"({kind.key}): {param.meaning}{per_pattern} |")
    return rows


if __name__ == "__main__":
    print("\n".join(markdown_steps() + [""] + markdown_rows()))
