"""The allowlist: narrow, owned exceptions to AN1348's cross-account entry (conf/allowlist.yaml).

Each entry names who (outside accounts, principals, identity providers), what they may do (the
roles they may assume; optionally the privileged API categories their sessions may call), from
where (networks: CIDRs and ASNs; optionally countries), and its owner, reason and expiry date.

Access inside an entry's scope is not an entry step. The same principal outside it (another
network, another role, a category it may not call, after expiry) still is, and the step says
which entry it fell outside of and why (steps.identity_steps). No PyFlink.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from fnmatch import fnmatchcase
from pathlib import Path

from chainwatch.core.errors import ChainwatchError, Problem
from chainwatch.core.schema import Section
from chainwatch.core.yamlfile import load_yaml
from chainwatch.steps.sessions import FEDERATED_METHODS


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Entry:
    id: str
    accounts: tuple[str, ...]        # the caller's home: AWS account, GCP project or domain, Azure tenant
    principals: tuple[str, ...]      # exact caller keys
    providers: tuple[str, ...]       # identity providers a federated caller comes through
    may_assume: tuple[str, ...]      # role keys, `*` wildcards
    categories: tuple[str, ...]      # privileged API categories its sessions may call; () for any
    networks: tuple                  # ip_network
    asns: frozenset
    countries: frozenset             # ISO codes; empty for any
    owner: str
    reason: str
    expires: str                     # as written: a date (the entry holds through that day, UTC) or a time
    expires_ms: int                  # the first moment it no longer holds

    def covers(self, assume: dict) -> bool:
        """Is this entry about the outside caller of an assumption?"""
        home = assume["caller_account"]
        if assume["caller"] in self.principals:
            return True
        if assume["method"] in FEDERATED_METHODS:
            return home in self.providers
        return home in self.accounts

    def origin_outside(self, src_ip: str, geo: dict | None) -> list[str]:
        """Why an origin (source address and its GeoIP record) is outside the entry's networks."""
        try:
            address = ipaddress.ip_address(src_ip)
        except ValueError:
            return ["the origin is not an IP address"]
        geo = geo or {}
        why = []
        in_network = any(address.version == net.version and address in net for net in self.networks)
        if not in_network and geo.get("asn") not in self.asns:
            asn = f"AS{geo['asn']}" if geo.get("asn") else "no known ASN"
            why.append(f"{src_ip} ({asn}) is not in its networks")
        if self.countries and geo.get("country") not in self.countries:
            why.append(f"country {geo.get('country') or 'unknown'} is not among its countries")
        return why

    def entry_outside(self, role: str, src_ip: str, geo: dict | None, ts: int) -> list[str]:
        """Why an assumption of `role` is outside the entry ([] when inside)."""
        why = [] if any(fnmatchcase(role, pattern) for pattern in self.may_assume) else \
            [f"{role} is not among the roles it may assume"]
        return self._expired(ts) + why + self.origin_outside(src_ip, geo)

    def call_outside(self, category: str | None, src_ip: str, geo: dict | None, ts: int) -> list[str]:
        """Why a call of a session it let in is outside the entry ([] when inside). A call whose
        source is not an IP address (a cloud service acting for the session) is not judged by
        network."""
        why = self._expired(ts)
        if category and self.categories and category not in self.categories:
            why.append(f"a {category} call, a category it may not call")
        if _is_address(src_ip):
            why += self.origin_outside(src_ip, geo)
        return why

    def _expired(self, ts: int) -> list[str]:
        return [f"expired {self.expires}"] if ts >= self.expires_ms else []

    def describe(self) -> dict:
        return {"id": self.id, "owner": self.owner, "reason": self.reason, "expires": self.expires}


@dataclass(frozen=True)
class Allowlist:
    path: str | None = None
    entries: tuple[Entry, ...] = ()

    def covering(self, assume: dict) -> list[Entry]:
        return [entry for entry in self.entries if entry.covers(assume)]

    def judge_entry(self, assume: dict, role: str, src_ip: str, geo: dict | None, ts: int):
        """(the entry that lets this assumption in, or None; [{entry, why}] of each covering entry
        it is outside of)."""
        outside = []
        for entry in self.covering(assume):
            why = entry.entry_outside(role, src_ip, geo, ts)
            if not why:
                return entry, []
            outside.append(dict(entry.describe(), outside=why))
        return None, outside

    def by_id(self, entry_id: str) -> Entry | None:
        return next((entry for entry in self.entries if entry.id == entry_id), None)

    def expected_origin(self, assume: dict, src_ip: str, geo: dict | None) -> bool:
        """Is this origin inside the networks of an entry covering the assumption's caller?"""
        return any(not entry.origin_outside(src_ip, geo) for entry in self.covering(assume))


