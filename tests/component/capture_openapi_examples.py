"""Captures real request/response pairs for the OpenAPI examples in `cli/openapi_examples.json`.

Not collected by the suite (its name does not start with `test_`); run it on purpose when a route is
added or a response changes shape (`tests/unit/test_openapi_document.py` fails until its examples
validate):

    .venv/bin/python -m pytest -p no:xdist tests/component/capture_openapi_examples.py

It writes `artifacts/captured_openapi_examples.json`. Copy the operations you need into
`cli/openapi_examples.json`, replacing every secret, key and presigned signature with an obvious fake
(the committed examples must never hold a real credential), then `python -m cli.openapi --write`.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli.openapi import template_routes
from shared.merchants.store import MerchantRepository
from tests.apigw import api_event, call
from tests.factories import address, shipment_body
from tests.least_privilege import REGION

OUT = Path(__file__).resolve().parents[2] / "artifacts" / "captured_openapi_examples.json"
captured: dict[str, Any] = {}
ROUTES = template_routes()


def op(method: str, resource: str, *, body: Any = None, path: dict[str, str] | None = None,
       query: dict[str, str] | None = None, headers: dict[str, str] | None = None, merchant: str,
       record: bool = True) -> Any:
    module = importlib.import_module(ROUTES[(method, resource)])
    response = call(module.lambda_handler, api_event(method, resource, path_params=path, body=body, query=query,
                                                     headers=headers, merchant_id=merchant))
    assert response.status < 400, (method, resource, response.status, response.body)
    entry = captured.setdefault(f"{method} {resource}", {"responses": {}})
    if record:
        if body is not None and not isinstance(body, str):
            entry["request"] = body
        if response.body and response.headers.get("content-type", "").startswith("application/json"):
            entry["responses"][str(response.status)] = response.json()
        elif response.body and "csv" in response.headers.get("content-type", ""):
            entry["responses"][str(response.status)] = response.body
    return response.json() if response.body and response.headers.get("content-type", "").startswith(
        "application/json") else response


def test_capture(aws_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="colis-OutboundQueue")["QueueUrl"]
    monkeypatch.setenv("OUTBOUND_QUEUE_URL", url)
    m = MerchantRepository().create("Atelier Lune").id
    # settings
    op("GET", "/v1/settings", merchant=m)
    op("PATCH", "/v1/settings", body={"brand": {"name": "Atelier Lune", "color": "#1a2b3c"},
                                      "support_email": "help@atelier-lune.example",
                                      "notification_email": "tech@atelier-lune.example", "default_language": "fr"},
       merchant=m)
    # api keys, connections
    key = op("POST", "/v1/api-keys", body={"name": "Storefront", "scope": "write"}, merchant=m)
    op("GET", "/v1/api-keys", merchant=m)
    op("DELETE", "/v1/api-keys/{key_id}", path={"key_id": key["id"]}, merchant=m)
    conn = op("POST", "/v1/connections", body={"carrier": "sendcloud"}, merchant=m)
    op("GET", "/v1/connections", merchant=m)
    op("DELETE", "/v1/connections/{connection_id}", path={"connection_id": conn["id"]}, merchant=m)
    # shipments
    body = shipment_body(store="shopify")
    body["parcels"] = [{"tracking_number": "6A12345678901", "weight": "0.8"},
                       {"tracking_number": "6A12345678902", "weight": "0.4"}]
    shp = op("POST", "/v1/shipments", body=body, merchant=m)
    op("GET", "/v1/shipments/{shipment_id}", path={"shipment_id": shp["id"]}, merchant=m)
    op("GET", "/v1/shipments", query={"status": "pre_transit", "limit": "10"}, merchant=m)
    op("GET", "/v1/shipments/{shipment_id}/events", path={"shipment_id": shp["id"]}, merchant=m)
    op("GET", "/v1/shipments/{shipment_id}/notifications", path={"shipment_id": shp["id"]}, merchant=m)
    for action in ("void-label", "archive"):
        other = op("POST", "/v1/shipments", body=shipment_body(), merchant=m, record=False)
        op("POST", f"/v1/shipments/{{shipment_id}}/{action}", path={"shipment_id": other["id"]}, merchant=m)
    other = op("POST", "/v1/shipments", body=shipment_body(), merchant=m, record=False)
    op("DELETE", "/v1/shipments/{shipment_id}", path={"shipment_id": other["id"]}, merchant=m)
    # orders
    from tests.component.orders_support import order_body

    order = op("POST", "/v1/orders", body=order_body(order_number="#1042"), merchant=m)
    oid = order["id"]
    op("GET", "/v1/orders/{order_id}", path={"order_id": oid}, merchant=m)
    op("GET", "/v1/orders", query={"status": "paid", "limit": "10"}, merchant=m)
    op("PATCH", "/v1/orders/{order_id}", path={"order_id": oid},
       body={"shipping_address": address(first_name="Léa", last_name="Martin", address_1="8 rue Mercière",
                                         postal_code="69002", email="lea.martin@example.fr")}, merchant=m)
    op("POST", "/v1/orders/{order_id}/notes", path={"order_id": oid},
       body={"text": "Customer asked for gift wrapping."}, merchant=m)
    op("POST", "/v1/orders/{order_id}/refunds", path={"order_id": oid}, headers={"Idempotency-Key": "refund-1042-1"},
       body={"amounts": {"shipping": "10.00"}, "amount_currency": "checkout", "reason": "damaged",
             "note": "Box crushed in transit."}, merchant=m)
    op("GET", "/v1/orders/{order_id}/refunds", path={"order_id": oid}, merchant=m)
    op("POST", "/v1/orders/{order_id}/tracking", path={"order_id": oid},
       body={"carrier": "colissimo", "tracking_number": "6A12345678950"}, merchant=m)
    op("GET", "/v1/orders/{order_id}/activity", path={"order_id": oid}, merchant=m)
    second = op("POST", "/v1/orders", body=order_body(order_number="#1043"), merchant=m, record=False)
    op("POST", "/v1/orders/{order_id}/cancel", path={"order_id": second["id"]},
       body={"reason": "Out of stock", "notify_customer": True, "source": "merchant"}, merchant=m)
    # customers
    cus = op("POST", "/v1/customers", body={"username": "camille.dupont", "email": "camille@example.fr",
                                           "first_name": "Camille", "last_name": "Dupont", "phone": "+33698765432",
                                           "address": address(), "tags": ["vip"]}, merchant=m)
    cid = cus["id"]
    op("GET", "/v1/customers/{customer_id}", path={"customer_id": cid}, merchant=m)
    op("GET", "/v1/customers", query={"tag": "vip", "limit": "10"}, merchant=m)
    op("PATCH", "/v1/customers/{customer_id}", path={"customer_id": cid}, body={"company": "Dupont & Fils"},
       merchant=m)
    op("PUT", "/v1/customers/{customer_id}/tags", path={"customer_id": cid}, body={"tags": ["vip", "wholesale"]},
       merchant=m)
    dup = op("POST", "/v1/customers", body={"email": "c.dupont@example.com", "first_name": "Camille",
                                           "last_name": "Dupont", "address": address()}, merchant=m, record=False)
    op("GET", "/v1/customers/duplicates", merchant=m)
    op("POST", "/v1/customers/{customer_id}/merge", path={"customer_id": cid}, body={"absorb": [dup["id"]]},
       merchant=m)
    op("GET", "/v1/customers/import-template", merchant=m)
    gone = op("POST", "/v1/customers", body={"email": "old@example.com", "first_name": "Ana"}, merchant=m,
              record=False)
    op("POST", "/v1/customers/{customer_id}/erase", path={"customer_id": gone["id"]}, merchant=m)
    # imports
    from tests.component.customer_support import csv_bytes, person

    data = csv_bytes([person("lea", "lea.martin@example.fr", **{"First Name": "Léa", "Last Name": "Martin",
                                                               "Address Line 1": "3 place Bellecour",
                                                               "City": "Lyon", "Postal Code": "69002",
                                                               "Country Code": "FR"})])
    imp = op("POST", "/v1/customer-imports", body=data.decode("utf-8"), headers={"Content-Type": "text/csv"},
             merchant=m)
    op("GET", "/v1/customer-imports/{import_id}", path={"import_id": imp["id"]}, merchant=m)
    op("GET", "/v1/customer-imports", merchant=m)
    # exports
    exp = op("POST", "/v1/exports", body={"type": "shipments", "format": "csv",
                                         "filters": {"created_from": "2026-11-01", "status": ["delivered"]}},
             merchant=m)
    op("GET", "/v1/exports/{export_id}", path={"export_id": exp["id"]}, merchant=m)
    op("GET", "/v1/exports", merchant=m)
    # webhook endpoints
    whe = op("POST", "/v1/webhook-endpoints", body={"url": "https://shop.example.com/colis/webhooks",
                                                   "events": ["shipment.delivered", "order.cancelled"],
                                                   "description": "Storefront order sync"}, merchant=m)
    wid = whe["id"]
    op("GET", "/v1/webhook-endpoints", merchant=m)
    op("GET", "/v1/webhook-endpoints/{endpoint_id}", path={"endpoint_id": wid}, merchant=m)
    op("PATCH", "/v1/webhook-endpoints/{endpoint_id}", path={"endpoint_id": wid}, body={"events": ["*"]},
       merchant=m)
    op("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret", path={"endpoint_id": wid}, merchant=m)
    op("POST", "/v1/webhook-endpoints/{endpoint_id}/test", path={"endpoint_id": wid}, merchant=m)
    op("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries", path={"endpoint_id": wid}, merchant=m)
    op("DELETE", "/v1/webhook-endpoints/{endpoint_id}", path={"endpoint_id": wid}, merchant=m)
    # public tracking (JSON) and a carrier delivery
    from functions.tracking import handler as tracking_module
    from shared.platform import clock
    from tests.component.notify_pipeline import colis_connection, colis_delivery
    from tests.factories import colis_event

    connection = colis_connection(m)
    answer = colis_delivery(connection, colis_event("6A12345678901", "in_transit", clock.now(), location="Lyon, FR"))
    assert answer.status == 200, answer.body
    captured["POST /webhooks/{carrier}/{connection_id}"] = {"responses": {"200": answer.json()}}
    slug = MerchantRepository().get(m).settings.tracking_slug
    page = call(tracking_module.lambda_handler, api_event(
        "GET", "/track/{tracking_slug}/{tracking_number}", path_params={"tracking_slug": slug,
                                                                       "tracking_number": "6A12345678901"},
        headers={"Accept": "application/json"}))
    assert page.status == 200, page.body
    captured["GET /track/{tracking_slug}/{tracking_number}"] = {"responses": {"200": page.json()}}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(captured, indent=1, ensure_ascii=False))
