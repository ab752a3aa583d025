"""Orders API: import, read, list, edit, notes, activity log, tracking numbers by hand."""


from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, ValidationError

from functions.orders import service
from functions.orders.edits import OrderPatch
from shared.dynamo.paging import DEFAULT_LIMIT, MAX_LIMIT
from shared.errors import Invalid
from shared.http.api import api_resolver, json_response, merchant_id, public_base_url
from shared.merchants.store import MerchantRepository
from shared.orders.model import Order, OrderActivity, OrderIn
from shared.orders.store import OrderRepository
from shared.platform.observability import entrypoint
from shared.shipments.store import ShipmentRepository
from shared.values.search_terms import MAX_QUERY_LENGTH, MIN_QUERY_LENGTH, QUERY_PATTERN

app = api_resolver()


class OrderList(BaseModel):
    items: list[Order]
    next_cursor: str | None


class OrderEdit(BaseModel):
    order: Order
    warnings: list[str]


class OrderActivityList(BaseModel):
    items: list[OrderActivity]
    next_cursor: str | None


class OrderTracking(BaseModel):
    order: Order
    # Typed loosely so that this API does not publish a second `Shipment` schema of its own.
    shipment: dict[str, Any] = Field(description="the shipment, as GET /v1/shipments/{id} answers it (schema Shipment)")


def _customers() -> service.CustomerDirectory:
    return service.Customers()


@app.post("/v1/orders", tags=["Orders"], summary="Import an order",
          description=("Records an order from a storefront, with its lines, amounts and customer "
                       "(matched to an existing customer or created). An `Idempotency-Key` makes "
                       "retries safe."),
          responses={201: {
    "description": "Created (or the order the same Idempotency-Key created, with Idempotent-Replayed: true)",
    "content": {"application/json": {"model": Order}}}})
def import_order(body: OrderIn,
                 idempotency_key: Annotated[str | None, Header(
                     alias="Idempotency-Key", max_length=255,
                     description="optional: a retry with the same key and body answers the first order")] = None,
                 ) -> Response[Order]:
    answer = service.import_order(OrderRepository(), MerchantRepository(), _customers(),
                                  merchant_id(app), body, idempotency_key)
    return json_response(201, answer.order, {"Idempotent-Replayed": "true"} if answer.replayed else None)


@app.get("/v1/orders", tags=["Orders"], summary="List orders",
         description=("Newest first, filtered by status, order number, customer or tag; paged with "
                      "`limit` and `cursor`. `q` searches order numbers and the customer's name and "
                      "email, ignoring case and accents (`lea` finds Léa): every word of `q` must begin "
                      "the order number, a word of the name or the email; the list is then in the "
                      "order of the word matched. The other filters apply too."))
def list_orders(
    status: Annotated[str | None, Query(description="open | paid | shipped | cancelled")] = None,
    order_number: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(min_length=MIN_QUERY_LENGTH, max_length=MAX_QUERY_LENGTH, pattern=QUERY_PATTERN,
                                   description=("Order number, customer name or email, or their beginning; "
                                                "case and accents ignored; several words: each must match."))] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> OrderList:
    try:
        filters = service.OrderFilter.model_validate({"status": status, "order_number": order_number,
                                                      "customer_id": customer_id, "tag": tag, "q": q})
    except ValidationError as error:
        raise Invalid("The filters are invalid.", errors=[
            {"field": ".".join(str(p) for p in e["loc"]), "type": e["type"], "message": e["msg"]}
            for e in error.errors()]) from error
    items, next_cursor = service.list_orders(OrderRepository(), merchant_id(app), filters, limit, cursor)
    return OrderList(items=items, next_cursor=next_cursor)


@app.get("/v1/orders/<order_id>", tags=["Orders"], summary="Get an order",
         description="The order with its lines, amounts, customer, addresses and shipments.")
def get_order(order_id: str) -> Order:
    return service.get_order(OrderRepository(), merchant_id(app), order_id)


@app.patch("/v1/orders/<order_id>", tags=["Orders"], summary="Edit an order",
           description=("Changes the order number, an address (replaced whole) or lines (by sku); "
                        "the answer carries the order and any warnings."))
def edit_order(order_id: str, body: OrderPatch) -> OrderEdit:
    outcome = service.edit_order(OrderRepository(), _customers(), merchant_id(app), order_id, body)
    return OrderEdit(order=outcome.order, warnings=outcome.warnings)


@app.post("/v1/orders/<order_id>/notes", tags=["Orders"], summary="Add a note to an order",
          description="Appends a note to the order's activity.",
          responses={201: {"description": "Created", "content": {"application/json": {"model": OrderActivity}}}})
def add_note(order_id: str, body: service.NoteIn) -> Response[OrderActivity]:
    return json_response(201, service.add_note(OrderRepository(), merchant_id(app), order_id, body.text))


@app.get("/v1/orders/<order_id>/activity", tags=["Orders"], summary="List an order's activity",
         description=("What happened to the order, newest first: edits, notes, shipments, refunds, "
                      "cancellation."))
def activity(order_id: str, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
             cursor: Annotated[str | None, Query(max_length=2048)] = None) -> OrderActivityList:
    items, next_cursor = service.activity(OrderRepository(), merchant_id(app), order_id, limit, cursor)
    return OrderActivityList(items=items, next_cursor=next_cursor)


@app.post("/v1/orders/<order_id>/tracking", tags=["Orders"], summary="Add a tracking number to an order",
          description=("Creates the order's shipment for a tracking number; the order is shipped "
                       "from this answer on."),
          responses={201: {"description": "Created", "content": {"application/json": {"model": OrderTracking}}}})
def add_tracking_number(order_id: str, body: service.TrackingIn) -> Response[OrderTracking]:
    outcome = service.add_tracking_number(OrderRepository(), ShipmentRepository(), MerchantRepository(),
                                          merchant_id(app), order_id, body, public_base_url=public_base_url(app))
    return json_response(201, OrderTracking(order=outcome.order, shipment=outcome.shipment.model_dump(mode="json")))


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
