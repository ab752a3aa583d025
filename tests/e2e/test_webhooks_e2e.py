"""Shipments and signed carrier webhooks over HTTP against the local stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.carrier_payloads import body
from tests.carrier_signing import shippo_query, signed_headers
from tests.e2e.conftest import ApiClient
from tests.factories import shipment_body

pytestmark = pytest.mark.xdist_group("e2e")


def _now(api: ApiClient) -> datetime:
    return datetime.fromisoformat(api.get("/_local/clock").json()["now"].replace("Z", "+00:00"))


def _deliver(local_stack: dict[str, Any], carrier: str, raw: bytes, at: datetime) -> requests.Response:
    hook = local_stack["webhooks"][carrier]
    if carrier == "shippo":
        return requests.post(hook["url"], data=raw, params=shippo_query(hook["secret"]),
                             headers={"Content-Type": "application/json"}, timeout=10)
    headers = {"Content-Type": "application/json", **signed_headers(carrier, hook["secret"], raw, at)}
    return requests.post(hook["url"], data=raw, headers=headers, timeout=10)


@pytest.mark.parametrize("carrier", ["sendcloud", "easypost", "aftership", "shippo", "colis"])
def test_a_signed_delivery_moves_the_parcel(api: ApiClient, local_stack: dict[str, Any], carrier: str) -> None:
    created = api.post("/v1/shipments", json=shipment_body(parcels=2))
    assert created.status_code == 201, created.text
    shipment = created.json()
    number = shipment["parcels"][0]["tracking_number"]
    now = _now(api)
    response = _deliver(local_stack, carrier, body(carrier, number, "in_transit", now - timedelta(minutes=5)), now)
    assert response.status_code == 200, response.text
    current = api.get(f"/v1/shipments/{shipment['id']}").json()
    assert current["parcels"][0]["status"] == "in_transit"
    assert current["parcels"][1]["status"] == "pre_transit" and current["status"] == "pre_transit"
    events = api.get(f"/v1/shipments/{shipment['id']}/events").json()["items"]
    assert [e["status"] for e in events] == ["in_transit"] and events[0]["tracking_number"] == number


def test_wrong_signature_unknown_connection_and_bad_json(local_stack: dict[str, Any], api: ApiClient) -> None:
    hook = local_stack["webhooks"]["colis"]
    raw = body("colis", "3SYZXGE2E000001", "in_transit", datetime.now(UTC))
    assert requests.post(hook["url"], data=raw, headers={"Colis-Signature": "t=1,v1=ab"}, timeout=10).status_code == 401
    unknown = hook["url"].rsplit("/", 1)[0] + "/con_nope"
    assert requests.post(unknown, data=raw, timeout=10).status_code == 404
    now = _now(api)
    garbage = b"{]"
    response = requests.post(hook["url"], data=garbage, headers=signed_headers("colis", hook["secret"], garbage, now),
                             timeout=10)
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/problem+json")


def test_another_merchant_sees_nothing(api: ApiClient, second_api: ApiClient) -> None:
    api.post("/v1/shipments", json=shipment_body())
    shipment = api.post("/v1/shipments", json=shipment_body()).json()
    assert second_api.get(f"/v1/shipments/{shipment['id']}").status_code == 404
    listed = api.get("/v1/shipments", params={"limit": 1})
    cursor = listed.json()["next_cursor"]
    assert cursor
    assert second_api.get("/v1/shipments", params={"cursor": cursor}).status_code == 400
    assert shipment["id"] not in [s["id"] for s in second_api.get("/v1/shipments").json()["items"]]
