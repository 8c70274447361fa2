"""GeoIP2 City and ASN lookups; the job runs without the databases and says so once."""
from __future__ import annotations

import logging
import os
from functools import lru_cache

log = logging.getLogger("chainwatch.geoip")


class GeoIP:
    def __init__(self, city_db: str | None, asn_db: str | None):
        self.city = self._open(city_db, "city_db")
        self.asn = self._open(asn_db, "asn_db")
        self.lookup = lru_cache(maxsize=65536)(self._lookup)

    @staticmethod
    def _open(path, key):
        if not path:
            log.warning("enrichment.geoip.%s is not set: findings carry no %s; unfamiliar-origin checks "
                        "fall back to /24 networks", key, "geolocation" if key == "city_db" else "ASN")
            return None
        if not os.path.exists(path):
            log.warning("enrichment.geoip.%s: %s does not exist; running without it", key, path)
            return None
        import geoip2.database
        return geoip2.database.Reader(path)

    @property
    def available(self) -> bool:
        return self.city is not None or self.asn is not None

    def _lookup(self, ip: str) -> dict:
        """{'ip', 'asn', 'as_org', 'country', 'city'}; fields stay empty when unknown."""
        result = {"ip": ip, "asn": 0, "as_org": "", "country": "", "city": ""}
        if not ip:
            return result
        import geoip2.errors
        try:
            if self.asn is not None:
                asn = self.asn.asn(ip)
                result["asn"] = int(asn.autonomous_system_number or 0)
                result["as_org"] = asn.autonomous_system_organization or ""
        except (geoip2.errors.AddressNotFoundError, ValueError):
            pass
        try:
            if self.city is not None:
                city = self.city.city(ip)
                result["country"] = city.country.iso_code or ""
                result["city"] = city.city.name or ""
        except (geoip2.errors.AddressNotFoundError, ValueError):
            pass
        return result
