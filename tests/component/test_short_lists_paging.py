"""The lists read whole because they stay short (a merchant's API keys and carrier connections, an
order's refunds, a shipment's emails) follow the list convention of API.md like every other list:
`limit` 1-100 (outside: 422), a signed `cursor` (tampered, from another list or another merchant:
400), pages that together give every item once, in order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.account.handler import lambda_handler as account_api
from functions.refund.handler import lambda_handler as refund_api
from functions.shipments.handler import lambda_handler as shipments_api
from shared.merchants.api_keys import ApiKeyRepository, ApiKeyRequest
from shared.merchants.store import MerchantRepository
from shared.notifications.model import NotificationTarget
from shared.notifications.store import NotificationRepository
from shared.platform import clock
from tests.apigw import ApiResponse, api_event, call
from tests.component.orders_support import new_order, refund
from tests.component.shipment_support import new_shipment

Lister = Callable[[str, dict[str, str]], ApiResponse]


def _lister(handler: Any, resource: str, path_params: dict[str, str] | None = None) -> Lister:
    def lister(merchant: str, query: dict[str, str]) -> ApiResponse:
        return call(handler, api_event("GET", resource, path_params=path_params or {}, query=query,
                                       merchant_id=merchant))
    return lister


@pytest.fixture
def lists(aws_env: dict[str, Any]) -> tuple[str, dict[str, Lister]]:
    start = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    clock.use_fixed(start)
    merchant = MerchantRepository().create("Atelier Lune").id
    for step, name in enumerate(("shop", "script", "report")):
        clock.use_fixed(start + timedelta(seconds=step))
        ApiKeyRepository().create(merchant, ApiKeyRequest(name=name, scope="read"))
        created = call(account_api, api_event("POST", "/v1/connections", body={"carrier": "colis"}, merchant_id=merchant))
        assert created.status == 201, created.body
    order = new_order(merchant)
    for step in range(3):
        clock.use_fixed(start + timedelta(minutes=1, seconds=step))
        given = refund(merchant, order["id"], {"amounts": {"subtotal": "1.00"}, "reason": "damaged"}, key=f"k{step}")
        assert given.status == 201, given.body
    shipment = new_shipment(merchant)
    for step, milestone in enumerate(("ready_to_ship", "in_transit", "delivered")):
        clock.use_fixed(start + timedelta(minutes=2, seconds=step))
        NotificationRepository().claim(NotificationTarget(merchant_id=merchant, milestone=milestone,
                                                          shipment_id=shipment["id"]),
                                       language="fr", recipient_email="camille@example.fr")
    return merchant, {
        "api-keys": _lister(account_api, "/v1/api-keys"),
        "connections": _lister(account_api, "/v1/connections"),
        "refunds": _lister(refund_api, "/v1/orders/{order_id}/refunds", {"order_id": order["id"]}),
        "emails": _lister(shipments_api, "/v1/shipments/{shipment_id}/notifications",
                          {"shipment_id": shipment["id"]}),
    }


NAMES = ("api-keys", "connections", "refunds", "emails")


def _identity(item: dict[str, Any]) -> str:
    return str(item.get("id") or item["milestone"])


@pytest.mark.parametrize("name", NAMES)
def test_pages_of_one_give_every_item_once_in_order(lists: tuple[str, dict[str, Lister]], name: str) -> None:
    merchant, listers = lists
    whole = listers[name](merchant, {})
    assert whole.status == 200 and whole.json()["next_cursor"] is None
    expected = [_identity(item) for item in whole.json()["items"]]
    assert len(expected) == 3
    seen: list[str] = []
    query: dict[str, str] = {"limit": "1"}
    while True:
        page = listers[name](merchant, query)
        assert page.status == 200, page.body
        assert len(page.json()["items"]) == 1
        seen += [_identity(item) for item in page.json()["items"]]
        if page.json()["next_cursor"] is None:
            break
        query = {"limit": "1", "cursor": page.json()["next_cursor"]}
    assert seen == expected
    two = listers[name](merchant, {"limit": "2"}).json()
    assert [_identity(item) for item in two["items"]] == expected[:2] and two["next_cursor"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("limit", ["0", "101", "-1", "many"])
def test_a_limit_outside_1_to_100_is_422(lists: tuple[str, dict[str, Lister]], name: str, limit: str) -> None:
    merchant, listers = lists
    response = listers[name](merchant, {"limit": limit})
    assert response.status == 422 and response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("name", NAMES)
def test_a_cursor_tampered_from_another_list_or_merchant_is_400(lists: tuple[str, dict[str, Lister]],
                                                                 name: str) -> None:
    merchant, listers = lists
    cursor = listers[name](merchant, {"limit": "1"}).json()["next_cursor"]
    other_list = next(n for n in NAMES if n != name)
    foreign = listers[other_list](merchant, {"limit": "1"}).json()["next_cursor"]
    other_merchant = MerchantRepository().create("Autre boutique").id
    for bad, who in ((cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"), merchant), ("garbage", merchant),
                     (foreign, merchant)):
        response = listers[name](who, {"cursor": bad})
        assert response.status == 400, (bad, response.body)
    # Another merchant's cursor: 400 where the list is the merchant's own, 404 where its parent is not.
    assert listers[name](other_merchant, {"cursor": cursor}).status in (400, 404)
    if name in ("api-keys", "connections"):
        assert listers[name](other_merchant, {"cursor": cursor}).status == 400
