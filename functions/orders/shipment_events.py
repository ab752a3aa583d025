"""EventBridge consumer: keeps each order's shipping status in step with its shipments.

`ShipmentCreated` with an `order_id`: the creation linked the order in its own transaction, so this
finds the link made and writes nothing (it links only a shipment written before that rule, never
twice); `ShipmentStatusChanged` with `action: void_label` returns the order to `paid`/`open` unless another
linked shipment is still active (the void-label request did it already; this finds it done). Both derive the status from the shipments themselves, so events
that repeat or arrive out of order converge on the same answer. A failure raises: Lambda retries
the asynchronous invocation, then hands the event to the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.orders import service
from shared.events.catalogue import ShipmentCreated, ShipmentStatusChanged, parse
from shared.orders.store import OrderRepository
from shared.platform.observability import entrypoint, logger
from shared.shipments.store import ShipmentRepository


def on_shipment_created(event: ShipmentCreated) -> None:
    if event.order_id:
        service.link_shipment(OrderRepository(), ShipmentRepository(), event.merchant_id, event.order_id,
                              event.shipment_id)


def on_shipment_status_changed(event: ShipmentStatusChanged) -> None:
    if event.order_id and event.action == "void_label":
        service.shipment_voided(OrderRepository(), ShipmentRepository(), event.merchant_id, event.order_id,
                                event.shipment_id)


HANDLERS: dict[str, Callable[[Any], None]] = {
    ShipmentCreated.name: on_shipment_created,
    ShipmentStatusChanged.name: on_shipment_status_changed,
}


@entrypoint(correlation_id_path="id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    handle = HANDLERS.get(str(event.get("detail-type")))
    if handle is None:
        logger.warning("event type not handled", extra={"detail_type": event.get("detail-type")})
        return
    handle(parse(event))
