"""Sample data: synthetic AWS telemetry with planted attack chains, and GeoIP databases for it."""
from chainwatch.sample.geodb import SAMPLE_NETWORKS, build_geoip
from chainwatch.sample.generator import generate

__all__ = ["SAMPLE_NETWORKS", "build_geoip", "generate"]
