"""Is an address external? Not private, not reserved, not the organisation's, not allowlisted."""
from __future__ import annotations

import ipaddress
from functools import lru_cache

INTERNAL, RESERVED, ORG, ALLOWLISTED, EXTERNAL, INVALID = (
    "internal", "reserved", "org", "allowlisted", "external", "invalid")


class NetworkClassifier:
    def __init__(self, org_cidrs=(), egress_allowlist=()):
        self.org = tuple(org_cidrs)
        self.allow = tuple(egress_allowlist)
        self.classify = lru_cache(maxsize=65536)(self._classify)

    def _classify(self, ip: str) -> str:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return INVALID
        if any(address in net for net in self.org):
            return ORG
        if any(address in net for net in self.allow):
            return ALLOWLISTED
        if address.is_private or address.is_loopback or address.is_link_local:
            return INTERNAL
        if address.is_reserved or address.is_multicast or address.is_unspecified or not address.is_global:
            return RESERVED
        return EXTERNAL

    def is_external(self, ip: str) -> bool:
        return bool(ip) and self.classify(ip) == EXTERNAL
