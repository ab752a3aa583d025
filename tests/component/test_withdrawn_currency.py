"""A currency ISO 4217 withdrew (BGN: Bulgaria joined the euro on 2026-01-01) after an order was
recorded in it: no new order may use it, and the recorded one is still read, shown and edited in
its own minor units (shared/values/money.py, `WITHDRAWN` and `RECORDED`)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.dynamo import keys
from shared.merchants.store import MerchantRepository
from shared.platform import aws
from tests.component import orders_support


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return MerchantRepository().create("Atelier Lune").id


def test_a_new_order_in_a_withdrawn_currency_is_refused(merchant: str) -> None:
    response = orders_support.import_order(merchant, currency="BGN", display_currency=None, exchange_rate=None)
    assert response.status == 422
    assert "no longer an ISO 4217 currency" in response.body


def test_an_order_recorded_before_its_currency_was_withdrawn_is_still_read_and_edited(
        merchant: str) -> None:
    order = orders_support.new_order(merchant, display_currency=None, exchange_rate=None)
    # As written before 2026-01-01, when BGN was current.
    aws.table().update_item(Key=keys.order(merchant, order["id"]), UpdateExpression="SET currency = :c",
                            ExpressionAttributeValues={":c": "BGN"})

    read = orders_support.get_order(merchant, order["id"])
    assert read.status == 200, read.body
    assert read.json()["currency"] == "BGN" and read.json()["amounts"]["subtotal"] == "100.00"

    edited = orders_support.edit(merchant, order["id"], {"lines": [{"sku": "LAMP-01", "unit_price": "41.5"}]})
    assert edited.status == 200, edited.body
    line = next(line for line in edited.json()["order"]["lines"] if line["sku"] == "LAMP-01")
    assert line["unit_price"] == "41.50"
