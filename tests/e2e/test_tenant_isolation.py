"""Tenant isolation (issue 9, item 5) over HTTP against the local stack.

Merchant A makes one of everything; merchant B then walks every `/v1/` route of openapi.json with
A's ids, cursors and keys. B must get exactly what it gets for an id that exists nowhere (404
problem+json, or the route's id-independent answer), never A's data; A's resources are unchanged
afterwards; B's lists and searches never show A's ids; a cursor of A's is 400 for B. The route list
comes from openapi.json: a new `/v1/` route without an isolation case fails this test.
"""

from __future__ import annotations

import json
import random
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ApiClient

pytestmark = pytest.mark.xdist_group("e2e")

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")
WAIT_SECONDS = 60


def _address(tag: str) -> dict[str, Any]:
    return {"first_name": "Anouk", "last_name": f"Tenant{tag}", "address_1": f"Isolatiestraat {tag}",
            "city": "Gent", "postal_code": "9000", "country": "BE", "email": f"anouk.{tag}@example.be",
            "phone": "+32470000000", "language": "nl"}


def _shipment_body(tag: str, numbers: list[str], **extra: Any) -> dict[str, Any]:
    return {"recipient": _address(tag), "batch_id": f"iso-{tag}",
            "return_address": {"name": "Shop A", "address_1": "1 Kaai", "city": "Gent", "postal_code": "9000",
                               "country": "BE"},
            "package": {"type": "parcel", "size_unit": "cm", "length": "30", "width": "20", "height": "10",
                        "weight_unit": "kg", "weight": "1.2", "contents": "merchandise", "value": "49.90",
                        "currency": "EUR"},
            "postage_type": "standard", "carrier": "bpost",
            "parcels": [{"tracking_number": number} for number in numbers], **extra}


def _order_body(tag: str, number: str, email: str) -> dict[str, Any]:
    return {"order_number": number, "store": "shopify",
            "customer": {"username": f"iso-{tag}", "email": email, "first_name": "Anouk", "last_name": f"Tenant{tag}"},
            "currency": "EUR", "lines": [{"sku": "SKU-1", "name": "Lamp", "quantity": 2, "unit_price": "50.00",
                                          "weight": "1.2"}],
            "amounts": {"subtotal": "100.00", "shipping": "10.00", "duties": "0.00", "taxes": "0.00"},
            "payment_mode": "platform", "billing_address": _address(tag), "shipping_address": _address(tag)}


CSV_HEADER = ("Username,Email,First Name,Last Name,Full Name,Company Name,Phone,Address Line 1,Address Line 2,City,"
              "State,Postal Code,Country Code,Tags")


def _csv(*rows: tuple[str, ...]) -> bytes:
    width = CSV_HEADER.count(",") + 1
    return "\r\n".join([CSV_HEADER, *(",".join([*row, *[""] * (width - len(row))]) for row in rows), ""]).encode()


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.status_code} " \
                                           f"{response.text[:400]}"
    return response.json() if response.content else None


