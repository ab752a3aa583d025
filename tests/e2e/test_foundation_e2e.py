"""The foundation over HTTP against the local stack: authentication, keys, settings, connections,
isolation between merchants, problem details, and the local-only routes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.carrier_signing import colis_headers
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


def _colis(local_stack: dict[str, Any], *arguments: str, usage_plan: bool = True) -> subprocess.CompletedProcess[str]:
    """The operator CLI, as an operator runs it against the local stack's endpoint."""
    options = ["--endpoint-url", local_stack["aws_endpoint_url"], "--table", local_stack["table_name"],
               "--secret-prefix", local_stack["connection_secret_prefix"]]
    if usage_plan:
        options += ["--usage-plan-id", local_stack["usage_plan_id"]]
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    environment.pop("USAGE_PLAN_ID", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *options, *arguments], capture_output=True, text=True,
                          env=environment, timeout=60, check=False)


def test_cli_creates_a_merchant_whose_key_works_and_a_connection_whose_webhook_verifies(
        local_stack: dict[str, Any]) -> None:
    created = _colis(local_stack, "create-merchant", "Fromagerie Vasseur")
    assert created.returncode == 0, created.stderr
    merchant = json.loads(created.stdout)
    assert merchant["usage_plan"]["usage_plan_id"] == local_stack["usage_plan_id"]
    with ApiClient(local_stack["api_url"], merchant["api_key"]["key"]) as client:
        assert client.get("/v1/settings").status_code == 200

    connection = _colis(local_stack, "create-connection", merchant["merchant_id"], "colis",
                        "--api-url", local_stack["api_url"])
    assert connection.returncode == 0, connection.stderr
    hook = json.loads(connection.stdout)
    body = json.dumps({"event_id": "evt-cli-1", "carrier": "colissimo", "tracking_number": "CLI000000001",
                       "status": "in_transit", "occurred_at": "2026-01-01T00:00:00+00:00"}).encode()
    now = datetime.fromisoformat(requests.get(local_stack["api_url"] + "/_local/clock", timeout=30).json()["now"])
    signed = requests.post(hook["url"], data=body, timeout=30, headers=colis_headers(hook["secret"], body, now))
    unsigned = requests.post(hook["url"], data=body, timeout=30, headers={"Colis-Signature": "t=1,v1=00"})
    assert signed.status_code == 200 and unsigned.status_code == 401


def test_cli_merchant_outside_the_usage_plan_is_refused_until_enrolled(local_stack: dict[str, Any]) -> None:
    created = _colis(local_stack, "create-merchant", "Late Shop", usage_plan=False)
    assert created.returncode == 0, created.stderr
    merchant = json.loads(created.stdout)
    assert "usage_plan" not in merchant
    with ApiClient(local_stack["api_url"], merchant["api_key"]["key"]) as client:
        refused = client.get("/v1/settings")
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        enrolled = _colis(local_stack, "enrol-merchant", merchant["merchant_id"])
        assert enrolled.returncode == 0, enrolled.stderr
        again = _colis(local_stack, "enrol-merchant", merchant["merchant_id"])  # idempotent
        assert json.loads(again.stdout)["usage_key_id"] == json.loads(enrolled.stdout)["usage_key_id"]
        assert client.get("/v1/settings").status_code == 200


def test_cli_refuses_an_unknown_merchant(local_stack: dict[str, Any]) -> None:
    result = _colis(local_stack, "create-api-key", "mer_does_not_exist")
    assert result.returncode == 1 and "mer_does_not_exist" in result.stderr


def test_fee_terms_are_the_operators(local_stack: dict[str, Any]) -> None:
    created = json.loads(_colis(local_stack, "create-merchant", "Boutique Frais").stdout)
    with ApiClient(local_stack["api_url"], created["api_key"]["key"]) as client:
        refused = client.patch("/v1/settings", json={"fees": {"rate_percent": "0"}})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.fees"
        assert client.get("/v1/settings").json()["fees"]["rate_percent"] == "5.0"
        result = _colis(local_stack, "set-fees", created["merchant_id"], "--rate-percent", "3.9", "--fixed", "0.20",
                        "--card-percent", "1.5")
        assert result.returncode == 0, result.stderr
        assert client.get("/v1/settings").json()["fees"] == {"rate_percent": "3.9", "fixed": "0.20",
                                                             "card_percent": "1.5"}
