"""Small but real MaxMind databases covering the sample networks.

The files are genuine MMDB: `geoip2.database.Reader` (and MaxMind's Java
reader) open them as GeoIP2-City and GeoLite2-ASN. Integers are written with
the widths MaxMind uses (uint32 ids, uint16 radius) so strict typed readers
accept them.
"""
from __future__ import annotations

from pathlib import Path


SAMPLE_NETWORKS: list[dict] = [
    {"cidr": "198.51.100.0/24", "asn": 64500, "as_org": "Example Corp Egress", "country": "US",
     "country_name": "United States", "city": "New York", "lat": 40.7128, "lon": -74.006},
    {"cidr": "52.94.0.0/16", "asn": 16509, "as_org": "AMAZON-02", "country": "US",
     "country_name": "United States", "city": "Ashburn", "lat": 39.0438, "lon": -77.4874},
    {"cidr": "34.234.0.0/16", "asn": 14618, "as_org": "AMAZON-AES", "country": "US",
     "country_name": "United States", "city": "Ashburn", "lat": 39.0438, "lon": -77.4874},
    {"cidr": "185.199.108.0/22", "asn": 54113, "as_org": "FASTLY", "country": "US",
     "country_name": "United States", "city": "San Francisco", "lat": 37.7749, "lon": -122.4194},
    {"cidr": "45.155.205.0/24", "asn": 208091, "as_org": "XHOST-NET", "country": "RU",
     "country_name": "Russia", "city": "Moscow", "lat": 55.7558, "lon": 37.6173},
    {"cidr": "91.219.236.0/24", "asn": 48693, "as_org": "RAINBOW-NET", "country": "UA",
     "country_name": "Ukraine", "city": "Kyiv", "lat": 50.4501, "lon": 30.5234},
    {"cidr": "81.2.69.0/24", "asn": 20712, "as_org": "ANDREWS-ARNOLD", "country": "GB",
     "country_name": "United Kingdom", "city": "London", "lat": 51.5074, "lon": -0.1278},
]

CITY_FILE = "chainwatch-City.mmdb"
ASN_FILE = "chainwatch-ASN.mmdb"

_CONTINENTS = {"US": ("NA", "North America", 6255149), "RU": ("EU", "Europe", 6255148),
               "UA": ("EU", "Europe", 6255148), "GB": ("EU", "Europe", 6255148)}
# A fixed build time keeps the files reproducible (mmdb_writer would use the clock).
_BUILD_EPOCH = 1767225600  # 2026-01-01T00:00:00Z


def _geoname_id(text: str) -> int:
    # Stable made-up ids; real records carry GeoNames ids and readers expect one.
    return sum(ord(c) * 31 ** i for i, c in enumerate(text)) % 9_000_000 + 1_000_000


def _city_record(net: dict, mw) -> dict:
    """`mw` is the mmdb_writer module; its wrappers fix each value's MMDB type."""
    code, continent, continent_id = _CONTINENTS.get(net["country"], ("", "", 0))
    country = {"geoname_id": mw.MmdbU32(_geoname_id(net["country"])), "iso_code": net["country"],
               "names": {"en": net["country_name"]}}
    record = {
        "city": {"geoname_id": mw.MmdbU32(_geoname_id(net["city"])), "names": {"en": net["city"]}},
        "country": country,
        "registered_country": country,
        "location": {"accuracy_radius": mw.MmdbU16(100), "latitude": mw.MmdbF64(float(net["lat"])),
                     "longitude": mw.MmdbF64(float(net["lon"]))},
    }
    if code:
        record["continent"] = {"code": code, "geoname_id": mw.MmdbU32(continent_id), "names": {"en": continent}}
    return record


def build_geoip(out_dir: str | Path, networks: list[dict] | None = None) -> tuple[Path, Path]:
    """Write chainwatch-City.mmdb and chainwatch-ASN.mmdb into `out_dir`; return (city, asn)."""
    # mmdb-writer is a dev dependency: only building sample databases needs it.
    import mmdb_writer as mw
    from netaddr import IPSet

    class _Writer(mw.MMDBWriter):
        def _build_meta(self):
            return {**super()._build_meta(), "build_epoch": _BUILD_EPOCH}

    networks = SAMPLE_NETWORKS if networks is None else networks
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # IPv6 trees with IPv4 under ::/96, like MaxMind's own files: IPv4 lookups work and an
    # IPv6 address is merely "not found" instead of an error.
    city = _Writer(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City", languages=["en"],
                   description={"en": "chainwatch sample GeoIP2 City database"})
    asn = _Writer(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN", languages=["en"],
                  description={"en": "chainwatch sample GeoLite2 ASN database"})
    for net in networks:
        cidr = IPSet([net["cidr"]])
        city.insert_network(cidr, _city_record(net, mw))
        asn.insert_network(cidr, {"autonomous_system_number": mw.MmdbU32(net["asn"]),
                                  "autonomous_system_organization": net["as_org"]})
    city_path, asn_path = out / CITY_FILE, out / ASN_FILE
    city.to_db_file(str(city_path))
    asn.to_db_file(str(asn_path))
    return city_path, asn_path