def _wait(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (value := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)
    return value


def _stranger(real_id: str) -> str:
    """An id of the same shape that exists nowhere."""
    prefix, _, rest = real_id.partition("_")
    return f"{prefix}_" + "".join(random.choices(string.digits + string.ascii_lowercase, k=len(rest)))


@dataclass
class World:
    """What merchant A made (ids, numbers, cursors), and the other merchant's own records."""

    tag: str
    a: dict[str, Any]
    b: dict[str, Any]
    private: list[str]  # A's values B must never see: ids, tracking and order numbers, emails, names

    def __getitem__(self, name: str) -> Any:
        return self.a[name]


@pytest.fixture(scope="module")
def world(local_stack: dict[str, Any]) -> World:
    tag = uuid.uuid4().hex[:8]
    a = ApiClient(local_stack["api_url"], local_stack["api_key"])
    b = ApiClient(local_stack["api_url"], local_stack["second_merchant"]["api_key"])
    numbers = [f"ISO{tag.upper()}{n}" for n in range(3)]
    ids: dict[str, Any] = {"numbers": numbers}
    shipment = _ok(a.post("/v1/shipments", json=_shipment_body(tag, numbers[:2])), 201)
    ids["shipment"], ids["shipment_2"] = shipment["id"], _ok(
        a.post("/v1/shipments", json=_shipment_body(tag, [f"ISO{tag.upper()}X"])), 201)["id"]
    email = f"anouk.{tag}@example.be"
    order = _ok(a.post("/v1/orders", json=_order_body(tag, f"ISO-{tag}", email)), 201)
    ids["order"], ids["order_number"], ids["customer"] = order["id"], order["order_number"], order["customer_id"]
    ids["order_email"] = email
    _ok(a.post("/v1/orders", json=_order_body(tag, f"ISO-{tag}-2", email)), 201)
    _ok(a.post(f"/v1/orders/{order['id']}/notes", json={"text": f"note {tag}"}), 201)
    _ok(a.post(f"/v1/orders/{order['id']}/tracking", json={"carrier": "bpost", "tracking_number": numbers[2]}), 201)
    ids["refund_key"] = f"iso-{tag}"
    ids["refund_body"] = {"amounts": {"subtotal": "10.00"}, "reason": "damaged"}
    ids["refund"] = _ok(a.post(f"/v1/orders/{order['id']}/refunds", json=ids["refund_body"],
                               headers={"Idempotency-Key": ids["refund_key"]}), 201)["id"]
    customer = _ok(a.post("/v1/customers", json={"username": f"iso-c-{tag}", "email": f"c.{tag}@example.be",
                                                 "first_name": "Anouk", "address": _address(tag)}), 201)
    ids["customer_2"], ids["customer_email"] = customer["id"], f"c.{tag}@example.be"
    csv = _csv((f"iso-i-{tag}", f"i.{tag}@example.be", "Anouk", f"Tenant{tag}"))
    ids["import"] = _ok(a.post("/v1/customer-imports", data=csv, headers={"Content-Type": "text/csv"}), 202)["id"]
    ids["export"] = _ok(a.post("/v1/exports", json={"type": "shipments", "filters": {"batch_id": f"iso-{tag}"}}),
                        202)["id"]
    _wait("A's export", lambda: a.get(f"/v1/exports/{ids['export']}").json()["status"] == "ready")
    ids["api_key"] = _ok(a.post("/v1/api-keys", json={}), 201)
    ids["connection"] = _ok(a.post("/v1/connections", json={"carrier": "sendcloud"}), 201)
    _wait("A's import", lambda: a.get(f"/v1/customer-imports/{ids['import']}").json()["status"] == "done")
    ids["endpoint"] = _ok(a.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/colis-isolation",
                                                               "events": ["*"], "description": f"iso {tag}"}), 201)
    _ok(a.post(f"/v1/webhook-endpoints/{ids['endpoint']['id']}/test"), 202)
    ids["delivery"] = _wait("A's ping attempt", lambda: (lambda items: items[0]["id"] if items else None)(
        _ok(a.get(f"/v1/webhook-endpoints/{ids['endpoint']['id']}/deliveries"))["items"]))
    # Cursors of A's lists (limit=1 on lists with at least two items).
    ids["cursors"] = {
        "/v1/shipments": a.get("/v1/shipments", params={"limit": 1}).json()["next_cursor"],
        "/v1/orders": a.get("/v1/orders", params={"limit": 1}).json()["next_cursor"],
        "/v1/customers": a.get("/v1/customers", params={"limit": 1}).json()["next_cursor"],
        f"/v1/orders/{order['id']}/activity": a.get(f"/v1/orders/{order['id']}/activity",
                                                    params={"limit": 1}).json()["next_cursor"],
    }
    assert all(ids["cursors"].values()), ids["cursors"]
    ids["settings"] = _ok(a.get("/v1/settings"))

    b_customer = _ok(b.post("/v1/customers", json={"username": f"iso-b-{tag}", "email": f"b.{tag}@example.be"}), 201)
    b_order = _ok(b.post("/v1/orders", json=_order_body(f"b{tag}", f"ISO-B-{tag}", f"bo.{tag}@example.be")), 201)
    private = [shipment["id"], ids["shipment_2"], order["id"], customer["id"], order["customer_id"], ids["refund"],
               ids["import"], ids["export"], ids["api_key"]["id"], ids["api_key"]["key"], ids["connection"]["id"],
               ids["connection"]["secret"], ids["endpoint"]["id"], ids["endpoint"]["secret"], ids["delivery"], *numbers, order["order_number"], email, ids["customer_email"],
               f"Tenant{tag}", f"Isolatiestraat {tag}"]
    a.close()
    b.close()
    return World(tag, ids, {"customer": b_customer["id"], "order": b_order["id"]}, private)


