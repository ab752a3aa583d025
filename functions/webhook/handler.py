"""`POST /webhooks/{carrier}/{connection_id}`: signed carrier tracking deliveries (no API key)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.webhook import service
from shared.http.api import api_resolver, json_response, request_body_bytes
from shared.merchants.connections import CachedConnections, ConnectionRepository
from shared.platform.observability import entrypoint
from shared.shipments.store import ShipmentRepository
from shared.shipments.tracking import WarmState

# The body limit is checked by the service, after the connection: DESIGN.md fixes the order.
app = api_resolver(default_body_limit=None)


class DeliveryAnswer(BaseModel):
    accepted: int
    duplicates: int
    orphaned: int
    failed: list[dict[str, Any]] | None = None
    ignored: bool | None = None


@cache
def _connections() -> CachedConnections:
    return CachedConnections(ConnectionRepository())


@cache
def _warm_state() -> WarmState:
    return WarmState()


@app.post("/webhooks/<carrier>/<connection_id>", tags=["Carrier webhooks"], summary="Receive a carrier delivery",
          description=("Where a carrier sends tracking updates (no API key: signed with the "
                       "connection's secret, as each carrier signs). Answers 200 also for "
                       "duplicates, unknown tracking numbers and other event types; checks answer "
                       "404, 413, 401, 400 in that order."),
          responses={200: {"description": "Accepted (also duplicates, unknown numbers, other event types)",
                           "content": {"application/json": {"model": DeliveryAnswer}}}})
def receive_delivery(carrier: str, connection_id: str) -> Response[DeliveryAnswer]:
    event = app.current_event
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    result = service.ingest_delivery(_connections(), ShipmentRepository(), _warm_state(), carrier, connection_id,
                                     request_body_bytes(event.raw_event), headers,
                                     dict(event.query_string_parameters or {}))
    return json_response(200, result.body())


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
