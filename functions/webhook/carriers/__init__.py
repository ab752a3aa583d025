"""Carrier webhook payloads read into canonical updates: one parser per carrier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.webhook.carriers import aftership, colis, easypost, sendcloud, shippo
from functions.webhook.carriers.model import EventFailure, InvalidPayload, ParsedDelivery
from shared.http.bodies import TooDeep, load_json

__all__ = [
    "PARSERS",
    "EventFailure",
    "InvalidPayload",
    "ParsedDelivery",
    "decode_body",
    "parse_delivery",
]

PARSERS: dict[str, Callable[[dict[str, Any]], ParsedDelivery]] = {
    "sendcloud": sendcloud.parse,
    "easypost": easypost.parse,
    "aftership": aftership.parse,
    "shippo": shippo.parse,
    "colis": colis.parse,
}


def decode_body(raw_body: bytes) -> dict[str, Any]:
    """The JSON object of a (signature-checked) body; anything else is `InvalidPayload`."""
    try:
        body = load_json(raw_body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidPayload("the body is not valid JSON") from None
    except TooDeep as too_deep:
        raise InvalidPayload(too_deep.detail) from None
    if not isinstance(body, dict):
        raise InvalidPayload("the body must be a JSON object")
    return body


def parse_delivery(carrier: str, payload: Any) -> ParsedDelivery:
    """Read a decoded webhook body of `carrier` (one of PARSERS; else ValueError)."""
    parser = PARSERS.get(carrier)
    if parser is None:
        raise ValueError(f"no parser for carrier {carrier!r}")
    if not isinstance(payload, dict):
        raise InvalidPayload("the body must be a JSON object")
    parsed = parser(payload)
    # Each update names the vocabulary its code belongs to (the public page describes codes by it).
    return parsed.model_copy(update={"updates": [u.model_copy(update={"source": carrier}) for u in parsed.updates]})