def snapshot(api: ApiClient, world: World) -> dict[str, Any]:
    """A's resources as A reads them (an export's link and an import's rejected-rows link, signed
    anew at each read, left out)."""
    order, shipment, customer = world["order"], world["shipment"], world["customer"]
    export = _ok(api.get(f"/v1/exports/{world['export']}"))
    report = _ok(api.get(f"/v1/customer-imports/{world['import']}"))
    return {
        "shipment": _ok(api.get(f"/v1/shipments/{shipment}")),
        "shipment_2": _ok(api.get(f"/v1/shipments/{world['shipment_2']}")),
        "events": _ok(api.get(f"/v1/shipments/{shipment}/events")),
        "order": _ok(api.get(f"/v1/orders/{order}")), "activity": _ok(api.get(f"/v1/orders/{order}/activity")),
        "refunds": _ok(api.get(f"/v1/orders/{order}/refunds")),
        "customer": _ok(api.get(f"/v1/customers/{customer}")),
        "customer_2": _ok(api.get(f"/v1/customers/{world['customer_2']}")),
        "import": {k: v for k, v in report.items() if k != "errors_url"},
        "export": {k: v for k, v in export.items() if k not in ("download_url", "expires_at")},
        "api_keys": sorted(k["id"] for k in _ok(api.get("/v1/api-keys"))["items"]),
        "connections": sorted(c["id"] for c in _ok(api.get("/v1/connections"))["items"]),
        "settings": _ok(api.get("/v1/settings")),
        "endpoint": _ok(api.get(f"/v1/webhook-endpoints/{world['endpoint']['id']}")),
        "deliveries": sorted(d["id"] for d in _ok(api.get(
            f"/v1/webhook-endpoints/{world['endpoint']['id']}/deliveries"))["items"]),
    }


@dataclass(frozen=True)
class Probe:
    """One request of B's: `path` with A's ids in it, and how to build the same with unknown ids."""

    method: str
    route: str  # the openapi path it walks
    path: str
    body: Any = None
    headers: dict[str, str] | None = None
    query: dict[str, Any] | None = None
    expect_not_found: bool = True


