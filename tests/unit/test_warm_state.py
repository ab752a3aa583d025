"""What a warm webhook function remembers: bounded per memory, least recently used dropped first,
and a forgotten shipment read again."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from shared.shipments.model import TrackingNumberEntry
from shared.shipments.tracking import WarmState
from tests.unit.test_item_layouts import a_shipment

MERCHANT = "mer_1"


class CountingShipments:
    """The two reads WarmState makes, counted."""

    def __init__(self) -> None:
        self.reads: Counter[str] = Counter()

    def find_by_tracking_number(self, merchant_id: str, number: str) -> TrackingNumberEntry | None:
        self.reads["number"] += 1
        if number.startswith("UNKNOWN"):
            return None
        return TrackingNumberEntry(merchant_id=merchant_id, shipment_id=f"shp_{number}", parcel_id="prc_1",
                                   tracking_number=number, created_at=datetime(2026, 5, 1, tzinfo=UTC))

    def get(self, merchant_id: str, shipment_id: str, *, consistent: bool = False) -> Any:
        self.reads["shipment"] += 1
        return a_shipment(id=shipment_id)


def test_a_number_is_read_once_then_remembered() -> None:
    warm, table = WarmState(), CountingShipments()
    assert [warm.shipment_id_for(table, MERCHANT, "N1") for _ in range(3)] == ["shp_N1"] * 3  # type: ignore[arg-type]
    assert table.reads["number"] == 1


def test_an_unknown_number_is_not_remembered() -> None:
    warm, table = WarmState(), CountingShipments()
    assert warm.shipment_id_for(table, MERCHANT, "UNKNOWN1") is None  # type: ignore[arg-type]
    assert warm.shipment_id_for(table, MERCHANT, "UNKNOWN1") is None  # type: ignore[arg-type]
    assert table.reads["number"] == 2  # its shipment may be created at any moment


def test_each_memory_drops_its_least_recently_used_entry_at_capacity() -> None:
    warm, table = WarmState(shipments=2, numbers=2), CountingShipments()
    for number in ("N1", "N2", "N1", "N3"):  # N1 used again: N2 is the least recently used
        warm.shipment_id_for(table, MERCHANT, number)  # type: ignore[arg-type]
    assert table.reads["number"] == 3
    warm.shipment_id_for(table, MERCHANT, "N1")  # type: ignore[arg-type]
    assert table.reads["number"] == 3
    warm.shipment_id_for(table, MERCHANT, "N2")  # type: ignore[arg-type]
    assert table.reads["number"] == 4

    for shipment_id in ("shp_a", "shp_b", "shp_c", "shp_a"):
        warm.shipment(table, MERCHANT, shipment_id)  # type: ignore[arg-type]
    assert table.reads["shipment"] == 4


def test_a_memory_is_kept_per_merchant() -> None:
    warm, table = WarmState(), CountingShipments()
    warm.shipment_id_for(table, "mer_1", "N1")  # type: ignore[arg-type]
    warm.shipment_id_for(table, "mer_2", "N1")  # type: ignore[arg-type]
    assert table.reads["number"] == 2


def test_forgetting_a_shipment_drops_its_state_and_the_number() -> None:
    warm, table = WarmState(), CountingShipments()
    warm.shipment_id_for(table, MERCHANT, "N1")  # type: ignore[arg-type]
    warm.shipment(table, MERCHANT, "shp_N1")  # type: ignore[arg-type]
    warm.shipment(table, MERCHANT, "shp_other")  # type: ignore[arg-type]
    warm.forget(MERCHANT, "shp_N1", "N1")
    warm.shipment(table, MERCHANT, "shp_other")  # type: ignore[arg-type]
    warm.shipment_id_for(table, MERCHANT, "N1")  # type: ignore[arg-type]
    warm.shipment(table, MERCHANT, "shp_N1")  # type: ignore[arg-type]
    assert (table.reads["number"], table.reads["shipment"]) == (2, 3)
