"""Refunds under real concurrency: threads against moto *server* (HTTP, one request per thread
at a time, like Lambda), never more than was paid, one refund per Idempotency-Key."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from functions.orders import service as orders_service
from functions.refund import service as refund_service
from shared.errors import DomainError
from shared.http.problems import problem_of
from shared.merchants.store import MerchantRepository
from shared.orders.model import Order, OrderIn
from shared.orders.store import OrderRepository
from shared.platform import aws, clock
from shared.refunds.payments import EmbeddedPaymentProvider
from shared.refunds.rules import RefundRequest
from shared.refunds.store import RefundStore
from tests.factories import address
from tests.template_resources import create_table

REGION = "eu-west-1"
TABLE = "colis-concurrency"


class _OneRequestAtATime:
    """DynamoDB applies each request (a conditional write, a transaction) atomically; moto server
    handles requests on threads without that guarantee. Serialising requests restores it, while
    the application's own requests still interleave freely, as they do on AWS."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._lock:
            return list(self._app(environ, start_response))


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    server._server.app = _OneRequestAtATime(server._server.app)  # type: ignore[union-attr]
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION, "TABLE_NAME": TABLE,
                        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}.items():
        monkeypatch.setenv(name, value)
    aws.reset_clients()
    _reset_moto(endpoint)  # moto's backends live in this process: start from nothing
    create_table(boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint), TABLE)
    try:
        yield endpoint
    finally:
        _reset_moto(endpoint)
        aws.reset_clients()
        server.stop()


def _reset_moto(endpoint: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


def _table(endpoint: str) -> Any:
    """One boto3 session per thread: resources are not thread-safe."""
    return boto3.session.Session(region_name=REGION).resource("dynamodb", endpoint_url=endpoint).Table(TABLE)


class _Customers:
    def find_or_create_for_order(self, merchant_id: str, **_: Any) -> Any:
        return SimpleNamespace(id="cus_concurrency", tags=[])

    def address_entry(self, *_: Any) -> None:
        return None


def _order(endpoint: str, merchant_id: str, subtotal: str) -> Order:
    table = _table(endpoint)
    body = OrderIn.model_validate({
        "customer": {"email": "lea@example.fr"}, "currency": "EUR", "payment_mode": "platform",
        "lines": [{"sku": "LAMP", "name": "Lamp", "quantity": 1, "unit_price": subtotal}],
        "amounts": {"subtotal": subtotal, "shipping": "9.90", "duties": "0", "taxes": "0"},
        "billing_address": address(), "shipping_address": address()})
    return orders_service.import_order(OrderRepository(table), MerchantRepository(table),
                                       _Customers(), merchant_id, body).order


def _refund(endpoint: str, merchant_id: str, order_id: str, amount: str, key: str,
            start: threading.Barrier) -> tuple[int, str | None, bool]:
    table = _table(endpoint)
    body = RefundRequest.model_validate({"amounts": {"subtotal": amount}, "reason": "customer_request"})
    start.wait()
    try:
        answer = refund_service.refund(RefundStore(table),
                                       EmbeddedPaymentProvider(table), merchant_id, order_id, body, key)
    except DomainError as problem:
        return problem_of(problem)[0], None, False
    import json

    return 201, json.loads(answer.body)["id"], answer.replayed


@pytest.fixture
def merchant(moto_server: str) -> str:
    clock.use_fixed(datetime(2026, 3, 10, 12, tzinfo=UTC))
    return MerchantRepository(_table(moto_server)).create("Atelier Lune").id


def _settlements(endpoint: str, merchant_id: str, order_id: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.conditions import Key

    from shared.dynamo import keys

    items = _table(endpoint).query(KeyConditionExpression=Key("pk").eq(keys.order_partition(merchant_id, order_id))
                                   & Key("sk").begins_with("SETTLEMENT#"))["Items"]
    return items


def test_fifty_concurrent_refunds_of_a_tenth_each_refund_exactly_the_subtotal(moto_server: str, merchant: str) -> None:
    order = _order(moto_server, merchant, "249.90")
    start = threading.Barrier(50)
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda n: _refund(moto_server, merchant, order.id, "24.99", f"key-{n}", start),
                                range(50)))
    statuses = Counter(status for status, _, _ in results)
    assert statuses == {201: 10, 422: 40}
    table = _table(moto_server)
    after = OrderRepository(table).get(merchant, order.id, consistent=True)
    assert after.refunded.subtotal == Decimal("249.90") and after.refunded.total == Decimal("249.90")
    assert after.refund_status.value == "partial"  # the shipping was not refunded
    refunds = RefundStore(table).list(merchant, order.id)
    assert len(refunds) == 10 and sum(r.total for r in refunds) == Decimal("249.90")
    assert sorted(r.id for r in refunds) == sorted(ref for status, ref, _ in results if status == 201)
    assert sum(Decimal(str(s["amount"])) for s in _settlements(moto_server, merchant, order.id)) == Decimal("249.90")
    returnable = after.fee.amount - after.fee.card_part
    assert after.fee.returned == sum(r.fee_returned for r in refunds) <= returnable


def test_the_same_key_sent_twenty_times_at_once_refunds_once(moto_server: str, merchant: str) -> None:
    order = _order(moto_server, merchant, "100.00")
    start = threading.Barrier(20)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: _refund(moto_server, merchant, order.id, "30.00", "same-key", start),
                                range(20)))
    ids = {ref for status, ref, _ in results if status == 201}
    assert len(ids) == 1
    assert {status for status, _, _ in results} <= {201, 409}
    assert sum(1 for status, _, replayed in results if status == 201 and not replayed) == 1
    table = _table(moto_server)
    assert [r.id for r in RefundStore(table).list(merchant, order.id)] == list(ids)
    assert OrderRepository(table).get(merchant, order.id, consistent=True).refunded.subtotal == Decimal("30.00")
    assert len(_settlements(moto_server, merchant, order.id)) == 1