def outside_reason(outside: list[dict]) -> str:
    """The sentence a step adds to its reason for the entries it fell outside of."""
    return "; ".join(f"outside allowlist entry {o['id']} (owner {o['owner']}): {', '.join(o['outside'])}"
                     for o in outside)


def _expiry(section: Section) -> tuple[str, int]:
    """(as written, the first ms the entry no longer holds): a date holds through that day (UTC)."""
    value = section.raw("expires")
    written = value if isinstance(value, str) else (value.isoformat() if isinstance(value, date) else "")
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else \
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            value = None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return written, int(moment.timestamp() * 1000)
    if isinstance(value, date):
        start = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        return written, int((start + timedelta(days=1)).timestamp() * 1000)
    if "expires" in section.data:
        section._problem("expires", "expected a date (2027-06-30) or an ISO-8601 time with its zone")
    return written, 0


def _asns(section: Section) -> frozenset:
    asns = set()
    for text in section.str_list("asns"):
        digits = text[2:] if text.upper().startswith("AS") else text
        if digits.isdigit():
            asns.add(int(digits))
        else:
            section._problem("asns", "expected ASNs written AS<number>")
    return frozenset(asns)


def _entry(item: Section, seen: set) -> Entry | None:
    entry_id = item.str("id")
    if entry_id in seen:
        item._problem("id", "another entry has this id")
    seen.add(entry_id)
    who, scope = item.section("who", required=True), item.section("from", required=True)
    accounts, principals, providers = who.str_list("accounts"), who.str_list("principals"), who.str_list("providers")
    who.reject_unknown()
    if "who" in item.data and not (accounts or principals or providers):
        item._problem("who", "name at least one of accounts, principals, providers")
    may_assume = item.str_list("may_assume")
    if not may_assume:
        item._problem("may_assume", "name at least one role (`*` for any, if that is really meant)")
    networks, asns = scope.cidr_list("cidrs"), _asns(scope)
    countries = frozenset(code.upper() for code in scope.str_list("countries"))
    scope.reject_unknown()
    if "from" in item.data and not (networks or asns):
        item._problem("from", "name at least one network: cidrs or asns (countries narrow them further)")
    categories = item.str_list("categories")
    owner, reason = item.str("owner"), item.str("reason")
    expires, expires_ms = _expiry(item)
    item.reject_unknown()
    return Entry(entry_id or "", accounts, principals, providers, may_assume, categories, networks, asns,
                 countries, owner or "", reason or "", expires, expires_ms)


def load_allowlist(path: str | None) -> Allowlist:
    """Load and check an allowlist file; raises ChainwatchError naming the file, entry and key."""
    if path is None:
        return Allowlist()
    problems: list[Problem] = []
    root = Section(load_yaml(path), str(path), "", problems)
    seen: set = set()
    entries = [_entry(item, seen) for item in root.sections("entries", required=True)]
    root.reject_unknown()
    if problems:
        raise ChainwatchError(problems)
    return Allowlist(str(path), tuple(entries))


def expired_entries(allowlist: Allowlist, now_ms: int) -> list[Problem]:
    """Warnings for entries past their expiry date: they no longer let anything in."""
    return [Problem(allowlist.path or "", f"entries[{i}]", f"{entry.id} expired {entry.expires}: it no longer lets "
                    "anything in; renew it (with its owner) or remove it")
            for i, entry in enumerate(allowlist.entries) if now_ms >= entry.expires_ms]


# --- which entries let anything in: the last replay's count, for `validate` ---------------------

def usage_path(allowlist: Allowlist) -> Path:
    """Where `chainwatch replay` leaves how many sessions each entry of this allowlist let in:
    $XDG_STATE_HOME/chainwatch (default ~/.local/state/chainwatch), a file per allowlist path."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "chainwatch"
    digest = hashlib.sha1(str(Path(allowlist.path or "").resolve()).encode()).hexdigest()[:12]
    return base / f"allowlist-usage-{digest}.json"


def record_usage(allowlist: Allowlist, uses: dict, when: str) -> Path | None:
    """Keep a replay's count per entry (None when there is no allowlist or nowhere to write)."""
    if not allowlist.path:
        return None
    path = usage_path(allowlist)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"allowlist": allowlist.path, "replayed_at": when,
                                    "sessions": {entry.id: uses.get(entry.id, 0) for entry in allowlist.entries}}))
    except OSError:
        return None
    return path


def unused_entries(allowlist: Allowlist) -> list[Problem]:
    """Warnings for entries that let no session in during the last replay (of those it knew)."""
    try:
        usage = json.loads(usage_path(allowlist).read_text())
        sessions = usage["sessions"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [Problem(allowlist.path or "", f"entries[{i}]", f"{entry.id} let no session in during the last replay "
                    f"({usage.get('replayed_at', '?')}): is it still needed, and as wide as it is?")
            for i, entry in enumerate(allowlist.entries) if sessions.get(entry.id) == 0]
