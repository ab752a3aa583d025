"""Webhook endpoints API: the merchant's endpoints for events Colis sends (DESIGN.md §1.7)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.outbound import service
from functions.outbound.service import Delivery
from shared.dynamo.paging import DEFAULT_LIMIT, MAX_LIMIT
from shared.http.api import api_resolver, json_response, merchant_id
from shared.platform.observability import entrypoint
from shared.webhooks.model import CreatedEndpoint, EndpointPatch, EndpointRequest, WebhookEndpoint
from shared.webhooks.store import WebhookEndpointStore

app = api_resolver()

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=2048)]


class EndpointList(BaseModel):
    items: list[WebhookEndpoint]
    next_cursor: str | None = None


@app.post("/v1/webhook-endpoints", tags=["Webhook endpoints"], summary="Register a webhook endpoint",
          description=("An https URL that receives the events listed, signed with a `whsec_` secret "
                       "shown in this answer only."),
          responses={201: {"description": "Created; the secret is shown once",
                           "content": {"application/json": {"model": CreatedEndpoint}}}})
def create_endpoint(body: EndpointRequest) -> Response[CreatedEndpoint]:
    created = service.create_endpoint(WebhookEndpointStore(), merchant_id(app), body)
    return json_response(201, created, headers={"Location": f"/v1/webhook-endpoints/{created.id}"})


@app.get("/v1/webhook-endpoints", tags=["Webhook endpoints"], summary="List webhook endpoints",
         description=("The merchant's endpoints (never their secrets); paged with `limit` and "
                      "`cursor`."))
def list_endpoints(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> EndpointList:
    items, next_cursor = service.list_endpoints(WebhookEndpointStore(), merchant_id(app), limit=limit, cursor=cursor)
    return EndpointList(items=items, next_cursor=next_cursor)


@app.get("/v1/webhook-endpoints/<endpoint_id>", tags=["Webhook endpoints"], summary="Get a webhook endpoint",
         description="Its URL, events, description and whether it is enabled (never its secret).")
def get_endpoint(endpoint_id: str) -> WebhookEndpoint:
    return service.show_endpoint(WebhookEndpointStore(), merchant_id(app), endpoint_id)


@app.patch("/v1/webhook-endpoints/<endpoint_id>", tags=["Webhook endpoints"], summary="Update a webhook endpoint",
           description="Changes its `url`, `events` or `enabled`; only the fields sent.")
def patch_endpoint(endpoint_id: str, body: EndpointPatch) -> WebhookEndpoint:
    return service.change_endpoint(WebhookEndpointStore(), merchant_id(app), endpoint_id, body)


@app.delete("/v1/webhook-endpoints/<endpoint_id>", tags=["Webhook endpoints"], summary="Delete a webhook endpoint",
            description="No event is sent to it from now on.",
            responses={204: {"description": "Deleted"}})
def delete_endpoint(endpoint_id: str) -> Response[None]:
    service.delete_endpoint(WebhookEndpointStore(), merchant_id(app), endpoint_id)
    return Response(status_code=204)


@app.post("/v1/webhook-endpoints/<endpoint_id>/rotate-secret", tags=["Webhook endpoints"],
          summary="Rotate a webhook endpoint's secret",
          description=("A new secret, shown once; the former one keeps signing beside it for 24 "
                       "hours."))
def rotate_secret(endpoint_id: str) -> CreatedEndpoint:
    """A new secret, shown once; the former one keeps signing beside it for 24 hours."""
    return service.rotate_secret(WebhookEndpointStore(), merchant_id(app), endpoint_id)


@app.post("/v1/webhook-endpoints/<endpoint_id>/test", tags=["Webhook endpoints"], summary="Send a test ping",
          description=("Sends a `ping` event to the endpoint, whatever it subscribes to; the attempt "
                       "appears in its delivery log."),
          responses={202: {"description": "Accepted: a ping is sent"}})
def send_test(endpoint_id: str) -> Response[None]:
    service.send_test(WebhookEndpointStore(), merchant_id(app), endpoint_id)
    return Response(status_code=202)


class DeliveryList(BaseModel):
    items: list[Delivery]
    next_cursor: str | None = None


@app.get("/v1/webhook-endpoints/<endpoint_id>/deliveries", tags=["Webhook endpoints"],
         summary="List an endpoint's delivery attempts",
         description=("Every attempt of the last 30 days, newest first: event, status code, latency, "
                      "error, attempt number and when the next attempt is due."))
def list_deliveries(endpoint_id: str, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> DeliveryList:
    items, next_cursor = service.list_deliveries(WebhookEndpointStore(), merchant_id(app), endpoint_id,
                                                 limit=limit, cursor=cursor)
    return DeliveryList(items=items, next_cursor=next_cursor)


@app.post("/v1/webhook-deliveries/<delivery_id>/retry", tags=["Webhook endpoints"], summary="Resend a delivery",
          description="Sends the event of this logged attempt to its endpoint again, now, once.",
          responses={202: {"description": "Accepted: sent again now"}})
def retry_delivery(delivery_id: str) -> Response[None]:
    service.retry_delivery(WebhookEndpointStore(), merchant_id(app), delivery_id)
    return Response(status_code=202)


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
