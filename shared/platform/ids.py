"""Prefixed, sortable, unguessable ids (`shp_`, `ord_`, ...)."""

from __future__ import annotations

import hashlib
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _base32(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 32)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Millisecond time first (ids sort by creation), then 80 random bits."""
    return f"{prefix}_{_base32(int(time.time() * 1000), 9)}{_base32(secrets.randbits(80), 16)}"


def derived_id(prefix: str, *parts: str) -> str:
    """A stable id computed from its inputs (e.g. a refund id from its idempotency key)."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return f"{prefix}_{_base32(int.from_bytes(digest[:16], 'big'), 25)}"
