"""An order and its shipments (DESIGN.md §1.3), as pure rules: which shipment may be linked to an
order, and the order a link makes. The writes that carry a link (one transaction with the shipment)
are the stores' and the use cases'.

- A shipment created with `order_id` ships its order in the same write; a cancelled order takes none.
- A tracking number added by hand takes an existing shipment only when it has no order (or already
  belongs to this one), its label is not voided, and its recipient is the order's shipping address
  (normalised as for duplicate customers: country, postal code, first address line).
"""

from __future__ import annotations

from shared.customers.rules import address_fingerprint
from shared.errors import Refused
from shared.orders.model import Order, OrderActivity, OrderStatus
from shared.shipments.model import Shipment
from shared.shipments.statuses import TrackingStatus
from shared.values.models import Address

# The rules a link can be refused by (`Refused.rule`).
ORDER_CANCELLED = "order_cancelled"
SHIPMENT_OF_ANOTHER_ORDER = "shipment_of_another_order"
LABEL_VOIDED = "label_voided"
RECIPIENT_DIFFERS = "recipient_differs"


def check_takes_shipments(order: Order) -> None:
    """A cancelled order is final: no shipment is linked to it (a cancellation under way counts)."""
    if order.status is OrderStatus.cancelled:
        raise Refused(f"Order {order.id} is cancelled: a shipment cannot be linked to it.", rule=ORDER_CANCELLED)


def check_claimable(order: Order, shipment: Shipment) -> None:
    """An existing shipment the order may take: its own already, or a free one addressed to it."""
    check_takes_shipments(order)
    if shipment.order_id not in (None, order.id):
        raise Refused(f"This tracking number belongs to shipment {shipment.id} of order {shipment.order_id}; "
                      "use another tracking number.", rule=SHIPMENT_OF_ANOTHER_ORDER)
    if shipment.status is TrackingStatus.cancelled:
        raise Refused(f"The label of shipment {shipment.id} with this tracking number was voided; add the "
                      "tracking number of the new label instead.", rule=LABEL_VOIDED)
    if shipment.order_id is None and not same_address(shipment.recipient, order.shipping_address):
        raise Refused(f"The recipient of shipment {shipment.id} with this tracking number is not this order's "
                      "shipping address (country, postal code and first address line differ): it is not this "
                      "order's parcel.", rule=RECIPIENT_DIFFERS)


def same_address(one: Address, other: Address) -> bool:
    """The same place as duplicate customers are found by: case, spacing, punctuation and accents ignored."""
    return address_fingerprint(one) == address_fingerprint(other)


def shipped_by(order: Order, shipment_id: str) -> tuple[Order, list[OrderActivity]] | None:
    """The order with a new live shipment linked: `shipped`, the shipment named, one log entry.
    None when it already names the shipment (a link is written once)."""
    check_takes_shipments(order)
    if shipment_id in order.shipment_ids:
        return None
    changed = order.revised()
    changed.shipment_ids = [*order.shipment_ids, shipment_id]
    changed.status = OrderStatus.shipped
    return changed, [OrderActivity(type="shipped", at=changed.updated_at, details={"shipment_id": shipment_id})]


def recipient_of(order: Order) -> Address:
    """Who a shipment made from the order goes to: its shipping address, with the customer's email
    and the order's language when that address has none (the customer's emails need both)."""
    shipping = order.shipping_address
    return shipping.model_copy(update={
        "email": shipping.email or order.customer.email or order.billing_address.email,
        "language": shipping.language or order.billing_address.language})
