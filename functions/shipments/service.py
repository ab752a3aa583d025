"""Shipment use cases: create (attaching orphan updates), read, list, history, merchant actions."""

from __future__ import annotations

from datetime import datetime

from shared import clock
from shared.errors import Conflict
from shared.ids import new_id
from shared.merchants import MerchantRepository
from shared.observability import count
from shared.shipment_queries import ShipmentFilter, page_shipments
from shared.shipments import (
    Parcel,
    Shipment,
    ShipmentIn,
    ShipmentRepository,
    TrackingEvent,
    derive,
    outbox_entry,
)
from shared.tracking import apply_to_shipment
from shared.tracking_status import TrackingStatus

SHIPMENT_CREATED = "ShipmentCreated"
SHIPMENT_STATUS_CHANGED = "ShipmentStatusChanged"


def create_shipment(shipments: ShipmentRepository, merchant_id: str, body: ShipmentIn) -> Shipment:
    now = clock.now()
    parcels = [Parcel(id=new_id("prc"), index=number, tracking_number=p.tracking_number,
                      tracking_url=str(p.tracking_url) if p.tracking_url else None, weight=p.weight)
               for number, p in enumerate(body.parcels, start=1)]
    shipment = Shipment(**body.model_dump(exclude={"parcels"}), id=new_id("shp"), status=TrackingStatus.pre_transit,
                        created_at=now, updated_at=now, parcels=parcels)
    created = outbox_entry(SHIPMENT_CREATED, [{"merchant_id": merchant_id, "shipment_id": shipment.id,
                                               "parcel_count": len(parcels), "order_id": shipment.order_id,
                                               "created_at": now.isoformat()}])
    shipments.create(merchant_id, shipment, created)
    count("ShipmentCreated")
    if attach_orphan_updates(shipments, merchant_id, shipment):
        return shipments.get(merchant_id, shipment.id, consistent=True)
    return shipment


def attach_orphan_updates(shipments: ShipmentRepository, merchant_id: str, shipment: Shipment) -> int:
    """Updates that arrived before the shipment existed, applied oldest first, then dropped."""
    attached = 0
    for parcel in shipment.parcels:
        for item_key, update in sorted(shipments.orphans(merchant_id, parcel.tracking_number),
                                       key=lambda pair: pair[1].occurred_at):
            apply_to_shipment(shipments, merchant_id, shipment.id, update)
            shipments.delete_item(item_key)
            attached += 1
    if attached:
        count("OrphanUpdatesAttached", attached)
    return attached


def get_shipment(shipments: ShipmentRepository, merchant_id: str, shipment_id: str) -> Shipment:
    return shipments.get(merchant_id, shipment_id)


def list_shipments(shipments: ShipmentRepository, merchants: MerchantRepository, merchant_id: str,
                   filters: ShipmentFilter, limit: int, cursor: str | None) -> tuple[list[Shipment], str | None]:
    oldest = datetime.fromisoformat(merchants.get(merchant_id).created_at.replace("Z", "+00:00"))
    return page_shipments(shipments, merchant_id, filters, limit=limit, cursor=cursor, oldest=oldest)


def tracking_history(shipments: ShipmentRepository, merchant_id: str, shipment_id: str) -> list[TrackingEvent]:
    shipments.get(merchant_id, shipment_id)
    return shipments.events(merchant_id, shipment_id)


# The merchant's own statuses: what each action sets, and the statuses it cannot leave.
_ACTIONS: dict[str, tuple[TrackingStatus, frozenset[TrackingStatus]]] = {
    "void_label": (TrackingStatus.cancelled, frozenset({TrackingStatus.deleted})),
    "archive": (TrackingStatus.archived, frozenset({TrackingStatus.deleted})),
    "delete": (TrackingStatus.deleted, frozenset()),
}


def set_merchant_status(shipments: ShipmentRepository, merchant_id: str, shipment_id: str, action: str) -> Shipment:
    target, refused_from = _ACTIONS[action]
    for _ in range(5):
        shipment = shipments.get(merchant_id, shipment_id, consistent=True)
        if shipment.merchant_status in refused_from:
            raise Conflict(f"Shipment {shipment_id} is {shipment.merchant_status.value}; it cannot be changed.")
        if shipment.merchant_status is target:
            return shipment
        changed = shipment.model_copy(deep=True)
        changed.merchant_status = target
        changed.status = derive(changed)
        changed.updated_at = clock.now()
        changed.version = shipment.version + 1
        outbox = outbox_entry(SHIPMENT_STATUS_CHANGED, [{
            "merchant_id": merchant_id, "shipment_id": shipment_id, "order_id": shipment.order_id,
            "previous_status": shipment.status.value, "status": changed.status.value, "action": action}])
        try:
            shipments.save(merchant_id, changed, shipment.version, outbox)
        except Conflict:
            continue
        return changed
    raise Conflict("The shipment kept changing; retry.")
