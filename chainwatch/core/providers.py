"""The provider table: every cloud's names, in one place.

An event carries its cloud as `cloud` (the key here); findings name the provider as OCSF does
and call an event's `account` what that cloud calls it. A new cloud is one row here, its
parsers (chainwatch/parsers/) and its catalogs (conf/<cloud>/).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    cloud: str            # as events carry it (`cloud`), and the catalogs' folder: conf/<cloud>/
    name: str             # OCSF `cloud.provider`, and how findings and summaries write it
    account_word: str     # what an event's `account` is called in this cloud's findings


PROVIDERS = (
    Provider("aws", "AWS", "AWS account"),
    Provider("gcp", "GCP", "GCP project"),
    Provider("azure", "Azure", "Azure subscription"),
)
CLOUDS = tuple(provider.cloud for provider in PROVIDERS)
_BY_CLOUD = {provider.cloud: provider for provider in PROVIDERS}


def provider_name(cloud: str) -> str:
    """OCSF's name for the provider of `cloud`; an unknown cloud as it is."""
    provider = _BY_CLOUD.get(cloud)
    return provider.name if provider else cloud


def account_word(cloud: str) -> str:
    provider = _BY_CLOUD.get(cloud)
    return provider.account_word if provider else "account"