def probes(w: World) -> list[Probe]:
    shp, ord_, cus, a = w["shipment"], w["order"], w["customer"], w.a
    endpoint = w["endpoint"]["id"]
    address = {"shipping_address": _address("mallory")}
    refund = w["refund_body"]
    return [
        Probe("GET", "/v1/shipments/{shipment_id}", f"/v1/shipments/{shp}"),
        Probe("DELETE", "/v1/shipments/{shipment_id}", f"/v1/shipments/{w['shipment_2']}"),
        Probe("GET", "/v1/shipments/{shipment_id}/events", f"/v1/shipments/{shp}/events"),
        Probe("GET", "/v1/shipments/{shipment_id}/notifications", f"/v1/shipments/{shp}/notifications"),
        Probe("POST", "/v1/shipments/{shipment_id}/void-label", f"/v1/shipments/{shp}/void-label"),
        Probe("POST", "/v1/shipments/{shipment_id}/archive", f"/v1/shipments/{shp}/archive"),
        Probe("GET", "/v1/orders/{order_id}", f"/v1/orders/{ord_}"),
        Probe("PATCH", "/v1/orders/{order_id}", f"/v1/orders/{ord_}", body=address),
        Probe("POST", "/v1/orders/{order_id}/notes", f"/v1/orders/{ord_}/notes", body={"text": "mallory was here"}),
        Probe("GET", "/v1/orders/{order_id}/activity", f"/v1/orders/{ord_}/activity"),
        Probe("POST", "/v1/orders/{order_id}/tracking", f"/v1/orders/{ord_}/tracking",
              body={"carrier": "bpost", "tracking_number": f"MAL{w.tag.upper()}"}),
        Probe("GET", "/v1/orders/{order_id}/refunds", f"/v1/orders/{ord_}/refunds"),
        Probe("POST", "/v1/orders/{order_id}/refunds", f"/v1/orders/{ord_}/refunds", body=refund,
              headers={"Idempotency-Key": a["refund_key"]}),  # A's own key: no replay of A's answer either
        Probe("POST", "/v1/orders/{order_id}/cancel", f"/v1/orders/{ord_}/cancel", body={"reason": "mallory"}),
        Probe("GET", "/v1/customers/{customer_id}", f"/v1/customers/{cus}"),
        Probe("PATCH", "/v1/customers/{customer_id}", f"/v1/customers/{cus}", body={"first_name": "Mallory"}),
        # Customers are never deleted: 405 for any id, the same for A's as for none.
        Probe("DELETE", "/v1/customers/{customer_id}", f"/v1/customers/{cus}", expect_not_found=False),
        Probe("PUT", "/v1/customers/{customer_id}/tags", f"/v1/customers/{cus}/tags", body={"tags": ["mallory"]}),
        Probe("POST", "/v1/customers/{customer_id}/erase", f"/v1/customers/{cus}/erase"),
        # Merges both ways: A's record into B's, and B's into A's.
        Probe("POST", "/v1/customers/{customer_id}/merge", f"/v1/customers/{w.b['customer']}/merge",
              body={"absorb": [w["customer_2"]]}),
        Probe("POST", "/v1/customers/{customer_id}/merge", f"/v1/customers/{cus}/merge",
              body={"absorb": [w.b["customer"]]}),
        Probe("GET", "/v1/customer-imports/{import_id}", f"/v1/customer-imports/{w['import']}"),
        Probe("GET", "/v1/exports/{export_id}", f"/v1/exports/{w['export']}"),
        Probe("GET", "/v1/exports/{export_id}/download", f"/v1/exports/{w['export']}/download"),
        Probe("DELETE", "/v1/api-keys/{key_id}", f"/v1/api-keys/{w['api_key']['id']}"),
        Probe("DELETE", "/v1/connections/{connection_id}", f"/v1/connections/{w['connection']['id']}"),
        Probe("GET", "/v1/webhook-endpoints/{endpoint_id}", f"/v1/webhook-endpoints/{endpoint}"),
        Probe("PATCH", "/v1/webhook-endpoints/{endpoint_id}", f"/v1/webhook-endpoints/{endpoint}",
              body={"url": "https://mallory.example/hook"}),
        Probe("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries", f"/v1/webhook-endpoints/{endpoint}/deliveries"),
        Probe("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
              f"/v1/webhook-endpoints/{endpoint}/rotate-secret"),
        Probe("POST", "/v1/webhook-endpoints/{endpoint_id}/test", f"/v1/webhook-endpoints/{endpoint}/test"),
        Probe("POST", "/v1/webhook-deliveries/{delivery_id}/retry", f"/v1/webhook-deliveries/{w['delivery']}/retry"),
        Probe("DELETE", "/v1/webhook-endpoints/{endpoint_id}", f"/v1/webhook-endpoints/{endpoint}"),
        # Collection routes that take one of A's ids in the body.
        Probe("POST", "/v1/exports", "/v1/exports", body={"type": "customer_data", "customer_id": cus}),
    ]


def _send(api: ApiClient, probe: Probe, path: str, body: Any) -> requests.Response:
    return api.request(probe.method, path, json=body, headers=probe.headers, params=probe.query,
                       allow_redirects=False)


