"""Webhook signature checks (carriers/README.md), over the raw body bytes, before any parsing,
comparing in constant time. Every check answers True or False, whatever the headers hold."""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

# Colis, and Shippo's optional HMAC, sign a unix time: older or newer than this is refused.
TIMESTAMP_TOLERANCE_SECONDS = 300

SENDCLOUD_HEADER = "Sendcloud-Signature"
EASYPOST_HEADER = "X-Hmac-Signature"
EASYPOST_PREFIX = "hmac-sha256-hex="
AFTERSHIP_HEADER = "aftership-hmac-sha256"
SHIPPO_HEADER = "Shippo-Auth-Signature"
SHIPPO_QUERY_PARAMETER = "token"
COLIS_HEADER = "Colis-Signature"


@dataclass(frozen=True)
class SignedRequest:
    secret: str
    raw_body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str]
    now: datetime

    def header(self, name: str) -> str | None:
        """Header names are case-insensitive (API Gateway passes them as the client sent them)."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
                return value
        return None


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _same(expected: str, given: str) -> bool:
    # compare_digest on str refuses non-ASCII text: compare bytes so garbage simply fails.
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def _sendcloud(request: SignedRequest) -> bool:
    given = request.header(SENDCLOUD_HEADER)
    if given is None:
        return False
    expected = _hmac_sha256(request.secret.encode("utf-8"), request.raw_body).hex()
    return _same(expected, given.strip().lower())


def _easypost(request: SignedRequest) -> bool:
    given = request.header(EASYPOST_HEADER)
    if given is None or not given.startswith(EASYPOST_PREFIX):
        return False
    # EasyPost's client libraries normalise the secret so that visually equal secrets match.
    key = unicodedata.normalize("NFKD", request.secret).encode("utf-8")
    expected = _hmac_sha256(key, request.raw_body).hex()
    return _same(expected, given[len(EASYPOST_PREFIX) :].strip().lower())


def _aftership(request: SignedRequest) -> bool:
    given = request.header(AFTERSHIP_HEADER)
    if given is None:
        return False
    digest = _hmac_sha256(request.secret.encode("utf-8"), request.raw_body)
    return _same(base64.b64encode(digest).decode("ascii"), given.strip())


@dataclass(frozen=True)
class TimestampedSignature:
    """`t=<unix>,v1=<hex>[,v1=<hex>...]`: several v1 while a secret is being rotated."""

    timestamp: str  # as sent: it is signed as text
    signatures: tuple[str, ...]

    @property
    def unix_time(self) -> int:
        return int(self.timestamp)


def parse_timestamped(header: str) -> TimestampedSignature | None:
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, separator, value = part.strip().partition("=")
        if not separator:
            continue
        if name == "t":
            timestamps.append(value.strip())
        elif name == "v1":
            signatures.append(value.strip().lower())
    if len(timestamps) != 1 or not signatures or not _is_unix_time(timestamps[0]):
        return None
    return TimestampedSignature(timestamps[0], tuple(signatures))


def _is_unix_time(value: str) -> bool:
    # Bounded length: int() refuses very long digit strings with an exception.
    return 0 < len(value) <= 12 and value.isascii() and value.isdigit()


def _within_tolerance(timestamp: int, now: datetime) -> bool:
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return abs(moment.timestamp() - timestamp) <= TIMESTAMP_TOLERANCE_SECONDS


def _timestamped(request: SignedRequest, header_name: str) -> bool:
    header = request.header(header_name)
    parsed = parse_timestamped(header) if header is not None else None
    if parsed is None or not _within_tolerance(parsed.unix_time, request.now):
        return False
    signed = f"{parsed.timestamp}.".encode("ascii") + request.raw_body
    expected = _hmac_sha256(request.secret.encode("utf-8"), signed).hex()
    # Check every candidate so the time taken does not tell which one matched.
    matches = [_same(expected, signature) for signature in parsed.signatures]
    return any(matches)


def _colis(request: SignedRequest) -> bool:
    return _timestamped(request, COLIS_HEADER)


def _shippo(request: SignedRequest) -> bool:
    """Shippo signs nothing by default: the merchant puts the secret in the URL as `?token=`.
    Its optional HMAC header is accepted too."""
    token = request.query.get(SHIPPO_QUERY_PARAMETER)
    if isinstance(token, str) and _same_secret(request.secret, token):
        return True
    return _timestamped(request, SHIPPO_HEADER)


def _same_secret(secret: str, given: str) -> bool:
    return hmac.compare_digest(secret.encode("utf-8"), given.encode("utf-8", "replace"))


VERIFIERS: dict[str, Callable[[SignedRequest], bool]] = {
    "sendcloud": _sendcloud,
    "easypost": _easypost,
    "aftership": _aftership,
    "shippo": _shippo,
    "colis": _colis,
}


def verify_signature(
    carrier: str,
    secret: str,
    raw_body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    now: datetime,
) -> bool:
    """Whether the request is signed with the connection's `secret` as `carrier` signs.

    `headers`/`query` as API Gateway passes them (None is taken as empty); `now` is the product
    clock. An unknown carrier or an empty secret never verifies.
    """
    verifier = VERIFIERS.get(carrier)
    if verifier is None or not secret:
        return False
    request = SignedRequest(secret, raw_body, headers or {}, query or {}, now)
    return verifier(request)
