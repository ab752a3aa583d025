"""An order following its shipments (DESIGN.md §1.3): `shipped` while a linked shipment's label
is not voided. The void-label request applies it at once, so the order it answers about is
already `paid`/`open` (a cancel right after it is not refused); the `ShipmentStatusChanged`
consumer applies it again, idempotently, and links shipments written before links were made in
the creating transaction. The status is derived from the shipments themselves, so calls that
repeat or arrive out of order converge on the same answer."""

from __future__ import annotations

from shared.dynamo.retry import retry_changed
from shared.errors import NotFound
from shared.orders.model import ActivityType, Order, OrderActivity, OrderStatus, shipping_status
from shared.orders.store import OrderRepository
from shared.platform.observability import logger
from shared.shipments.statuses import TrackingStatus
from shared.shipments.store import ShipmentRepository

MAX_ATTEMPTS = 10


def follow_shipment(orders: OrderRepository, shipments: ShipmentRepository, merchant_id: str, order_id: str,
                    shipment_id: str, *, linking: bool) -> Order | None:
    """The order with `shipment_id` linked (when `linking`) and its status derived again from its
    shipments; None when the order does not exist. Writes nothing when nothing changes."""
    def update() -> Order | None:
        order = orders.find(merchant_id, order_id, consistent=True)
        if order is None:
            logger.warning("shipment names an unknown order", extra={"shipment_id": shipment_id})
            return None
        newly_linked = linking and shipment_id not in order.shipment_ids
        shipment_ids = [*order.shipment_ids, shipment_id] if newly_linked else order.shipment_ids
        status = shipping_status(order, any(_is_active(shipments, merchant_id, s) for s in shipment_ids))
        if not newly_linked and status is order.status:
            return order
        changed = order.revised()
        changed.shipment_ids, changed.status = shipment_ids, status
        entries = []
        if newly_linked:
            kind: ActivityType = "shipped" if status is OrderStatus.shipped else "shipment_linked"
            entries.append(OrderActivity(type=kind, at=changed.updated_at, details={"shipment_id": shipment_id}))
        if order.status is OrderStatus.shipped and status is not OrderStatus.shipped:
            entries.append(OrderActivity(type="shipment_voided", at=changed.updated_at,
                                         details={"shipment_id": shipment_id, "status": status.value}))
        orders.save(merchant_id, changed, entries)
        return changed

    return retry_changed(update, tries=MAX_ATTEMPTS)


def _is_active(shipments: ShipmentRepository, merchant_id: str, shipment_id: str) -> bool:
    """A shipment keeps its order shipped unless its label was voided (one removed by retention
    was shipped and never voided)."""
    try:
        return shipments.get(merchant_id, shipment_id, consistent=True).status is not TrackingStatus.cancelled
    except NotFound:
        return True
