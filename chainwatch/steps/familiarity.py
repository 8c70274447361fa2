"""Unfamiliar origin: is this network or country new for the role, or for the outside principal?

Networks are ASNs when the GeoIP ASN database is available, else /24 (IPv4) or /48 (IPv6)
prefixes. Familiar = seen for the role or for this outside principal before, or listed under
`expected_networks` for the role, the principal or its account. During the learning period
origins are learned but never called unfamiliar: a fresh job knows no baseline yet.
"""
from __future__ import annotations

import ipaddress

from chainwatch.core.wording import place, plural

_MAX_REMEMBERED = 500


def network_of(geo: dict) -> str:
    if geo.get("asn"):
        return f"AS{geo['asn']}"
    try:
        address = ipaddress.ip_address(geo["ip"])
    except ValueError:
        return f"ip:{geo['ip']}"
    prefix = 24 if address.version == 4 else 48
    return f"net:{ipaddress.ip_network(f'{address}/{prefix}', strict=False)}"


def _expected(geo: dict, owners, expected_networks: dict) -> bool:
    try:
        address = ipaddress.ip_address(geo["ip"])
    except ValueError:
        return False
    asn = f"AS{geo['asn']}" if geo.get("asn") else None
    for owner in owners:
        for entry in expected_networks.get(owner, ()):
            if isinstance(entry, str):
                if entry == asn:
                    return True
            elif address.version == entry.version and address in entry:
                return True
    return False


def assess(state: dict, geo: dict, role: str, caller: str, caller_account: str, learning: bool,
           expected_networks: dict, allowlisted: bool = False) -> dict:
    """Judge one external origin for this role (and outside caller), then remember it.
    allowlisted: the origin is inside the networks of an allowlist entry for the caller."""
    fam = state.setdefault("familiar", {"role": {}, "callers": {}})
    network = network_of(geo)
    country = geo.get("country") or ""
    role_seen = fam["role"]
    caller_seen = fam["callers"].setdefault(caller, {}) if caller else {}
    seen_network = network in role_seen or network in caller_seen
    seen_country = not country or f"cc:{country}" in role_seen or f"cc:{country}" in caller_seen
    expected = allowlisted or _expected(geo, (role, caller, caller_account), expected_networks)
    unfamiliar = not learning and not expected and not (seen_network and seen_country)
    verdict = {"ip": geo["ip"], "network": network, "asn": geo.get("asn", 0), "as_org": geo.get("as_org", ""),
               "country": country, "city": geo.get("city", ""), "unfamiliar": unfamiliar,
               "new_network": not seen_network, "new_country": not seen_country, "expected": expected,
               "known_networks": len([k for k in role_seen if not k.startswith("cc:")])}
    for seen in (role_seen, caller_seen) if caller else (role_seen,):
        if len(seen) < _MAX_REMEMBERED:
            seen.setdefault(network, 1)
            if country:
                seen.setdefault(f"cc:{country}", 1)
    return verdict


def clause(ev: dict) -> str:
    """The narrative's words for this step, from its evidence."""
    origins = ev.get("origins", [])
    if not origins:
        return "was reached from an unfamiliar network"
    first = origins[0]
    new = " and ".join(w for w, flag in (("network", first.get("new_network")), ("country", first.get("new_country")))
                       if flag) or "origin"
    return f"was reached from {place(first)}, a {new} new to it" + \
        (f" (and {plural(len(origins) - 1, 'more access')} like it)" if len(origins) > 1 else "")