def _swap_ids(value: Any, world: World) -> tuple[Any, dict[str, str]]:
    """`value` (path or body) with each of A's ids replaced by an id that exists nowhere."""
    text = json.dumps(value)
    swaps = {}
    for real in sorted({v for v in world.private if "_" in v and v.split("_")[0] in
                        ("shp", "ord", "cus", "ref", "imp", "exp", "key", "con", "whe", "whd")}, key=len, reverse=True):
        if real in text:
            swaps[real] = _stranger(real)
            text = text.replace(real, swaps[real])
    return json.loads(text), swaps


def _normalised(response: requests.Response, swaps: dict[str, str]) -> tuple[int, str, str]:
    text = response.text
    for real, fake in swaps.items():
        text = text.replace(real, "<id>").replace(fake, "<id>")
    return response.status_code, response.headers.get("content-type", ""), text


def test_every_v1_route_has_an_isolation_case(world: World) -> None:
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    routes = {(method.upper(), path) for path, item in document["paths"].items() if path.startswith("/v1/")
              for method in item if method in METHODS}
    walked = {(p.method, p.route) for p in probes(world)} | {(m, r) for m, r, _ in COLLECTION_CASES}
    assert routes - walked == set(), "routes without an isolation case"
    assert walked - routes == set(), "isolation cases of routes that no longer exist"


def test_the_other_merchant_gets_not_found_for_every_id(world: World, api: ApiClient, second_api: ApiClient) -> None:
    before = snapshot(api, world)
    failures = []
    for probe in probes(world):
        response = _send(second_api, probe, probe.path, probe.body)
        (unknown_path, unknown_body), swaps = _swap_ids([probe.path, probe.body], world)
        control = _send(second_api, probe, unknown_path, unknown_body)
        seen = [value for value in world.private if value in response.text and value not in probe.path
                and value not in json.dumps(probe.body)]
        if probe.expect_not_found and (response.status_code != 404 or not response.headers.get(
                "content-type", "").startswith("application/problem+json")):
            failures.append(f"{probe.method} {probe.path}: {response.status_code} {response.text[:300]}")
        elif _normalised(response, swaps) != _normalised(control, swaps):
            failures.append(f"{probe.method} {probe.path}: answers unlike an unknown id: "
                            f"{response.status_code} {response.text[:200]} vs {control.status_code} {control.text[:200]}")
        elif seen:
            failures.append(f"{probe.method} {probe.path}: shows A's {seen}")
    assert failures == []
    time.sleep(2)  # anything B's requests could have set off in the background (events, workers) has run
    assert snapshot(api, world) == before
    # A's new key still authenticates; A's connection still takes deliveries (404 would mean deleted).
    key_client = ApiClient(api.base_url, world["api_key"]["key"])
    assert key_client.get("/v1/settings").status_code == 200


def _items(response: requests.Response) -> str:
    return json.dumps(_ok(response))


# (method, route, check): the collection routes, whose isolation is about what B's answer holds.
def _lists_hold_nothing_of_a(w: World, b: ApiClient) -> None:
    for path, query in [("/v1/shipments", {}), ("/v1/shipments", {"q": w["numbers"][0]}),
                        ("/v1/shipments", {"batch_id": f"iso-{w.tag}"}), ("/v1/orders", {}),
                        ("/v1/orders", {"order_number": w["order_number"]}), ("/v1/orders", {"customer_id": w["customer"]}),
                        ("/v1/customers", {}), ("/v1/customers", {"email": w["customer_email"]}),
                        ("/v1/customers", {"username": f"iso-c-{w.tag}"}), ("/v1/customers/duplicates", {}),
                        ("/v1/customers", {"q": w["customer_email"]}), ("/v1/customers", {"q": f"iso-c-{w.tag}"}),
                        ("/v1/orders", {"q": w["order_number"]}), ("/v1/orders", {"q": w["customer_email"]}),
                        ("/v1/api-keys", {}), ("/v1/connections", {}), ("/v1/settings", {}),
                        ("/v1/exports", {}), ("/v1/customer-imports", {}), ("/v1/webhook-endpoints", {}),
                        ("/v1/customers/import-template", {})]:
        response = b.get(path, params=query)
        assert response.status_code in (200, 404), (path, query, response.status_code, response.text[:300])
        leaked = [value for value in w.private if value in response.text and value not in json.dumps(query)]
        assert leaked == [], (path, query, leaked)
        if response.status_code == 200 and "json" in response.headers.get("content-type", "") and query:
            assert response.json().get("items", []) == [], (path, query)


