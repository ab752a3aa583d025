"""Webhook endpoints API use cases: register, show, change, rotate the secret of, and delete
a merchant's endpoints (API.md "Webhook endpoints")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from functions.outbound.delivery import queue_message
from shared.errors import Invalid
from shared.platform import aws, clock
from shared.platform.settings import settings
from shared.webhooks.model import (
    CreatedEndpoint,
    EndpointPatch,
    EndpointRequest,
    StoredEndpoint,
    WebhookEndpoint,
    new_endpoint,
    rotated,
    url_problem,
)
from shared.webhooks.store import WebhookEndpointStore


def _checked_url(url: str) -> str:
    problem = url_problem(url, loopback_http_allowed=settings().outbound_allow_loopback)
    if problem:
        raise Invalid("The request has invalid fields.",
                      errors=[{"field": "body.url", "type": "url", "message": problem}])
    return url


def create_endpoint(store: WebhookEndpointStore, merchant_id: str, request: EndpointRequest) -> CreatedEndpoint:
    _checked_url(request.url)
    endpoint, secret = new_endpoint(request)
    store.create(merchant_id, endpoint)
    return CreatedEndpoint(**endpoint.public().model_dump(), secret=secret)


def show_endpoint(store: WebhookEndpointStore, merchant_id: str, endpoint_id: str) -> WebhookEndpoint:
    return store.get(merchant_id, endpoint_id).public()


def list_endpoints(store: WebhookEndpointStore, merchant_id: str, *, limit: int,
                   cursor: str | None) -> tuple[list[WebhookEndpoint], str | None]:
    endpoints, next_cursor = store.page(merchant_id, limit=limit, cursor=cursor)
    return [endpoint.public() for endpoint in endpoints], next_cursor


def change_endpoint(store: WebhookEndpointStore, merchant_id: str, endpoint_id: str,
                    patch: EndpointPatch) -> WebhookEndpoint:
    endpoint = store.get(merchant_id, endpoint_id)
    changes: dict[str, object] = {"updated_at": clock.now()}
    if patch.url is not None:
        changes["url"] = _checked_url(patch.url)
    if patch.events is not None:
        changes["events"] = patch.events
    if patch.enabled is not None:
        changes["enabled"] = patch.enabled
        # Re-enabled (or paused) by hand: the failure run starts again from nothing.
        changes["disabled_reason"] = None
        changes["failing_since"] = None
    return store.save(merchant_id, endpoint.model_copy(update=changes)).public()


def rotate_secret(store: WebhookEndpointStore, merchant_id: str, endpoint_id: str) -> CreatedEndpoint:
    endpoint: StoredEndpoint = store.get(merchant_id, endpoint_id)
    changed, secret = rotated(endpoint, clock.now())
    return CreatedEndpoint(**store.save(merchant_id, changed).public().model_dump(), secret=secret)


def delete_endpoint(store: WebhookEndpointStore, merchant_id: str, endpoint_id: str) -> None:
    store.delete(merchant_id, endpoint_id)


# --- deliveries ------------------------------------------------------------------------------------
class Delivery(BaseModel):
    """One attempt as the delivery log shows it (API.md)."""

    id: str
    event_id: str
    event_type: str
    status_code: int | None
    latency_ms: int | None
    error: str | None
    attempt: int
    next_attempt_at: datetime | None
    attempted_at: datetime


def _enqueue(kind: str, merchant_id: str, **ids: str) -> None:
    """The delivery function sends it (the API answers 202 without waiting for the merchant's server)."""
    aws.client("sqs").send_message(QueueUrl=settings().outbound_queue_url,
                                   MessageBody=queue_message(kind, merchant_id, **ids))


def send_test(store: WebhookEndpointStore, merchant_id: str, endpoint_id: str) -> None:
    store.get(merchant_id, endpoint_id)  # 404 now, not a silent failure later
    _enqueue("ping", merchant_id, endpoint_id=endpoint_id)


def list_deliveries(store: WebhookEndpointStore, merchant_id: str, endpoint_id: str, *, limit: int,
                    cursor: str | None) -> tuple[list[Delivery], str | None]:
    store.get(merchant_id, endpoint_id)
    attempts, next_cursor = store.deliveries(merchant_id, endpoint_id, limit=limit, cursor=cursor)
    return [Delivery.model_validate(a.model_dump(exclude={"body", "endpoint_id"})) for a in attempts], next_cursor


def retry_delivery(store: WebhookEndpointStore, merchant_id: str, delivery_id: str) -> None:
    logged = store.delivery(merchant_id, delivery_id)
    store.get(merchant_id, logged.endpoint_id)
    _enqueue("replay", merchant_id, delivery_id=delivery_id)
