"""The money-moving order routes: refunds and cancellation."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from functions.refund import service
from shared.dynamo.paging import DEFAULT_LIMIT, MAX_LIMIT
from shared.http.api import api_resolver, merchant_id
from shared.platform.observability import entrypoint
from shared.refunds.model import Refund
from shared.refunds.payments import payment_provider
from shared.refunds.rules import RefundRequest
from shared.refunds.store import RefundStore

app = api_resolver()


class RefundList(BaseModel):
    items: list[Refund]
    next_cursor: str | None = None


class OrderCancellationResult(BaseModel):
    # Typed loosely so that this API does not publish a second `Order` schema of its own (the
    # orders API's has input and output variants of the same models).
    order: dict[str, Any] = Field(description="the cancelled order, as GET /v1/orders/{id} answers it (schema Order)")
    refund: Refund | None


@app.post("/v1/orders/<order_id>/refunds", tags=["Refunds"], summary="Refund an order",
          description=("Refunds all or part of a paid order through its payment provider. "
                       "`Idempotency-Key` is required: a retry with the same key and body answers "
                       "the first refund."),
          responses={201: {"description": "Created (or the first answer, replayed, with Idempotent-Replayed: true)",
                           "content": {"application/json": {"model": Refund}}}})
def create_refund(order_id: str, body: RefundRequest,
                  idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key",
                                                                description="required; scoped to the order")] = None,
                  ) -> Response[Any]:  # the stored first answer goes out as it is
    store = RefundStore()
    answer = service.refund(store, payment_provider(store.table), merchant_id(app), order_id, body, idempotency_key)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return Response(status_code=201, content_type="application/json", body=answer.body, headers=headers)


@app.get("/v1/orders/<order_id>/refunds", tags=["Refunds"], summary="List an order's refunds",
         description="The order's settled refunds, oldest first, with their amounts.")
def list_refunds(
    order_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> RefundList:
    items, next_cursor = service.list_refunds(RefundStore(), merchant_id(app), order_id, limit, cursor)
    return RefundList(items=items, next_cursor=next_cursor)


@app.post("/v1/orders/<order_id>/cancel", tags=["Orders"], summary="Cancel an order",
          description=("Cancels the order with a reason (`notify_customer` emails the customer); "
                       "what the customer paid through the platform is refunded, and the refund is "
                       "in the answer."))
def cancel(order_id: str, body: service.CancelRequest) -> OrderCancellationResult:
    store = RefundStore()
    order, refund = service.cancel(store, payment_provider(store.table), merchant_id(app), order_id, body)
    return OrderCancellationResult(order=order.model_dump(mode="json"), refund=refund)


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
