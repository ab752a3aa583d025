"""How shipments, history events and outbox entries are laid out as table items: only what a key,
an index, a list filter or a write condition reads is a top-level attribute; the rest is one JSON
string. Items written in the earlier layouts are still read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.dynamo import keys
from shared.errors import Malformed
from shared.events.catalogue import CustomerMerged, ExportRequested, RefundIssued
from shared.events.outbox import outbox_entry, outbox_events
from shared.shipments.model import Shipment, TrackingEvent
from shared.shipments.store import event_from_item, event_item, shipment_from_item, shipment_to_item
from tests.factories import shipment_body

MERCHANT = "mer_1"
CREATED = datetime(2026, 5, 3, 8, 0, tzinfo=UTC)


def a_shipment(**overrides: object) -> Shipment:
    body = shipment_body(parcels=2, order_id="ord_7", batch_id="B-1")
    parcels = [{"id": f"prc_{n}", "index": n, **p, "status": "in_transit", "status_at": CREATED,
                "last_event_at": CREATED, "carrier_code": "IT", "recent_updates": ["a1b2", "c3d4"]}
               for n, p in enumerate(body.pop("parcels"), start=1)]
    fields = {**body, "id": "shp_1", "status": "in_transit", "created_at": CREATED, "updated_at": CREATED,
              "estimated_delivery": CREATED, "parcels": parcels, "version": 4, "merchant_status": None, **overrides}
    return Shipment.model_validate(fields)


def an_event() -> TrackingEvent:
    return TrackingEvent(parcel_id="prc_1", tracking_number="3SYZXG000000001", status="in_transit",
                         carrier_code="IT", carrier_message="Pris en charge", occurred_at=CREATED,
                         received_at=CREATED, location="Lyon")


def test_a_shipment_item_holds_only_keys_indexes_filters_and_the_version_as_attributes() -> None:
    outbox = outbox_entry(ExportRequested(merchant_id=MERCHANT, export_id="exp_1"))
    item = shipment_to_item(MERCHANT, a_shipment(), outbox)
    assert set(item) == {keys.PK, keys.SK, "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk",
                         "status", "order_id", "batch_id", "name_search", "version", "doc", "outbox"}
    assert (item["status"], item["order_id"], item["batch_id"], item["version"]) == ("in_transit", "ord_7", "B-1", 4)
    assert item["name_search"] == "camille dupont"


@pytest.mark.parametrize("merchant_status", [None, "archived"])
def test_a_shipment_reads_back_as_written(merchant_status: str | None) -> None:
    shipment = a_shipment(merchant_status=merchant_status)
    read = shipment_from_item(shipment_to_item(MERCHANT, shipment))
    assert read == shipment
    assert (read.version, read.merchant_status, read.parcels[0].recent_updates) == (4, shipment.merchant_status,
                                                                                    ["a1b2", "c3d4"])
    assert read.parcels[1].status_at == CREATED


def test_a_shipment_written_with_every_field_as_an_attribute_is_still_read() -> None:
    shipment = a_shipment(order_id=None, batch_id=None)
    earlier = shipment.model_dump(mode="json", exclude={"parcels"})
    earlier["parcels"] = [{**p.model_dump(mode="json"), "status_at": "2026-05-03T08:00:00.000Z",
                           "recent_updates": "a1b2 c3d4"} for p in shipment.parcels]
    item = {**keys.shipment(MERCHANT, shipment.id), **{k: v for k, v in earlier.items() if v is not None},
            "merchant_id": MERCHANT, "version": Decimal(4), "name_search": "camille dupont"}
    assert shipment_from_item(item) == shipment


def test_a_history_event_is_its_key_and_one_document() -> None:
    item = event_item(MERCHANT, "shp_1", an_event(), "colis:evt_1")
    assert set(item) == {keys.PK, keys.SK, "doc"}
    assert json.loads(item["doc"])["carrier_message"] == "Pris en charge"
    assert event_from_item(item) == an_event()


def test_a_history_event_written_with_its_fields_as_attributes_is_still_read() -> None:
    earlier = {keys.PK: "M#mer_1#S#shp_1", keys.SK: "EVENT#2026-05-03T08:00:00.000Z#ab",
               **an_event().model_dump(mode="json")}
    assert event_from_item(earlier) == an_event()


def test_outbox_events_travel_as_one_json_string_with_amounts_and_times_as_text() -> None:
    issued = RefundIssued(merchant_id="mer_1", order_id="ord_1", refund_id="ref_1", total=Decimal("12.50"),
                          currency="EUR", fee_returned=Decimal("0"), kind="refund",
                          created_at=datetime(2026, 5, 3, 8, 0, 0, 123456, tzinfo=UTC))
    entry = outbox_entry(issued)
    assert isinstance(entry["events"], str) and entry["detail_type"] == "RefundIssued"
    assert outbox_events(entry) == [{"merchant_id": "mer_1", "order_id": "ord_1", "refund_id": "ref_1",
                                     "total": "12.50", "currency": "EUR", "fee_returned": "0", "kind": "refund",
                                     "created_at": "2026-05-03T08:00:00.123Z"}]


def test_outbox_events_written_as_a_list_are_still_read() -> None:
    entry = {"id": "x", "detail_type": "ExportRequested", "events": [{"merchant_id": "mer_1", "export_id": "exp_1"}]}
    assert outbox_events(entry) == [{"merchant_id": "mer_1", "export_id": "exp_1"}]
    assert outbox_events({"id": "x", "detail_type": "ExportRequested"}) == []


def test_an_outbox_entry_holds_events_of_one_type() -> None:
    with pytest.raises(ValueError):
        outbox_entry(ExportRequested(merchant_id="m", export_id="e"), CustomerMerged(merchant_id="m", master_id="a",
                                                                                     absorbed_id="b"))
    with pytest.raises(ValueError):
        outbox_entry()


def test_an_outbox_entry_of_an_unknown_type_is_not_read() -> None:
    with pytest.raises(Malformed):
        outbox_events({"id": "x", "detail_type": "Probe", "events": "[{}]"})
