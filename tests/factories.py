"""Small builders of realistic request bodies."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from typing import Any

_numbers = itertools.count(1)


def tracking_number() -> str:
    return f"3SYZXG{next(_numbers):09d}"


def address(**overrides: Any) -> dict[str, Any]:
    return {"first_name": "Camille", "last_name": "Dupont", "address_1": "12 rue des Lilas", "city": "Lyon",
            "postal_code": "69003", "country": "FR", "phone": "+33698765432", "email": "camille@example.fr",
            "language": "fr", **overrides}


def shipment_body(parcels: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "recipient": address(),
        "return_address": {"name": "Atelier Lune", "address_1": "5 quai Voltaire", "city": "Paris",
                           "postal_code": "75007", "country": "FR"},
        "package": {"type": "parcel", "size_unit": "cm", "length": "30", "width": "20", "height": "10",
                    "weight_unit": "kg", "weight": "1.2", "contents": "merchandise", "value": "49.90",
                    "currency": "EUR"},
        "postage_type": "standard", "carrier": "colissimo", "signature_confirmation": False,
        "parcels": [{"tracking_number": tracking_number()} for _ in range(parcels)],
        "fees": {"shipping": "6.90"},
        **overrides,
    }


def colis_event(number: str, status: str, at: datetime | str, event_id: str | None = None, **extra: Any) -> dict[str, Any]:
    occurred = at if isinstance(at, str) else at.isoformat()
    return {"event_id": event_id or f"evt-{number}-{status}-{occurred}", "carrier": "colissimo",
            "tracking_number": number, "status": status, "occurred_at": occurred, **extra}


def body_bytes(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")
