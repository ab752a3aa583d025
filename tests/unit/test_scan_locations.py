"""Locations only where the carrier says the scan happened (DESIGN.md §1.2, issue 17): each
format's published example, with its recipient, destination and origin addresses planted with
distinctive places, read into an update whose location is the scan's own place or none, never one
of those addresses. Table-driven over every carrier format."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from functions.tracking.service import scan_place
from functions.webhook.carriers import parse_delivery
from shared.shipments.carriers import CARRIERS
from shared.shipments.model import Place, TrackingEvent
from shared.shipments.statuses import CanonicalUpdate, TrackingStatus
from tests.factories import colis_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
# Places of an address, never of a scan: none may reach an update.
HOME_CITY, HOME_REGION, HOME_COUNTRY, HOME_POSTAL = "Qzhomeville", "Qzhomestate", "QZ", "QZ-99999"
ADDRESS = {"city": HOME_CITY, "state": HOME_REGION, "country": HOME_COUNTRY, "zip": HOME_POSTAL}
PLANTED = (HOME_CITY, HOME_REGION, HOME_COUNTRY, HOME_POSTAL)


def example(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def sendcloud() -> dict[str, Any]:
    body = example("sendcloud_parcel_status_changed.json")
    parcel = body["parcel"]
    parcel.update(city=HOME_CITY, postal_code=HOME_POSTAL, address=f"1 {HOME_CITY} street")
    parcel["country"] = {"iso_2": HOME_COUNTRY, "iso_3": "QZZ", "name": HOME_REGION}
    return body


def easypost(scan_city: str | None) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        body = example("easypost_tracker.updated.json")
        detail = body["result"]["carrier_detail"]
        detail["destination_location"] = f"{HOME_CITY} {HOME_REGION} {HOME_COUNTRY}"
        detail["destination_tracking_location"] = {"object": "TrackingLocation", **ADDRESS}
        detail["origin_location"] = f"{HOME_CITY} {HOME_REGION}"
        detail["origin_tracking_location"] = {"object": "TrackingLocation", **ADDRESS}
        newest = max(body["result"]["tracking_details"], key=lambda item: item["datetime"])
        newest["tracking_location"] = {"object": "TrackingLocation", "city": scan_city,
                                       "state": "FL" if scan_city else None, "country": "US" if scan_city else None,
                                       "zip": HOME_POSTAL}
        return body
    return build


def aftership(scan_city: str | None) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        body = example("aftership_tracking_update.json")
        body["msg"].update(destination_city=HOME_CITY, destination_state=HOME_REGION,
                           destination_country_iso3=HOME_COUNTRY, destination_postal_code=HOME_POSTAL,
                           origin_city=HOME_CITY, origin_state=HOME_REGION, origin_country_iso3=HOME_COUNTRY,
                           origin_postal_code=HOME_POSTAL, shipping_address=f"1 {HOME_CITY} street")
        checkpoint = body["msg"]["checkpoints"][-1]
        checkpoint.update(location=f"1 {HOME_CITY} street, {HOME_POSTAL}", zip=HOME_POSTAL)
        if scan_city:
            checkpoint.update(city=scan_city, state="NY", country_iso3="USA")
        return body
    return build


def shippo(scan_city: str | None) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        body = example("shippo_track_updated.json")
        data = body["data"]
        data["address_to"] = dict(ADDRESS)
        data["address_from"] = dict(ADDRESS)
        data["tracking_status"]["location"] = (
            {"city": scan_city, "state": "NV", "country": "US", "zip": HOME_POSTAL} if scan_city else None)
        return body
    return build


def colis(scan_city: str | None) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        where = {"city": scan_city, "country": "FR"} if scan_city else {}
        return colis_event("COLIS1", "in_transit", "2026-05-04T10:00:00+00:00",
                           location=f"1 {HOME_CITY} street, {HOME_POSTAL}", **where)
    return build


# (format, payload builder, the place the update must carry: city, region, country; None: no place)
CASES: list[tuple[str, Callable[[], dict[str, Any]], tuple[str | None, str | None, str | None] | None]] = [
    ("sendcloud", sendcloud, None),  # Sendcloud never says where a scan happened
    ("easypost", easypost("Kissimmee"), ("Kissimmee", "FL", "US")),
    ("easypost", easypost(None), None),
    ("aftership", aftership("Queens"), ("Queens", "NY", "USA")),
    ("aftership", aftership(None), None),
    ("shippo", shippo("Henderson"), ("Henderson", "NV", "US")),
    ("shippo", shippo(None), None),
    ("colis", colis("Lyon"), ("Lyon", None, "FR")),
    ("colis", colis(None), None),
]


def only_update(carrier: str, body: dict[str, Any]) -> CanonicalUpdate:
    delivery = parse_delivery(carrier, copy.deepcopy(body))
    assert not delivery.ignored and len(delivery.updates) == 1
    return delivery.updates[0]


def test_every_carrier_format_is_walked() -> None:
    assert {carrier for carrier, _, _ in CASES} == set(CARRIERS)


@pytest.mark.parametrize(("carrier", "build", "place"), CASES,
                         ids=[f"{carrier}-{'scan' if place else 'no-scan-place'}" for carrier, _, place in CASES])
def test_a_scan_is_placed_only_where_the_carrier_says_it_happened(
        carrier: str, build: Callable[[], dict[str, Any]],
        place: tuple[str | None, str | None, str | None] | None) -> None:
    update = only_update(carrier, build())

    assert (update.city, update.region, update.country) == (place or (None, None, None))
    public = ", ".join(part for part in place or () if part) or None
    if carrier != "colis":  # colis keeps its own free-text line for the merchant (never public)
        assert update.location == public
    public_fields = " ".join(part or "" for part in (update.city, update.region, update.country))
    assert not [planted for planted in PLANTED if planted in public_fields]


@pytest.mark.parametrize(("source", "shown"), [
    ("sendcloud", None),  # stored before the fix: the recipient's city, never shown
    ("easypost", "Orlando, FL, US"), ("aftership", "Orlando, FL, US"), ("shippo", "Orlando, FL, US"),
    ("colis", "Orlando, FL, US"), (None, "Orlando, FL, US"),
])
def test_the_page_shows_a_stored_place_only_from_formats_that_name_the_scans_place(
        source: str | None, shown: str | None) -> None:
    event = TrackingEvent(parcel_id="p1", tracking_number="N1", status=TrackingStatus.in_transit,
                          occurred_at=datetime(2026, 5, 4, tzinfo=UTC), received_at=datetime(2026, 5, 4, tzinfo=UTC),
                          location="Orlando, FL, US", place=Place(city="Orlando", region="FL", country="US"),
                          source=source)
    assert scan_place(event) == shown
    assert scan_place(event.model_copy(update={"place": None})) is None
