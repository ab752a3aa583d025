"""Realistic webhook bodies in each carrier's own shape, for benchmarks and load tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# One carrier code per canonical status each format can express.
SENDCLOUD_IDS = {"pre_transit": 1000, "in_transit": 3, "out_for_delivery": 92, "delivered": 11, "delayed": 4}
EASYPOST = {"pre_transit": ("pre_transit", "label_created"), "in_transit": ("in_transit", "arrived_at_facility"),
            "out_for_delivery": ("out_for_delivery", "out_for_delivery"), "delivered": ("delivered", "arrived_at_destination"),
            "delayed": ("in_transit", "weather_delay")}
AFTERSHIP = {"pre_transit": ("InfoReceived", "InfoReceived_001"), "in_transit": ("InTransit", "InTransit_002"),
             "out_for_delivery": ("OutForDelivery", "OutForDelivery_001"), "delivered": ("Delivered", "Delivered_001"),
             "delayed": ("Exception", "Exception_005")}
SHIPPO = {"pre_transit": ("PRE_TRANSIT", "information_received"), "in_transit": ("TRANSIT", "package_departed"),
          "out_for_delivery": ("TRANSIT", "out_for_delivery"), "delivered": ("DELIVERED", "delivered"),
          "delayed": ("TRANSIT", "delayed")}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sendcloud(number: str, status: str, at: datetime) -> dict[str, Any]:
    ms = int(at.timestamp() * 1000)
    return {"action": "parcel_status_changed", "timestamp": ms, "carrier_status_change_timestamp": ms,
            "parcel": {"id": 1, "name": "Mr Bob", "address": "Stadhuisplein 10", "city": "Eindhoven",
                       "postal_code": "5611 EM", "telephone": "612345678", "email": "contact@sendcloud.com",
                       "tracking_number": number, "status": {"id": SENDCLOUD_IDS[status], "message": ""},
                       "country": {"iso_2": "NL", "iso_3": "NLD", "name": "Netherlands"}}}


def easypost(number: str, status: str, at: datetime) -> dict[str, Any]:
    code, detail = EASYPOST[status]
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "Event", "description": "tracker.updated",
            "mode": "production", "created_at": _iso(at), "updated_at": _iso(at),
            "result": {"id": "trk_1", "object": "Tracker", "tracking_code": number, "status": code,
                       "status_detail": detail, "carrier": "FedEx",
                       "tracking_details": [{"object": "TrackingDetail", "message": "Scan", "status": code,
                                             "status_detail": detail, "datetime": _iso(at),
                                             "tracking_location": {"city": "ORLANDO", "state": "FL", "country": "US"}}]}}


def aftership(number: str, status: str, at: datetime) -> dict[str, Any]:
    tag, subtag = AFTERSHIP[status]
    return {"event": "tracking_update", "event_id": str(uuid.uuid4()), "is_tracking_first_tag": False,
            "msg": {"id": uuid.uuid4().hex, "tracking_number": number, "slug": "usps", "tag": tag, "subtag": subtag,
                    "checkpoints": [{"checkpoint_time": _iso(at), "message": "Scan", "tag": tag, "subtag": subtag,
                                     "city": "Austin", "country_iso3": "USA"}]},
            "ts": int(at.timestamp())}


def shippo(number: str, status: str, at: datetime) -> dict[str, Any]:
    code, sub = SHIPPO[status]
    return {"event": "track_updated", "test": False,
            "data": {"carrier": "usps", "tracking_number": number,
                     "tracking_status": {"status": code, "substatus": {"code": sub, "text": "", "action_required": False},
                                         "status_details": "Scan", "status_date": _iso(at),
                                         "location": {"city": "Las Vegas", "state": "NV", "country": "US"}},
                     "tracking_history": []}}


def colis(number: str, status: str, at: datetime) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "carrier": "colissimo", "tracking_number": number, "status": status,
            "occurred_at": _iso(at), "location": "Lyon, FR"}


BUILDERS: dict[str, Callable[[str, str, datetime], dict[str, Any]]] = {
    "sendcloud": sendcloud, "easypost": easypost, "aftership": aftership, "shippo": shippo, "colis": colis}


def body(carrier: str, number: str, status: str, at: datetime) -> bytes:
    return json.dumps(BUILDERS[carrier](number, status, at)).encode("utf-8")
