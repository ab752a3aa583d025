"""How one canonical carrier update changes a shipment (DESIGN.md §1.1, §3): pure rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared import clock
from shared.errors import ServiceUnavailable
from shared.observability import count
from shared.shipments import Shipment, ShipmentRepository, TrackingEvent, derive, outbox_entry
from shared.tracking_status import CanonicalUpdate, TrackingStatus

TRACKING_UPDATED = "ShipmentTrackingUpdated"
Outcome = Literal["applied", "unchanged", "duplicate", "orphaned"]
MAX_CONFLICT_RETRIES = 8


@dataclass(frozen=True)
class AppliedUpdate:
    event: TrackingEvent
    shipment: Shipment | None  # the changed shipment to store, None when nothing on it changed
    status_change: dict[str, Any] | None  # the ShipmentTrackingUpdated detail, when the parcel's status moved


def _replaces_current(current_status: TrackingStatus, current_at: datetime | None, update: CanonicalUpdate) -> bool:
    if update.status is TrackingStatus.unknown and current_status is not TrackingStatus.unknown:
        return False  # recorded, never shown over a known status
    return current_at is None or update.occurred_at >= current_at  # ties: the later arrival wins


def apply_update(merchant_id: str, shipment: Shipment, update: CanonicalUpdate, received_at: datetime) -> AppliedUpdate:
    parcel = shipment.parcel_by_number(update.tracking_number)
    if parcel is None:
        raise ValueError("the update's tracking number is not a parcel of this shipment")
    event = TrackingEvent(parcel_id=parcel.id, tracking_number=parcel.tracking_number, status=update.status,
                          carrier_code=update.carrier_code, carrier_message=update.carrier_message,
                          occurred_at=update.occurred_at, received_at=received_at, location=update.location)
    replaces = _replaces_current(parcel.status, parcel.status_at, update)
    newest_seen = parcel.last_event_at is None or update.occurred_at > parcel.last_event_at
    if not replaces and not newest_seen:
        return AppliedUpdate(event, None, None)

    changed = shipment.model_copy(deep=True)
    changed_parcel = changed.parcel_by_number(update.tracking_number)
    assert changed_parcel is not None
    if newest_seen:
        changed_parcel.last_event_at = update.occurred_at
    previous_parcel_status = parcel.status
    if replaces:
        changed_parcel.status = update.status
        changed_parcel.status_at = update.occurred_at
        changed_parcel.carrier_code = update.carrier_code
        changed_parcel.carrier_message = update.carrier_message
        changed_parcel.location = update.location
        if update.estimated_delivery is not None:
            changed.estimated_delivery = update.estimated_delivery
    changed.status = derive(changed)
    changed.updated_at = received_at
    changed.version = shipment.version + 1
    status_change = None
    if changed_parcel.status is not previous_parcel_status:
        status_change = {
            "merchant_id": merchant_id, "shipment_id": shipment.id, "parcel_id": parcel.id,
            "previous_parcel_status": previous_parcel_status.value, "parcel_status": changed_parcel.status.value,
            "previous_shipment_status": shipment.status.value, "shipment_status": changed.status.value,
            "occurred_at": update.occurred_at.isoformat(), "parcel_count": len(shipment.parcels),
        }
    return AppliedUpdate(event, changed, status_change)


def apply_canonical_update(shipments: ShipmentRepository, merchant_id: str, update: CanonicalUpdate) -> Outcome:
    """Record one update: on its parcel's shipment, or as an orphan until that shipment exists."""
    entry = shipments.find_by_tracking_number(merchant_id, update.tracking_number)
    if entry is None:
        recorded = shipments.record_orphan(merchant_id, update)
        count("TrackingUpdateOrphaned" if recorded else "TrackingUpdateDuplicate")
        return "orphaned" if recorded else "duplicate"
    return apply_to_shipment(shipments, merchant_id, entry.shipment_id, update)


def apply_to_shipment(shipments: ShipmentRepository, merchant_id: str, shipment_id: str,
                      update: CanonicalUpdate) -> Outcome:
    """GetItem, then one conditional write (a transaction when the shipment changes); a
    concurrent change of the same shipment makes it read and try again."""
    for _ in range(MAX_CONFLICT_RETRIES):
        shipment = shipments.get(merchant_id, shipment_id, consistent=True)
        applied = apply_update(merchant_id, shipment, update, clock.now())
        outbox = outbox_entry(TRACKING_UPDATED, [applied.status_change]) if applied.status_change else None
        written = shipments.record_event(merchant_id, shipment_id, applied.event, update.dedup_key(),
                                         applied.shipment, shipment.version, outbox)
        if written == "duplicate":
            count("TrackingUpdateDuplicate")
            return "duplicate"
        if written == "recorded":
            count("TrackingUpdateApplied")
            return "applied" if applied.status_change else "unchanged"
    raise ServiceUnavailable("The shipment kept changing; retry the delivery.")
