"""Sample data: synthetic AWS telemetry with planted attack chains, and GeoIP databases for it.

`generate` writes the small core org of org.py by default; `scale=Scale(accounts, principals,
instances)` grows it to enterprise cardinality around the same core and attacks (enterprise_org.py).
"""
from chainwatch.sample.enterprise_org import Scale
from chainwatch.sample.generator import generate
from chainwatch.sample.geodb import SAMPLE_NETWORKS, build_geoip

__all__ = ["SAMPLE_NETWORKS", "Scale", "build_geoip", "generate"]