def _creations_stay_with_b(w: World, b: ApiClient) -> None:
    # A's tracking number, order number and email are free for B: uniqueness is per merchant, and a
    # 409 would tell B that A has them.
    shipment = b.post("/v1/shipments", json=_shipment_body(f"b{w.tag}", [w["numbers"][0]], order_id=w["order"]))
    assert shipment.status_code in (201, 404, 422), shipment.text
    if shipment.status_code == 201:
        assert shipment.json()["order_id"] in (None, w["order"])
    order = b.post("/v1/orders", json=_order_body(f"b2{w.tag}", w["order_number"], w["order_email"]))
    assert order.status_code == 201, order.text
    assert order.json()["customer_id"] not in (w["customer"], w["customer_2"])
    customer = b.post("/v1/customers", json={"username": f"iso-c-{w.tag}", "email": w["customer_email"]})
    assert customer.status_code == 201, customer.text
    assert customer.json()["id"] not in (w["customer"], w["customer_2"])
    # B's own refund under A's idempotency key is B's refund, not a replay of A's answer.
    refund = b.post(f"/v1/orders/{order.json()['id']}/refunds", json=w["refund_body"],
                    headers={"Idempotency-Key": w["refund_key"]})
    assert refund.status_code == 201 and "Idempotent-Replayed" not in refund.headers, refund.text
    assert refund.json()["id"] != w["refund"] and refund.json()["order_id"] == order.json()["id"]
    csv = _csv((f"iso-c-{w.tag}", w["customer_email"]))
    started = _ok(b.post("/v1/customer-imports", data=csv, headers={"Content-Type": "text/csv"}), 202)
    job = _wait("B's import", lambda: (lambda j: j if j["status"] in ("done", "failed") else None)(
        _ok(b.get(f"/v1/customer-imports/{started['id']}"))))
    assert job["status"] == "done", job
    b_export = _ok(b.post("/v1/exports", json={"type": "shipments", "filters": {"batch_id": f"iso-{w.tag}"}}), 202)
    _wait("B's export", lambda: b.get(f"/v1/exports/{b_export['id']}").json()["status"] == "ready")
    download = b.get(f"/v1/exports/{b_export['id']}/download")
    assert download.status_code == 200
    assert w["numbers"][1] not in download.text and w["shipment"] not in download.text
    _ok(b.post("/v1/api-keys", json={}), 201)
    _ok(b.post("/v1/connections", json={"carrier": "sendcloud"}), 201)
    endpoint = _ok(b.post("/v1/webhook-endpoints", json={"url": "https://mallory.example/hook", "events": ["*"]}), 201)
    assert endpoint["id"] != w["endpoint"]["id"] and endpoint["secret"] != w["endpoint"]["secret"]
    _ok(b.patch("/v1/settings", json={"brand": {"name": f"Mallory {w.tag}"}}))


