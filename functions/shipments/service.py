"""Shipment use cases: create (attaching orphan updates), read, list, history, merchant actions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.dynamo.paging import list_scope, page_of_read_list
from shared.dynamo.retry import retry_changed
from shared.errors import Refused
from shared.events.catalogue import MerchantAction
from shared.events.outbox import outbox_entry
from shared.merchants.store import MerchantRepository
from shared.notifications.model import NotificationState
from shared.notifications.store import NotificationRepository
from shared.orders.shipment_links import follow_shipment
from shared.orders.store import OrderRepository
from shared.platform import clock
from shared.shipments.creation import attach_orphan_updates, create_shipment
from shared.shipments.model import Shipment, TrackingEvent, with_merchant_status
from shared.shipments.queries import ShipmentFilter, page_shipments
from shared.shipments.statuses import TrackingStatus
from shared.shipments.store import ShipmentRepository

# Creation lives in shared.shipments.creation (the orders' "tracking number by hand" uses it too).
__all__ = ["attach_orphan_updates", "create_shipment"]


def get_shipment(shipments: ShipmentRepository, merchant_id: str, shipment_id: str) -> Shipment:
    return shipments.get(merchant_id, shipment_id)


class SentEmail(BaseModel):
    """An email about the shipment, as the merchant sees it (no address: the recipient's is on the shipment)."""

    milestone: str
    language: str | None
    state: NotificationState
    sent_at: datetime | None
    feedback: str | None = Field(default=None, description="what SES reported after the send: bounced, complained")
    created_at: datetime


def shipment_notifications(shipments: ShipmentRepository, notifications: NotificationRepository, merchant_id: str,
                           shipment_id: str, limit: int, cursor: str | None) -> tuple[list[SentEmail], str | None]:
    """The emails sent (or decided against) about the shipment, oldest first; 404 as for the shipment.
    At most one per milestone: read whole and paged like every list."""
    shipments.get(merchant_id, shipment_id)
    emails = [SentEmail(milestone=n.milestone, language=n.language, state=n.state, sent_at=n.sent_at,
                        feedback=n.feedback, created_at=n.created_at)
              for n in notifications.for_shipment(merchant_id, shipment_id)]
    return page_of_read_list(merchant_id, sorted(emails, key=_decided), _decided, limit=limit, cursor=cursor,
                             scope=list_scope("shipment-emails", shipment_id))


def _decided(email: SentEmail) -> str:
    return f"{email.created_at.isoformat()} {email.milestone}"


def list_shipments(shipments: ShipmentRepository, merchants: MerchantRepository, merchant_id: str,
                   filters: ShipmentFilter, limit: int, cursor: str | None) -> tuple[list[Shipment], str | None]:
    oldest = datetime.fromisoformat(merchants.get(merchant_id).created_at.replace("Z", "+00:00"))
    return page_shipments(shipments, merchant_id, filters, limit=limit, cursor=cursor, oldest=oldest)


def tracking_history(shipments: ShipmentRepository, merchant_id: str, shipment_id: str, limit: int,
                     cursor: str | None) -> tuple[list[TrackingEvent], str | None]:
    shipments.get(merchant_id, shipment_id)
    return shipments.events_page(merchant_id, shipment_id, limit, cursor)


# The merchant's own statuses: what each action sets, and the statuses it cannot leave.
_ACTIONS: dict[MerchantAction, tuple[TrackingStatus, frozenset[TrackingStatus]]] = {
    "void_label": (TrackingStatus.cancelled, frozenset({TrackingStatus.deleted})),
    "archive": (TrackingStatus.archived, frozenset({TrackingStatus.deleted})),
    "delete": (TrackingStatus.deleted, frozenset()),
}


def set_merchant_status(shipments: ShipmentRepository, merchant_id: str, shipment_id: str,
                        action: MerchantAction) -> Shipment:
    target, refused_from = _ACTIONS[action]

    def attempt() -> Shipment:
        shipment = shipments.get(merchant_id, shipment_id, consistent=True)
        if shipment.merchant_status in refused_from:
            raise Refused(f"Shipment {shipment_id} is {shipment.merchant_status.value}; it cannot be changed.",
                          rule="merchant_status_final")
        if shipment.merchant_status is target:
            return shipment
        changed, event = with_merchant_status(merchant_id, shipment, target, action, clock.now())
        shipments.save(merchant_id, changed, shipment.version, outbox_entry(event))
        return changed

    shipment = retry_changed(attempt, tries=5)
    if action == "void_label" and shipment.order_id:
        # The order answers `paid`/`open` from this 200 on, not once the event has gone round.
        follow_shipment(OrderRepository(shipments.table), shipments, merchant_id, shipment.order_id, shipment.id,
                        linking=False)
    return shipment
