"""Carrier webhooks: one module per carrier of the registry (`shared.shipments.carriers`), found by
its name, each with `parse` (payload → canonical updates), `verify` (its signature scheme),
`status` (its codes → canonical statuses) and `recognise` (a `carrier_code` it stored)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from importlib import import_module
from typing import Any, Protocol, cast

from functions.webhook.carriers.model import EventFailure, InvalidPayload, ParsedDelivery
from functions.webhook.carriers.status_mapping import or_unknown
from functions.webhook.signatures import SignedRequest
from shared.http.bodies import TooDeep, load_json
from shared.shipments.carriers import CARRIERS
from shared.shipments.statuses import TrackingStatus

__all__ = [
    "MODULES",
    "EventFailure",
    "InvalidPayload",
    "ParsedDelivery",
    "carrier_module",
    "decode_body",
    "map_status",
    "parse_delivery",
    "verify_signature",
]


class CarrierModule(Protocol):
    def parse(self, body: dict[str, Any]) -> ParsedDelivery: ...

    def verify(self, request: SignedRequest) -> bool: ...

    def status(self, code: str | None, detail: str | None = None,
               message: str | None = None) -> TrackingStatus | None: ...

    def recognise(self, code: str) -> TrackingStatus | None: ...


# Imported at load (cold start), as static imports would be: a delivery never waits for one.
MODULES: dict[str, CarrierModule] = {name: cast(CarrierModule, import_module(f"{__name__}.{name}"))
                                     for name in CARRIERS}


def carrier_module(carrier: str) -> CarrierModule:
    """The module of a registered carrier; ValueError for any other name."""
    module = MODULES.get(carrier)
    if module is None:
        raise ValueError(f"no carrier {carrier!r}")
    return module


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
    """Read a decoded webhook body of a registered `carrier` (else ValueError)."""
    module = carrier_module(carrier)
    if not isinstance(payload, dict):
        raise InvalidPayload("the body must be a JSON object")
    parsed = module.parse(payload)
    # Each update names the vocabulary its code belongs to (the public page describes codes by it).
    return parsed.model_copy(update={"updates": [u.model_copy(update={"source": carrier}) for u in parsed.updates]})


def verify_signature(carrier: str, secret: str, raw_body: bytes, headers: Mapping[str, str],
                     query: Mapping[str, str], now: datetime) -> bool:
    """Whether the request is signed with the connection's `secret` as `carrier` signs.

    `headers`/`query` as API Gateway passes them (None is taken as empty); `now` is the product
    clock. An unknown carrier or an empty secret never verifies.
    """
    module = MODULES.get(carrier)
    if module is None or not secret:
        return False
    return module.verify(SignedRequest(secret, raw_body, headers or {}, query or {}, now))


def map_status(carrier: str, code: str | None, detail: str | None = None, message: str | None = None) -> TrackingStatus:
    """Canonical status of a carrier's code (AfterShip tag, EasyPost status, Shippo status,
    Sendcloud id, colis status), refined by `detail` (subtag, status_detail, substatus code) or
    `message` (Sendcloud) per the carrier's rule. Codes not listed give `unknown`."""
    return or_unknown(carrier_module(carrier).status(code, detail, message))
