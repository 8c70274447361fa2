"""Seeded identifiers and timestamps shaped like the AWS ones.

Everything random comes from the `random.Random` handed in, so a seed fully
determines every id the sample data contains.
"""
from __future__ import annotations

import base64
import random
import uuid
from datetime import datetime, timezone

_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # access key ids are base32
_UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def parse_iso(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def iso(ts: int) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def iam_date(ts: int) -> str:
    # IAM writes dates in responseElements in this Java-style locale format.
    d = utc(ts)
    hour = d.hour % 12 or 12
    return f"{d:%b} {d.day}, {d.year}, {hour}:{d:%M:%S} {'AM' if d.hour < 12 else 'PM'}"


class Ids:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def _pick(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def access_key(self, prefix: str) -> str:
        """AKIA for long-term user keys, ASIA for STS session keys."""
        return prefix + self._pick(_KEY_CHARS, 16)

    def unique_id(self, prefix: str) -> str:
        """IAM unique ids: AIDA users, AROA roles, AIPA instance profiles."""
        return prefix + self._pick(_UPPER_ALNUM, 17)

    def s3_request_id(self) -> str:
        return self.hex(16).upper()

    def alnum(self, n: int) -> str:
        return self._pick(_ALNUM, n)

    def session_token(self) -> str:
        # Not a real token: only its shape (long base64 blob) matters.
        return "IQoJb3JpZ2luX2VjE" + self._pick(_ALNUM + "/+", 300) + "=="


class FastIds(Ids):
    """Ids drawn with one `choices` call per id: several times faster than `Ids` at a million
    records. The draws differ, so the core org (whose bytes the packaged sample pins) keeps `Ids`."""

    def _pick(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def session_token(self) -> str:
        # 225 random bytes are 300 base64 characters, like the blob `Ids.session_token` draws.
        return "IQoJb3JpZ2luX2VjE" + base64.b64encode(self.rng.getrandbits(1800).to_bytes(225, "big")).decode() + "=="
