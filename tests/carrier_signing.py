"""Sign webhook bodies the way each provider does (carriers/README.md), for tests and benchmarks.

Written apart from `functions/webhook/signatures.py` on purpose: a test that signed with the
verifier's own code would pass whatever the scheme.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime


def _hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sendcloud_headers(secret: str, body: bytes) -> dict[str, str]:
    return {"Sendcloud-Signature": _hex(secret.encode(), body)}


def easypost_headers(secret: str, body: bytes) -> dict[str, str]:
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return {"X-Hmac-Signature": "hmac-sha256-hex=" + _hex(key, body)}


def aftership_headers(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"aftership-hmac-sha256": base64.b64encode(digest).decode()}


def timestamped_value(secrets: Sequence[str], body: bytes, unix_time: int) -> str:
    signed = str(unix_time).encode() + b"." + body
    return ",".join([f"t={unix_time}", *(f"v1={_hex(s.encode(), signed)}" for s in secrets)])


def colis_headers(secret: str | Sequence[str], body: bytes, at: datetime) -> dict[str, str]:
    """Several secrets give several `v1=` values, as during a secret rotation."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    return {"Colis-Signature": timestamped_value(secrets, body, int(at.timestamp()))}


def shippo_headers(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    return {"Shippo-Auth-Signature": timestamped_value([secret], body, int(at.timestamp()))}


def shippo_query(secret: str) -> dict[str, str]:
    """Shippo's default: the secret rides in the webhook URL."""
    return {"token": secret}


SIGNERS: dict[str, Callable[[str, bytes, datetime], dict[str, str]]] = {
    "sendcloud": lambda secret, body, _at: sendcloud_headers(secret, body),
    "easypost": lambda secret, body, _at: easypost_headers(secret, body),
    "aftership": lambda secret, body, _at: aftership_headers(secret, body),
    "shippo": shippo_headers,
    "colis": colis_headers,
}


def signed_headers(carrier: str, secret: str, body: bytes, at: datetime) -> dict[str, str]:
    """Headers that make `body` a validly signed delivery of `carrier` at time `at` (Shippo:
    its HMAC header; `shippo_query` gives the token form)."""
    return SIGNERS[carrier](secret, body, at)
