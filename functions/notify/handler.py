"""EventBridge consumer: customer emails for shipment milestones and order cancellations.

Invoked asynchronously by the bus rule, one event per invocation. A raised exception makes Lambda
retry the event (then the on-failure queue); the claims make a retried event skip what was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.notify import service
from functions.notify.sender import ses_sender
from shared.events.catalogue import (
    OrderCancelled,
    ShipmentCreated,
    ShipmentTrackingUpdated,
    WebhookEndpointAutoDisabled,
    read,
)
from shared.merchants.store import MerchantRepository
from shared.notifications.store import NotificationRepository
from shared.notifications.suppression import SuppressionList
from shared.platform.observability import entrypoint, logger
from shared.platform.settings import MissingSetting, settings
from shared.shipments.store import ShipmentRepository

Handler = Callable[[service.Dependencies, Any], service.Outcomes]

HANDLERS: dict[str, Handler] = {
    ShipmentCreated.name: service.on_shipment_created,
    ShipmentTrackingUpdated.name: service.on_tracking_updated,
    OrderCancelled.name: service.on_order_cancelled,
    WebhookEndpointAutoDisabled.name: service.on_endpoint_disabled,
}


def _orders() -> service.OrderReader:
    from shared.orders.store import OrderRepository  # imported on use: the handler module loads leaner

    return OrderRepository()


def _endpoints() -> service.EndpointReader:
    from shared.webhooks.store import WebhookEndpointStore  # imported on use, as the orders

    return WebhookEndpointStore()


def dependencies() -> service.Dependencies:
    """Built per invocation (cheap: clients are cached), so settings and tables are read fresh."""
    tracking_base_url = settings().tracking_base_url
    if tracking_base_url is None:  # emails need absolute links, and there is no request to take a host from
        raise MissingSetting("TRACKING_BASE_URL")
    return service.Dependencies(
        shipments=ShipmentRepository(), merchants=MerchantRepository(), notifications=NotificationRepository(),
        sender=ses_sender(), tracking_base_url=tracking_base_url, orders=_orders(), suppressions=SuppressionList(),
        endpoints=_endpoints())


@entrypoint(correlation_id_path="id")
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    handle = HANDLERS.get(event.detail_type)
    if handle is None:
        logger.warning("event type not handled", extra={"detail_type": event.detail_type})
        return {"detail_type": event.detail_type, "outcomes": {}}
    outcomes = handle(dependencies(), read(event.detail_type, event.detail))
    return {"detail_type": event.detail_type, "outcomes": {name: str(o) for name, o in outcomes.items()}}
