"""API keys with a name, a scope and `last_used_at`: a `read` key answers 403 on every write of
/v1/, and the authorizer records a key's use at most once a minute, with a conditional write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.account.handler import lambda_handler as account
from functions.authorizer import handler as authorizer
from functions.customers.handler import lambda_handler as customers
from functions.shipments.handler import lambda_handler as shipments
from shared.merchants.api_keys import ApiKeyRepository
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from tests.apigw import LambdaContext, api_event, call

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(NOW)
    authorizer._marked.clear()
    return MerchantRepository().create("Atelier Lune").id


def _authorize(key: str) -> dict[str, Any]:
    event = {"type": "REQUEST", "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/GET/v1/settings",
             "headers": {"Authorization": f"Bearer {key}"}, "httpMethod": "GET", "path": "/v1/settings"}
    return authorizer.lambda_handler(event, LambdaContext())


def _as_key(event: dict[str, Any], scope: str) -> dict[str, Any]:
    event["requestContext"]["authorizer"]["scope"] = scope
    return event


def _create(merchant: str, body: Any = None) -> Any:
    return call(account, api_event("POST", "/v1/api-keys", body=body, merchant_id=merchant))


def _listed(merchant: str) -> dict[str, dict[str, Any]]:
    items = call(account, api_event("GET", "/v1/api-keys", merchant_id=merchant)).json()["items"]
    return {item["id"]: item for item in items}


def test_a_key_is_created_with_its_name_and_scope_and_write_by_default(merchant: str) -> None:
    named = _create(merchant, {"name": "Shop reports", "scope": "read"})
    assert named.status == 201
    body = named.json()
    assert body["key"].startswith("colis_sk_") and body["id"].startswith("key_")
    assert (body["name"], body["scope"]) == ("Shop reports", "read")
    bare = _create(merchant)
    assert bare.status == 201 and (bare.json()["name"], bare.json()["scope"]) == (None, "write")
    listed = _listed(merchant)
    assert listed[body["id"]]["name"] == "Shop reports" and listed[body["id"]]["scope"] == "read"
    assert listed[bare.json()["id"]]["scope"] == "write"
    assert all(item["last_used_at"] is None and "key" not in item for item in listed.values())


@pytest.mark.parametrize("body", [{"scope": "admin"}, {"name": ""}, {"name": "x" * 101}, {"scope": "read", "extra": 1}])
def test_a_bad_key_request_is_422(merchant: str, body: dict[str, Any]) -> None:
    response = _create(merchant, body)
    assert response.status == 422 and response.headers["content-type"] == "application/problem+json"
    assert _listed(merchant) == {}


def test_the_authorizer_hands_over_the_scope(merchant: str) -> None:
    read_key = _create(merchant, {"scope": "read"}).json()["key"]
    write_key = _create(merchant).json()["key"]
    assert _authorize(read_key)["context"]["scope"] == "read"
    assert _authorize(write_key)["context"]["scope"] == "write"


@pytest.mark.parametrize(("method", "resource", "handler", "body"), [
    ("POST", "/v1/customers", customers, {"email": "lea@example.com"}),
    ("POST", "/v1/api-keys", account, {"scope": "write"}),
    ("PATCH", "/v1/settings", account, {"default_language": "fr"}),
    ("DELETE", "/v1/shipments/{shipment_id}", shipments, None),
    ("POST", "/v1/shipments/{shipment_id}/archive", shipments, None),
])
def test_a_read_key_gets_403_on_every_write(merchant: str, method: str, resource: str, handler: Any,
                                            body: Any) -> None:
    path = {"shipment_id": "shp_1"} if "{shipment_id}" in resource else None
    event = _as_key(api_event(method, resource, path_params=path, body=body, merchant_id=merchant), "read")
    response = call(handler, event)
    assert response.status == 403 and response.headers["content-type"] == "application/problem+json"
    assert "read scope" in response.json()["detail"]
    assert MerchantRepository().get(merchant).settings.default_language == "en"


def test_a_read_key_reads_and_a_write_key_writes(merchant: str) -> None:
    read = _as_key(api_event("GET", "/v1/customers", merchant_id=merchant), "read")
    assert call(customers, read).status == 200
    write = _as_key(api_event("POST", "/v1/customers", body={"email": "lea@example.com"}, merchant_id=merchant), "write")
    assert call(customers, write).status == 201


def test_last_used_at_is_recorded_at_most_once_a_minute(merchant: str) -> None:
    created = _create(merchant).json()
    _authorize(created["key"])
    assert _listed(merchant)[created["id"]]["last_used_at"] == "2026-03-10T12:00:00.000Z"
    clock.use_fixed(NOW + timedelta(seconds=30))
    _authorize(created["key"])
    assert _listed(merchant)[created["id"]]["last_used_at"] == "2026-03-10T12:00:00.000Z"
    clock.use_fixed(NOW + timedelta(seconds=61))
    _authorize(created["key"])
    assert _listed(merchant)[created["id"]]["last_used_at"] == "2026-03-10T12:01:01.000Z"


def test_another_instance_is_held_back_by_the_condition(merchant: str) -> None:
    created = _create(merchant).json()
    repository = ApiKeyRepository()
    key = next(k for k in repository.list(merchant) if k.id == created["id"])
    assert repository.mark_used(key, NOW) is True
    assert repository.mark_used(key, NOW + timedelta(seconds=59)) is False  # no cache here: DynamoDB refused
    assert repository.mark_used(key, NOW + timedelta(seconds=61)) is True


def test_marking_a_key_revoked_meanwhile_does_not_bring_it_back(merchant: str) -> None:
    created = _create(merchant).json()
    repository = ApiKeyRepository()
    key = next(k for k in repository.list(merchant) if k.id == created["id"])
    revoked = call(account, api_event("DELETE", "/v1/api-keys/{key_id}", path_params={"key_id": created["id"]},
                                      merchant_id=merchant))
    assert revoked.status == 204
    assert repository.mark_used(key, NOW) is False
    assert _listed(merchant) == {}
    with pytest.raises(Exception, match="Unauthorized"):
        _authorize(created["key"])
