"""Builders and API calls shared by the orders and refunds component tests."""

from __future__ import annotations

import itertools
from typing import Any

from functions.orders import handler as orders_module
from functions.orders import shipment_events
from functions.refund import handler as refund_module
from tests.apigw import ApiResponse, LambdaContext, api_event, call
from tests.factories import address

_numbers = itertools.count(1001)


def order_body(**overrides: Any) -> dict[str, Any]:
    """A platform order paid in EUR, shown in USD at checkout."""
    return {
        "order_number": f"#{next(_numbers)}", "store": "shopify",
        "customer": {"username": "lea.martin", "email": "lea.martin@example.fr", "first_name": "Léa",
                     "last_name": "Martin"},
        "currency": "EUR", "display_currency": "USD", "exchange_rate": "1.0850",
        "lines": [{"sku": "LAMP-01", "name": "Lampe Opaline", "quantity": 2, "unit_price": "40.00",
                   "hs_code": "9405.20", "origin_country": "FR", "weight": "1.2", "weight_unit": "kg"},
                  {"sku": "BULB-E27", "name": "Ampoule", "quantity": 1, "unit_price": "20.00", "weight": "100",
                   "weight_unit": "g"}],
        "amounts": {"subtotal": "100.00", "shipping": "10.00", "duties": "4.00", "taxes": "6.00"},
        "payment_mode": "platform", "guarantee": False,
        "billing_address": address(first_name="Léa", last_name="Martin", email="lea.martin@example.fr"),
        "shipping_address": address(first_name="Léa", last_name="Martin", address_1="3 place Bellecour",
                                    postal_code="69002", email="lea.martin@example.fr"),
        "package_dimensions": {"length": "40", "width": "30", "height": "20", "size_unit": "cm"},
        **overrides,
    }


def import_order(merchant: str, body: dict[str, Any] | None = None, **overrides: Any) -> ApiResponse:
    return call(orders_module.lambda_handler, api_event("POST", "/v1/orders", body=body or order_body(**overrides),
                                                        merchant_id=merchant))


def new_order(merchant: str, **overrides: Any) -> dict[str, Any]:
    response = import_order(merchant, **overrides)
    assert response.status == 201, response.body
    return response.json()


def get_order(merchant: str, order_id: str) -> ApiResponse:
    return call(orders_module.lambda_handler, api_event("GET", "/v1/orders/{order_id}",
                                                        path_params={"order_id": order_id}, merchant_id=merchant))


def list_orders(merchant: str, **query: str) -> ApiResponse:
    return call(orders_module.lambda_handler, api_event("GET", "/v1/orders", query=query, merchant_id=merchant))


def edit(merchant: str, order_id: str, body: Any) -> ApiResponse:
    return call(orders_module.lambda_handler, api_event("PATCH", "/v1/orders/{order_id}", body=body,
                                                        path_params={"order_id": order_id}, merchant_id=merchant))


def add_note(merchant: str, order_id: str, text: str) -> ApiResponse:
    return call(orders_module.lambda_handler, api_event("POST", "/v1/orders/{order_id}/notes", body={"text": text},
                                                        path_params={"order_id": order_id}, merchant_id=merchant))


def activity(merchant: str, order_id: str, **query: str) -> ApiResponse:
    return call(orders_module.lambda_handler, api_event("GET", "/v1/orders/{order_id}/activity", query=query,
                                                        path_params={"order_id": order_id}, merchant_id=merchant))


def add_tracking(merchant: str, order_id: str, tracking_number: str, carrier: str = "colissimo") -> ApiResponse:
    return call(orders_module.lambda_handler, api_event(
        "POST", "/v1/orders/{order_id}/tracking", body={"carrier": carrier, "tracking_number": tracking_number},
        path_params={"order_id": order_id}, merchant_id=merchant))


def refund(merchant: str, order_id: str, body: Any, key: str | None = "key-1") -> ApiResponse:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return call(refund_module.lambda_handler, api_event("POST", "/v1/orders/{order_id}/refunds", body=body,
                                                        headers=headers, path_params={"order_id": order_id},
                                                        merchant_id=merchant))


def refunds_of(merchant: str, order_id: str) -> ApiResponse:
    return call(refund_module.lambda_handler, api_event("GET", "/v1/orders/{order_id}/refunds",
                                                        path_params={"order_id": order_id}, merchant_id=merchant))


def cancel(merchant: str, order_id: str, reason: str = "Customer changed their mind", **fields: Any) -> ApiResponse:
    return call(refund_module.lambda_handler, api_event("POST", "/v1/orders/{order_id}/cancel",
                                                        body={"reason": reason, **fields},
                                                        path_params={"order_id": order_id}, merchant_id=merchant))


def deliver(detail_type: str, detail: dict[str, Any]) -> None:
    """An event as EventBridge hands it to the orders' shipment-events rule."""
    shipment_events.lambda_handler({"version": "0", "id": "evt-1", "detail-type": detail_type, "source": "colis",
                                    "detail": detail}, LambdaContext())
