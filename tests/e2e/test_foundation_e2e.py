"""The foundation over HTTP against the local stack: authentication, keys, settings, connections,
isolation between merchants, problem details, and the local-only routes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ApiClient

pytestmark = pytest.mark.xdist_group("e2e")


def test_v1_routes_need_a_valid_key(public_api: ApiClient, local_stack: dict[str, Any]) -> None:
    response = public_api.get("/v1/settings")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    wrong = ApiClient(local_stack["api_url"], "colis_sk_not-a-key")
    assert wrong.get("/v1/settings").status_code == 401


def test_settings_round_trip_and_validation(second_api: ApiClient) -> None:
    assert second_api.get("/v1/settings").json()["retention"] == {"redact_after_days": 90, "delete_after_months": 15}
    patched = second_api.patch("/v1/settings", json={"brand": {"name": "Maison Test", "color": "#123456"}})
    assert patched.status_code == 200 and patched.json()["brand"]["name"] == "Maison Test"
    bad = second_api.patch("/v1/settings", json={"retention": {"redact_after_days": -1}})
    assert bad.status_code == 422 and bad.json()["errors"]
    malformed = second_api.patch("/v1/settings", data="{oops", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400


def test_a_new_key_works_and_a_revoked_key_fails_at_once(api: ApiClient, local_stack: dict[str, Any]) -> None:
    created = api.post("/v1/api-keys")
    assert created.status_code == 201
    fresh = ApiClient(local_stack["api_url"], created.json()["key"])
    assert fresh.get("/v1/settings").status_code == 200
    assert api.delete(f"/v1/api-keys/{created.json()['id']}").status_code == 204
    assert fresh.get("/v1/settings").status_code == 401


def test_connections_give_a_webhook_url_and_belong_to_their_merchant(api: ApiClient, second_api: ApiClient,
                                                                      local_stack: dict[str, Any]) -> None:
    created = api.post("/v1/connections", json={"carrier": "aftership"})
    assert created.status_code == 201
    body = created.json()
    assert body["url"] == f"{local_stack['api_url']}/webhooks/aftership/{body['id']}"
    assert second_api.delete(f"/v1/connections/{body['id']}").status_code == 404
    assert api.delete(f"/v1/connections/{body['id']}").status_code == 204


def test_the_local_clock_moves(public_api: ApiClient) -> None:
    before = public_api.get("/_local/clock").json()["now"]
    after = public_api.post("/_local/clock", json={"advance_days": 0}).json()["now"]
    assert after >= before
    assert isinstance(public_api.get("/_local/schedules").json()["schedules"], list)