COLLECTION_CASES: list[tuple[str, str, Callable[[World, ApiClient], None]]] = [
    ("GET", "/v1/shipments", _lists_hold_nothing_of_a), ("GET", "/v1/orders", _lists_hold_nothing_of_a),
    ("GET", "/v1/customers", _lists_hold_nothing_of_a), ("GET", "/v1/customers/duplicates", _lists_hold_nothing_of_a),
    ("GET", "/v1/customers/import-template", _lists_hold_nothing_of_a),
    ("GET", "/v1/api-keys", _lists_hold_nothing_of_a), ("GET", "/v1/connections", _lists_hold_nothing_of_a),
    ("GET", "/v1/settings", _lists_hold_nothing_of_a),
    ("GET", "/v1/exports", _lists_hold_nothing_of_a), ("GET", "/v1/customer-imports", _lists_hold_nothing_of_a),
    ("GET", "/v1/webhook-endpoints", _lists_hold_nothing_of_a), ("POST", "/v1/webhook-endpoints", _creations_stay_with_b),
    ("POST", "/v1/shipments", _creations_stay_with_b), ("POST", "/v1/orders", _creations_stay_with_b),
    ("POST", "/v1/customers", _creations_stay_with_b), ("POST", "/v1/customer-imports", _creations_stay_with_b),
    ("POST", "/v1/api-keys", _creations_stay_with_b), ("POST", "/v1/connections", _creations_stay_with_b),
    ("PATCH", "/v1/settings", _creations_stay_with_b),
]


def test_lists_searches_and_creations_of_the_other_merchant_hold_nothing_of_a(
        world: World, api: ApiClient, second_api: ApiClient) -> None:
    before = snapshot(api, world)
    for check in dict.fromkeys(check for _, _, check in COLLECTION_CASES):
        check(world, second_api)
    time.sleep(2)  # B's ShipmentCreated naming A's order has reached the orders' rule by now
    assert snapshot(api, world) == before


def test_a_cursor_of_another_merchant_is_a_bad_request(world: World, api: ApiClient, second_api: ApiClient) -> None:
    for path, cursor in world["cursors"].items():
        mine = path.replace(world["order"], world.b["order"])
        response = second_api.get(mine, params={"cursor": cursor, "limit": 1})
        assert response.status_code == 400, (mine, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json")
        assert api.get(path, params={"cursor": cursor, "limit": 1}).status_code == 200  # a good cursor for A


TRACKING_FIELDS = {"tracking_number", "carrier", "carrier_name", "carrier_url", "status", "shipment_status",
                   "parcel_count", "estimated_delivery", "events", "merchant", "language"}


def test_the_public_tracking_page_shows_only_the_tracking(world: World, api: ApiClient, second_api: ApiClient,
                                                            public_api: ApiClient, local_stack: dict[str, Any]) -> None:
    """Public by design (API.md "Public tracking"): the parcel's tracking and the merchant's brand,
    nothing of the recipient, the order or the merchant's ids."""
    number = f"ISO{world.tag.upper()}X"  # A's second shipment, one parcel; B has no such number
    slug = local_stack["tracking_slug"]
    page = _ok(public_api.get(f"/track/{slug}/{number}", headers={"Accept": "application/json"}))
    assert set(page) <= TRACKING_FIELDS, set(page) - TRACKING_FIELDS
    assert (page["tracking_number"], page["parcel_count"]) == (number, 1)
    html = public_api.get(f"/track/{slug}/{number}")
    assert html.status_code == 200
    for shown in (json.dumps(page), html.text):
        leaked = [value for value in world.private if value in shown and not number.startswith(value)]
        assert leaked == [], leaked
        assert "Anouk" not in shown and "9000" not in shown and "+32470000000" not in shown
    # DESIGN.md §1.2: a page shows its slug's merchant's shipment only; B's shipment with A's
    # number lives under B's slug and changes nothing under A's.
    shared_number = world["numbers"][1]
    before = _ok(public_api.get(f"/track/{slug}/{shared_number}", headers={"Accept": "application/json"}))
    _ok(second_api.post("/v1/shipments", json=_shipment_body(f"t{world.tag}", [shared_number])), 201)
    after = _ok(public_api.get(f"/track/{slug}/{shared_number}", headers={"Accept": "application/json"}))
    assert after == before
    theirs = _ok(public_api.get(f"/track/{local_stack['second_merchant']['tracking_slug']}/{shared_number}",
                                headers={"Accept": "application/json"}))
    assert theirs["parcel_count"] == 1 and not [v for v in world.private if v in json.dumps(theirs)
                                                and v != shared_number]
