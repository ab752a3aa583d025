"""Webhook signature checks (carriers/README.md): the pieces each carrier's `verify` is made of.
Every check runs over the raw body bytes, before any parsing, compares in constant time, and
answers True or False whatever the headers hold."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.errors import NotAuthenticated

# Colis, and Shippo's optional HMAC, sign a unix time: older or newer than this is refused.
TIMESTAMP_TOLERANCE_SECONDS = 300


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


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def same(expected: str, given: str) -> bool:
    # compare_digest on str refuses non-ASCII text: compare bytes so garbage simply fails.
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def same_secret(secret: str, given: str) -> bool:
    return hmac.compare_digest(secret.encode("utf-8"), given.encode("utf-8", "replace"))


def hex_body_signature(request: SignedRequest, header_name: str) -> bool:
    """`header_name` holds the hex HMAC-SHA256 of the body under the secret."""
    given = request.header(header_name)
    if given is None:
        return False
    expected = hmac_sha256(request.secret.encode("utf-8"), request.raw_body).hex()
    return same(expected, given.strip().lower())


def base64_body_signature(request: SignedRequest, header_name: str) -> bool:
    """`header_name` holds the base64 HMAC-SHA256 of the body under the secret."""
    given = request.header(header_name)
    if given is None:
        return False
    digest = hmac_sha256(request.secret.encode("utf-8"), request.raw_body)
    return same(base64.b64encode(digest).decode("ascii"), given.strip())


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


class TimestampOutsideWindow(NotAuthenticated):
    """A signature that matches, over a time too far from ours: the sender's clock (or the local
    stack's moved clock) is off, which "does not match" would hide."""

    def __init__(self, offset_seconds: float) -> None:
        direction = "behind" if offset_seconds < 0 else "ahead of"
        super().__init__(f"The signature's timestamp is outside the {TIMESTAMP_TOLERANCE_SECONDS} s window "
                         f"({abs(round(offset_seconds))} s {direction} the server's clock); sign with the current time.")


def _offset_seconds(timestamp: int, now: datetime) -> float:
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return timestamp - moment.timestamp()


def timestamped(request: SignedRequest, header_name: str) -> bool:
    """`header_name` holds `t=<unix>,v1=<hex>...`: HMAC-SHA256 of `<t>.<body>`, within the tolerance.
    Raises TimestampOutsideWindow when a signature matches but its time is outside the tolerance:
    the time is checked after the signature so only the secret's holder learns about the clocks."""
    header = request.header(header_name)
    parsed = parse_timestamped(header) if header is not None else None
    if parsed is None:
        return False
    signed = f"{parsed.timestamp}.".encode("ascii") + request.raw_body
    expected = hmac_sha256(request.secret.encode("utf-8"), signed).hex()
    # Check every candidate so the time taken does not tell which one matched.
    matches = [same(expected, signature) for signature in parsed.signatures]
    if not any(matches):
        return False
    offset = _offset_seconds(parsed.unix_time, request.now)
    if abs(offset) > TIMESTAMP_TOLERANCE_SECONDS:
        raise TimestampOutsideWindow(offset)
    return True
