"""Shipment use cases: create (attaching orphan updates), read, list, history, merchant actions."""

from __future__ import annotations

from datetime import datetime

from shared.errors import Refused
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from shared.shipments.creation import SHIPMENT_CREATED, attach_orphan_updates, create_shipment
from shared.shipments.queries import ShipmentFilter, page_shipments
from shared.shipments.statuses import TrackingStatus
from shared.shipments.store import Shipment, ShipmentRepository, TrackingEvent, derive, outbox_entry

# Creation lives in shared.shipment_creation (the orders' "tracking number by hand" uses it too).
__all__ = ["SHIPMENT_CREATED", "attach_orphan_updates", "create_shipment"]

SHIPMENT_STATUS_CHANGED = "ShipmentStatusChanged"


def get_shipment(shipments: ShipmentRepository, merchant_id: str, shipment_id: str) -> Shipment:
    return shipments.get(merchant_id, shipment_id)


def list_shipments(shipments: ShipmentRepository, merchants: MerchantRepository, merchant_id: str,
                   filters: ShipmentFilter, limit: int, cursor: str | None) -> tuple[list[Shipment], str | None]:
    oldest = datetime.fromisoformat(merchants.get(merchant_id).created_at.replace("Z", "+00:00"))
    return page_shipments(shipments, merchant_id, filters, limit=limit, cursor=cursor, oldest=oldest)


def tracking_history(shipments: ShipmentRepository, merchant_id: str, shipment_id: str, limit: int,
                     cursor: str | None) -> tuple[list[TrackingEvent], str | None]:
    shipments.get(merchant_id, shipment_id)
    return shipments.events_page(merchant_id, shipment_id, limit, cursor)


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
            raise Refused(f"Shipment {shipment_id} is {shipment.merchant_status.value}; it cannot be changed.")
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
        except Refused:
            continue
        return changed
    raise Refused("The shipment kept changing; retry.")
