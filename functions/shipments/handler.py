"""Shipments API: create, read, list with filters, tracking history, void label, archive, delete."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from functions.shipments import service
from shared.dynamo.paging import DEFAULT_LIMIT, MAX_LIMIT
from shared.errors import Invalid
from shared.http.api import api_resolver, json_response, merchant_id, public_base_url
from shared.merchants.store import MerchantRepository
from shared.notifications.store import NotificationRepository
from shared.platform.observability import entrypoint
from shared.shipments.model import Shipment, ShipmentIn, TrackingEvent
from shared.shipments.queries import ShipmentFilter
from shared.shipments.store import ShipmentRepository

app = api_resolver()


class ShipmentList(BaseModel):
    items: list[Shipment]
    next_cursor: str | None


class EventList(BaseModel):
    items: list[TrackingEvent]
    next_cursor: str | None = None


@app.post("/v1/shipments", tags=["Shipments"], summary="Create a shipment",
          description=("A shipment of one or more parcels with their tracking numbers; with "
                       "`order_id`, the order is linked (and shipped) in the same write."),
          responses={201: {"description": "Created",
                           "content": {"application/json": {"model": Shipment}}}})
def create_shipment(body: ShipmentIn) -> Response[Shipment]:
    return json_response(201, service.create_shipment(ShipmentRepository(), merchant_id(app), body,
                                                      public_base_url=public_base_url(app)))


@app.get("/v1/shipments", tags=["Shipments"], summary="List shipments",
         description=("Newest first, filtered by status, creation time, batch or `q` (tracking "
                      "number, order id or part of the recipient's name, case and accents ignored: `lea` "
                      "finds Léa); paged with `limit` and `cursor`."))
def list_shipments(
    status: Annotated[str | None, Query(description="one status, or several separated by commas")] = None,
    created_from: Annotated[str | None, Query(description="date (whole UTC day) or date-time, inclusive")] = None,
    created_to: Annotated[str | None, Query(description="date (whole UTC day) or date-time, exclusive")] = None,
    batch_id: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> ShipmentList:
    try:
        filters = ShipmentFilter.model_validate({"created_from": created_from, "created_to": created_to,
                                                 "status": status or [], "batch_id": batch_id, "q": q})
    except ValidationError as error:
        raise Invalid("The filters are invalid.", errors=[
            {"field": ".".join(str(p) for p in e["loc"]), "type": e["type"], "message": e["msg"]}
            for e in error.errors()]) from error
    items, next_cursor = service.list_shipments(ShipmentRepository(), MerchantRepository(), merchant_id(app),
                                                filters, limit, cursor)
    return ShipmentList(items=items, next_cursor=next_cursor)


@app.get("/v1/shipments/<shipment_id>", tags=["Shipments"], summary="Get a shipment",
         description="The shipment with its parcels, each with its status and public tracking URL.")
def get_shipment(shipment_id: str) -> Shipment:
    return service.get_shipment(ShipmentRepository(), merchant_id(app), shipment_id)


@app.get("/v1/shipments/<shipment_id>/events", tags=["Tracking"], summary="List a shipment's tracking events",
         description="The carrier updates of every parcel, newest first.")
def tracking_history(
    shipment_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> EventList:
    items, next_cursor = service.tracking_history(ShipmentRepository(), merchant_id(app), shipment_id, limit, cursor)
    return EventList(items=items, next_cursor=next_cursor)


class SentEmailList(BaseModel):
    items: list[service.SentEmail]
    next_cursor: str | None = None


@app.get("/v1/shipments/<shipment_id>/notifications", tags=["Shipments"], summary="List a shipment's emails",
         description=("The emails about the shipment to its recipient, oldest first: each milestone's "
                      "`language`, `state` (sent, or why not) and `sent_at`."))
def shipment_notifications(
    shipment_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> SentEmailList:
    items, next_cursor = service.shipment_notifications(ShipmentRepository(), NotificationRepository(),
                                                        merchant_id(app), shipment_id, limit, cursor)
    return SentEmailList(items=items, next_cursor=next_cursor)


@app.post("/v1/shipments/<shipment_id>/void-label", tags=["Shipments"], summary="Void a shipment's label",
          description="The shipment becomes `cancelled`.")
def void_label(shipment_id: str) -> Shipment:
    return service.set_merchant_status(ShipmentRepository(), merchant_id(app), shipment_id, "void_label")


@app.post("/v1/shipments/<shipment_id>/archive", tags=["Shipments"], summary="Archive a shipment",
          description="The shipment becomes `archived`.")
def archive(shipment_id: str) -> Shipment:
    return service.set_merchant_status(ShipmentRepository(), merchant_id(app), shipment_id, "archive")


@app.delete("/v1/shipments/<shipment_id>", tags=["Shipments"], summary="Delete a shipment",
            description="The shipment becomes `deleted`; it is kept until retention removes it.")
def delete(shipment_id: str) -> Shipment:
    return service.set_merchant_status(ShipmentRepository(), merchant_id(app), shipment_id, "delete")


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
