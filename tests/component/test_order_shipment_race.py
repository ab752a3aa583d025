"""Shipment creation and order cancellation racing for the same orders: threads against moto
*server* (one request at a time, as DynamoDB applies each atomically). Whichever lands first wins,
the other is refused: never a cancelled order with a live shipment, never a shipped order refunded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.orders import service as orders_service
from functions.refund import service as refund_service
from functions.shipments import service as shipments_service
from shared.errors import DomainError
from shared.http.problems import problem_of
from shared.merchants.store import MerchantRepository
from shared.orders.model import OrderStatus
from shared.orders.store import OrderRepository
from shared.refunds.payments import EmbeddedPaymentProvider
from shared.refunds.store import RefundStore
from shared.shipments.model import ShipmentIn
from shared.shipments.statuses import TrackingStatus
from shared.shipments.store import ShipmentRepository
from tests.component.test_refunds_concurrency import _order, _table, merchant, moto_server  # noqa: F401 - fixtures
from tests.factories import shipment_body, tracking_number

ORDERS = 6


def _create(endpoint: str, merchant_id: str, order_id: str, start: threading.Barrier) -> tuple[int, str | None]:
    """`POST /v1/shipments` with the order's id."""
    table = _table(endpoint)
    body = ShipmentIn.model_validate(shipment_body(order_id=order_id))
    start.wait()
    try:
        return 201, shipments_service.create_shipment(ShipmentRepository(table), merchant_id, body).id
    except DomainError as problem:
        return problem_of(problem)[0], None


def _add_tracking(endpoint: str, merchant_id: str, order_id: str, start: threading.Barrier) -> tuple[int, str | None]:
    """`POST /v1/orders/{id}/tracking` with a new number."""
    table = _table(endpoint)
    body = orders_service.TrackingIn(carrier="colissimo", tracking_number=tracking_number())
    start.wait()
    try:
        outcome = orders_service.add_tracking_number(OrderRepository(table), ShipmentRepository(table),
                                                     MerchantRepository(table), merchant_id, order_id, body)
    except DomainError as problem:
        return problem_of(problem)[0], None
    return 201, outcome.shipment.id


def _cancel(endpoint: str, merchant_id: str, order_id: str, start: threading.Barrier) -> int:
    table = _table(endpoint)
    request = refund_service.CancelRequest(reason="Customer changed their mind")
    start.wait()
    try:
        refund_service.cancel(RefundStore(table), EmbeddedPaymentProvider(table), merchant_id, order_id, request)
    except DomainError as problem:
        return problem_of(problem)[0]
    return 200


@pytest.mark.parametrize("ship", [_create, _add_tracking], ids=["shipment_with_order_id", "tracking_number"])
def test_concurrent_shipments_and_cancels_never_leave_a_cancelled_order_with_a_live_shipment(
        moto_server: str, merchant: str, ship: Callable[..., tuple[int, str | None]]) -> None:  # noqa: F811
    orders = [_order(moto_server, merchant, "80.00") for _ in range(ORDERS)]
    start = threading.Barrier(2 * ORDERS)
    with ThreadPoolExecutor(2 * ORDERS) as pool:
        creates = [pool.submit(ship, moto_server, merchant, order.id, start) for order in orders]
        cancels = [pool.submit(_cancel, moto_server, merchant, order.id, start) for order in orders]
    table = _table(moto_server)
    for order, create, cancel in zip(orders, creates, cancels, strict=True):
        (created, shipment_id), cancelled = create.result(), cancel.result()
        after = OrderRepository(table).get(merchant, order.id, consistent=True)
        refunds = RefundStore(table).list(merchant, order.id)
        if after.status is OrderStatus.cancelled:
            assert (created, cancelled) == (409, 200)
            assert after.shipment_ids == [] and shipment_id is None
            assert [r.kind for r in refunds] == ["cancellation"]
        else:
            assert (created, cancelled) == (201, 409)
            assert after.status is OrderStatus.shipped and after.shipment_ids == [shipment_id]
            assert shipment_id is not None
            live = ShipmentRepository(table).get(merchant, shipment_id, consistent=True)
            assert live.status is TrackingStatus.pre_transit and live.order_id == order.id
            assert refunds == [] and after.refunded.total == 0

