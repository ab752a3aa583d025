"""Webhook endpoints API (API.md "Webhook endpoints") against moto, through the real handler."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from functions.outbound.handler import lambda_handler as outbound
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from shared.webhooks.model import EVENT_TYPES, MAX_ENDPOINTS
from shared.webhooks.store import WebhookEndpointStore
from tests.apigw import ApiResponse, api_event, call

BASE = "/v1/webhook-endpoints"
ONE = BASE + "/{endpoint_id}"


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return MerchantRepository().create("Atelier Lune").id


@pytest.fixture
def other_merchant(aws_env: dict[str, Any]) -> str:
    return MerchantRepository().create("Other Shop").id


def _create(merchant: str, body: Any) -> ApiResponse:
    return call(outbound, api_event("POST", BASE, body=body, merchant_id=merchant))


def _on(method: str, resource: str, merchant: str, endpoint_id: str, body: Any = None) -> ApiResponse:
    return call(outbound, api_event(method, resource, path_params={"endpoint_id": endpoint_id}, body=body,
                                    merchant_id=merchant))


def test_create_shows_the_secret_once_then_never(merchant: str) -> None:
    response = _create(merchant, {"url": "https://shop.example.com/hooks", "events": ["shipment.delivered",
                                                                                      "order.created"],
                                  "description": "ERP"})
    assert response.status == 201
    body = response.json()
    assert body["id"].startswith("whe_") and response.headers["location"] == f"{BASE}/{body['id']}"
    assert body["secret"].startswith("whsec_") and len(base64.b64decode(body["secret"][6:])) == 24
    assert body["events"] == ["order.created", "shipment.delivered"] and body["enabled"] is True
    assert body["description"] == "ERP"
    shown = _on("GET", ONE, merchant, body["id"]).json()
    assert "secret" not in shown and "secrets" not in shown and "version" not in shown
    listed = call(outbound, api_event("GET", BASE, merchant_id=merchant)).json()
    assert [e["id"] for e in listed["items"]] == [body["id"]] and "secret" not in listed["items"][0]


def test_star_subscribes_to_every_event(merchant: str) -> None:
    body = _create(merchant, {"url": "https://a.example.com/", "events": ["*", "order.created"]}).json()
    assert body["events"] == ["*"]


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "http://shop.example.com/hooks", "events": ["*"]}, "body.url"),
    ({"url": "ftp://shop.example.com/hooks", "events": ["*"]}, "body.url"),
    ({"url": "https://127.0.0.1/hooks", "events": ["*"]}, "body.url"),
    ({"url": "https://localhost/hooks", "events": ["*"]}, "body.url"),
    ({"url": "https://10.0.0.8/hooks", "events": ["*"]}, "body.url"),
    ({"url": "https://169.254.169.254/latest/meta-data", "events": ["*"]}, "body.url"),
    ({"url": "https://[fd00::1]/x", "events": ["*"]}, "body.url"),
    ({"url": "https://[::ffff:10.1.2.3]/x", "events": ["*"]}, "body.url"),
    ({"url": "https://user:pw@shop.example.com/", "events": ["*"]}, "body.url"),
    ({"url": "https://shop.example.com:99999/", "events": ["*"]}, "body.url"),
    ({"url": "https://shop.example.com/", "events": ["shipment.teleported"]}, "body.events"),
    ({"url": "https://shop.example.com/", "events": []}, "body.events"),
    ({"url": "https://shop.example.com/", "events": ["*"], "secret": "mine"}, "body.secret"),
    ({"url": "https://shop.example.com/", "events": ["*"], "description": "a\nb"}, "body.description"),
])
def test_bad_endpoints_are_422_naming_the_field(merchant: str, body: dict[str, Any], field: str) -> None:
    response = _create(merchant, body)
    assert response.status == 422, response.body
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert WebhookEndpointStore().all_of(merchant) == []


def test_plain_http_to_loopback_only_where_the_local_stack_allows_it(merchant: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert _create(merchant, {"url": "http://127.0.0.1:8081/hooks", "events": ["*"]}).status == 422
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "true")
    assert _create(merchant, {"url": "http://127.0.0.1:8081/hooks", "events": ["*"]}).status == 201
    # Still nothing private other than loopback, still no plain http elsewhere.
    assert _create(merchant, {"url": "http://10.0.0.1/hooks", "events": ["*"]}).status == 422
    assert _create(merchant, {"url": "http://shop.example.com/hooks", "events": ["*"]}).status == 422


def test_malformed_json_is_400_and_wrong_type_415(merchant: str) -> None:
    assert _create(merchant, "{not json").status == 400
    event = api_event("POST", BASE, body="url=x", merchant_id=merchant, headers={"Content-Type": "text/plain"})
    assert call(outbound, event).status == 415


def test_patch_changes_url_events_and_enabled(merchant: str) -> None:
    created = _create(merchant, {"url": "https://a.example.com/", "events": ["order.created"]}).json()
    response = _on("PATCH", ONE, merchant, created["id"], {"url": "https://b.example.com/in",
                                                           "events": ["refund.succeeded"], "enabled": False})
    assert response.status == 200
    body = response.json()
    assert (body["url"], body["events"], body["enabled"]) == ("https://b.example.com/in", ["refund.succeeded"], False)
    assert _on("GET", ONE, merchant, created["id"]).json()["enabled"] is False
    assert _on("PATCH", ONE, merchant, created["id"], {"url": "http://b.example.com/"}).status == 422
    assert _on("PATCH", ONE, merchant, created["id"], {"secret": "x"}).status == 422
    assert _on("GET", ONE, merchant, created["id"]).json()["url"] == "https://b.example.com/in"


def test_rotation_keeps_the_former_secret_signing_for_24_hours(merchant: str) -> None:
    created = _create(merchant, {"url": "https://a.example.com/", "events": ["*"]}).json()
    rotated = _on("POST", ONE + "/rotate-secret", merchant, created["id"])
    assert rotated.status == 200
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != created["secret"]
    endpoint = WebhookEndpointStore().get(merchant, created["id"])
    assert endpoint.signing_secrets(clock.now()) == [new_secret, created["secret"]]
    clock.advance(timedelta(hours=23, minutes=59))
    assert endpoint.signing_secrets(clock.now()) == [new_secret, created["secret"]]
    clock.advance(timedelta(minutes=2))
    assert endpoint.signing_secrets(clock.now()) == [new_secret]
    # A second rotation a day later drops the expired secret for good.
    third = _on("POST", ONE + "/rotate-secret", merchant, created["id"]).json()["secret"]
    assert [s.secret for s in WebhookEndpointStore().get(merchant, created["id"]).secrets] == [third, new_secret]


def test_delete_is_204_then_404(merchant: str) -> None:
    created = _create(merchant, {"url": "https://a.example.com/", "events": ["*"]}).json()
    assert _on("DELETE", ONE, merchant, created["id"]).status == 204
    assert _on("GET", ONE, merchant, created["id"]).status == 404
    assert _on("DELETE", ONE, merchant, created["id"]).status == 404


def test_another_merchants_endpoint_is_404_for_every_verb(merchant: str, other_merchant: str) -> None:
    created = _create(merchant, {"url": "https://a.example.com/", "events": ["*"]}).json()
    for method, resource, body in [("GET", ONE, None), ("PATCH", ONE, {"enabled": False}), ("DELETE", ONE, None),
                                   ("POST", ONE + "/rotate-secret", None)]:
        response = _on(method, resource, other_merchant, created["id"], body)
        assert response.status == 404, (method, resource)
        assert response.headers["content-type"] == "application/problem+json"
    assert call(outbound, api_event("GET", BASE, merchant_id=other_merchant)).json()["items"] == []
    assert _on("GET", ONE, merchant, created["id"]).json()["enabled"] is True


def test_list_pages_with_a_cursor_bound_to_the_merchant(merchant: str, other_merchant: str) -> None:
    made = {_create(merchant, {"url": f"https://a{i}.example.com/", "events": [EVENT_TYPES[i]]}).json()["id"]
            for i in range(3)}
    first = call(outbound, api_event("GET", BASE, query={"limit": "2"}, merchant_id=merchant)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = call(outbound, api_event("GET", BASE, query={"limit": "2", "cursor": first["next_cursor"]},
                                      merchant_id=merchant)).json()
    assert {e["id"] for e in first["items"] + second["items"]} == made and second["next_cursor"] is None
    stolen = call(outbound, api_event("GET", BASE, query={"cursor": first["next_cursor"]},
                                      merchant_id=other_merchant))
    assert stolen.status == 400
    assert call(outbound, api_event("GET", BASE, query={"limit": "0"}, merchant_id=merchant)).status == 422
    assert call(outbound, api_event("GET", BASE, query={"limit": "101"}, merchant_id=merchant)).status == 422


def test_a_merchant_has_a_bounded_number_of_endpoints(merchant: str) -> None:
    for i in range(MAX_ENDPOINTS):
        assert _create(merchant, {"url": f"https://a{i}.example.com/", "events": ["*"]}).status == 201
    response = _create(merchant, {"url": "https://one-more.example.com/", "events": ["*"]})
    assert response.status == 409


def test_without_a_merchant_it_is_401(aws_env: dict[str, Any]) -> None:
    assert call(outbound, api_event("GET", BASE)).status == 401
