"""The asset inventory (`enrichment.inventory`): what the org's own exports say its instances,
network interfaces and identities are, for what the telemetry does not show.

  * workload bindings: an instance running since before the data window (no RunInstances seen,
    v2 flow logs without an instance id) is still bound to its role, service account or managed
    identity: the egress hops (flink.step_operators.WorkloadResolver) fall back to the inventory
    where their state has learned nothing. What the telemetry teaches wins: it is newer.
  * interfaces that are no instance's (NAT gateways, load balancers): their flows are
    unattributable by design, reported as such (steps.workload_binding), never silently unbound.
  * identities' creation dates (novelty): an identity created months ago is not new when first
    seen after the learning period (a weekly cron role).

Loaded when the job starts, and again when a file changes (checked at most every `refresh`, by
modification time); a file that no longer loads keeps the last good inventory, with a warning.
Formats: enrich.asset_formats. No PyFlink here.
"""
from __future__ import annotations

import json
import logging
import os
import time

from chainwatch.core.errors import ChainwatchError, Problem
from chainwatch.enrich.asset_formats import AssetError, read_document

log = logging.getLogger("chainwatch")


class AssetInventory:
    def __init__(self, facts=()):
        self.aliases: dict[str, str] = {}           # alias -> instance
        self.special: dict[str, str] = {}           # alias -> nat_gateway | load_balancer
        self.instances: dict[str, str] = {}         # instance -> "principal_type\tprincipal" (steps.workload_binding)
        self.created: dict[str, int] = {}           # identity key -> creation time (ms)
        profiles, holders = {}, []
        for fact in facts:
            kind = fact[0]
            if kind == "alias":
                self.aliases[fact[1]] = fact[2]
            elif kind == "special":
                self.special[fact[1]] = fact[2]
            elif kind == "instance":
                holders.append(fact[1:])
            elif kind == "profile":
                profiles[fact[1]] = fact[2]
            else:
                self.created[fact[1]] = min(fact[2], self.created.get(fact[1], fact[2]))
        for instance, principal_type, principal in holders:
            if ":instance-profile/" in principal:
                # The IAM export names each profile's role; without it, the role the console
                # creates with a profile, which has the profile's name.
                principal = profiles.get(principal) or _role_named_like(principal)
            self.instances[instance] = f"{principal_type}\t{principal}"

    def __len__(self) -> int:
        return len(self.aliases) + len(self.special) + len(self.instances) + len(self.created)

    def binding(self, field: str, key: str) -> str | None:
        """What the inventory binds an egress hop's key to (steps.workload_binding.binding_value's form)."""
        return self.aliases.get(key) if field == "instance" else self.instances.get(key)

    def unattributable(self, alias: str) -> str:
        """nat_gateway | load_balancer for an interface whose flows no identity makes; ''."""
        return self.special.get(alias, "")


def _role_named_like(profile_arn: str) -> str:
    prefix, _, path_and_name = profile_arn.partition(":instance-profile/")
    return f"{prefix}:role/{path_and_name.rsplit('/', 1)[-1]}"


def _values(path: str):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        values = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    values.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ChainwatchError([Problem(path, "", f"neither JSON nor JSON Lines: {exc.msg}", number)])
        return values


def load_assets(paths) -> AssetInventory:
    """Every file's facts, or ChainwatchError naming each file and field that is wrong."""
    facts, problems = [], []
    for path in paths:
        try:
            facts.extend(read_document(_values(path)))
        except AssetError as exc:
            problems.append(Problem(path, exc.field, exc.problem))
        except OSError as exc:
            problems.append(Problem(path, "", f"cannot read: {exc.strerror or exc}"))
        except ChainwatchError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ChainwatchError(problems)
    return AssetInventory(facts)


class RefreshingAssets:
    """The inventory, loaded again when a file's modification time changes."""

    def __init__(self, paths, refresh_ms: int):
        self.paths, self.refresh_s = tuple(paths), refresh_ms / 1000
        self.current = load_assets(self.paths) if self.paths else AssetInventory()
        self.stamps = self._stamps()
        self.checked = time.monotonic()

    def _stamps(self):
        stamps = []
        for path in self.paths:
            try:
                stamps.append(os.stat(path).st_mtime_ns)
            except OSError:
                stamps.append(None)
        return stamps

    def get(self) -> AssetInventory:
        if self.paths and time.monotonic() - self.checked >= self.refresh_s:
            self.checked = time.monotonic()
            stamps = self._stamps()
            if stamps != self.stamps:
                self.stamps = stamps
                try:
                    self.current = load_assets(self.paths)
                    log.warning("asset inventory reloaded: %d facts from %d files", len(self.current), len(self.paths))
                except ChainwatchError as exc:
                    log.warning("asset inventory not reloaded, the last one stays: %s", exc)
        return self.current
