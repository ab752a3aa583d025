"""Settings, API keys, connections and the authorizer against moto."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from cli.main import main as cli
from functions.account.handler import lambda_handler as account
from functions.authorizer.handler import lambda_handler as authorize
from shared.merchants.model import FeeSettings
from shared.merchants.store import MerchantRepository
from tests.apigw import LambdaContext, api_event, call


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return MerchantRepository().create("Atelier Lune").id


def test_settings_have_every_default_of_the_contract(merchant: str) -> None:
    response = call(account, api_event("GET", "/v1/settings", merchant_id=merchant))
    assert response.status == 200
    body = response.json()
    assert re.fullmatch(r"atelier-lune-[a-z0-9]{6}", body.pop("tracking_slug"))  # made from the name at creation
    assert body == {
        "brand": {"name": None, "logo_url": None, "color": None},
        "support_email": None, "support_url": None, "notification_email": None,
        "default_language": "en",
        "display_currency": None,
        "notifications": {"ready_to_ship": True, "in_transit": True, "delayed": True,
                          "ready_for_pickup": False, "out_for_delivery": False, "delivered": True},
        "retention": {"redact_after_days": 90, "delete_after_months": 15},
        "fees": {"rate_percent": "5.0", "fixed": "0.30", "card_percent": "2.9"},
    }


def test_patch_merges_nested_settings_and_keeps_the_rest(merchant: str) -> None:
    patch = {"brand": {"name": "Atelier Lune", "color": "#112233"},
             "notifications": {"ready_for_pickup": True, "out_for_delivery": True},
             "retention": {"redact_after_days": 30}, "default_language": "fr"}
    response = call(account, api_event("PATCH", "/v1/settings", body=patch, merchant_id=merchant))
    assert response.status == 200
    body = call(account, api_event("GET", "/v1/settings", merchant_id=merchant)).json()
    assert body["brand"] == {"name": "Atelier Lune", "logo_url": None, "color": "#112233"}
    assert body["notifications"] == {"ready_to_ship": True, "in_transit": True, "delayed": True,
                                     "ready_for_pickup": True, "out_for_delivery": True, "delivered": True}
    assert body["retention"] == {"redact_after_days": 30, "delete_after_months": 15}
    assert body["default_language"] == "fr"


@pytest.mark.parametrize("patch", [
    {"retention": {"redact_after_days": 0}},
    {"brand": {"color": "red; background:url(x)"}},
    {"display_currency": "XXQ"},
    {"display_currency": "BGN"},
    {"notifications": {"out_for_delivery": "maybe"}},
    {"notifications": {"delivered": "sometimes"}},
    {"unknown_field": 1},
    {"fees": {"rate_percent": "101"}},
])
def test_invalid_settings_are_422_and_change_nothing(merchant: str, patch: dict[str, Any]) -> None:
    response = call(account, api_event("PATCH", "/v1/settings", body=patch, merchant_id=merchant))
    assert response.status == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 422
    assert MerchantRepository().get(merchant).settings.retention.redact_after_days == 90


def test_a_display_currency_iso_withdrew_since_it_was_set_stays_readable_until_changed(merchant: str) -> None:
    # Set before Bulgaria joined the euro (2026-01-01): the record keeps it, a new setting cannot.
    repository = MerchantRepository()
    recorded = repository.get(merchant).settings.model_copy(update={"display_currency": "BGN"})
    repository.save_settings(merchant, recorded)
    assert call(account, api_event("GET", "/v1/settings", merchant_id=merchant)).json()["display_currency"] == "BGN"
    other = call(account, api_event("PATCH", "/v1/settings", body={"default_language": "de"}, merchant_id=merchant))
    assert other.status == 200 and other.json()["display_currency"] == "BGN"
    again = call(account, api_event("PATCH", "/v1/settings", body={"display_currency": "BGN"}, merchant_id=merchant))
    assert again.status == 422 and "no longer an ISO 4217 currency" in json.dumps(again.json())
    changed = call(account, api_event("PATCH", "/v1/settings", body={"display_currency": "EUR"}, merchant_id=merchant))
    assert changed.status == 200 and changed.json()["display_currency"] == "EUR"


@pytest.mark.parametrize("fees", [{"rate_percent": "0"}, {}, None])
def test_fees_are_read_only_for_the_merchant(merchant: str, fees: Any) -> None:
    patch = {"brand": {"name": "Zero Fee Shop"}, "fees": fees}
    response = call(account, api_event("PATCH", "/v1/settings", body=patch, merchant_id=merchant))
    assert response.status == 422
    assert [error["field"] for error in response.json()["errors"]] == ["body.fees"]
    assert "colis set-fees" in response.json()["errors"][0]["message"]
    settings = MerchantRepository().get(merchant).settings
    assert settings.fees.rate_percent == Decimal("5.0") and settings.brand.name is None


def test_a_settings_patch_never_puts_back_fees_the_operator_changed(merchant: str) -> None:
    merchants = MerchantRepository()
    read_before = merchants.get(merchant).settings  # a PATCH reads, merges, then writes
    merchants.set_fees(merchant, FeeSettings(rate_percent=Decimal("3.5"), fixed=Decimal("0"),
                                             card_percent=Decimal("1.4")))
    read_before.brand.name = "Atelier Lune"
    merchants.save_settings(merchant, read_before)
    shown = call(account, api_event("GET", "/v1/settings", merchant_id=merchant)).json()
    assert shown["fees"] == {"rate_percent": "3.5", "fixed": "0", "card_percent": "1.4"}
    assert shown["brand"]["name"] == "Atelier Lune"


def test_operator_sets_fees_with_the_cli(merchant: str, aws_env: dict[str, Any],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["--table", aws_env["TABLE_NAME"], "set-fees", merchant, "--rate-percent", "4.5",
                "--fixed", "0.25", "--card-percent", "1.9"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["fees"] == {"rate_percent": "4.5", "fixed": "0.25",
                                                          "card_percent": "1.9"}
    shown = call(account, api_event("GET", "/v1/settings", merchant_id=merchant)).json()
    assert shown["fees"] == {"rate_percent": "4.5", "fixed": "0.25", "card_percent": "1.9"}


@pytest.mark.parametrize("terms", [
    ["--rate-percent", "101", "--fixed", "0", "--card-percent", "0"],
    ["--rate-percent", "1_0", "--fixed", "0", "--card-percent", "0"],
    ["--rate-percent", "5", "--fixed", "-1", "--card-percent", "0"],
    ["--rate-percent", "5", "--fixed", "0.30", "--card-percent", "\u0664"],
])
def test_cli_refuses_invalid_fee_terms_and_unknown_merchants(merchant: str, aws_env: dict[str, Any], terms: list[str],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    terms = [term.encode().decode("unicode_escape") for term in terms]
    assert cli(["--table", aws_env["TABLE_NAME"], "set-fees", merchant, *terms]) == 1
    assert "Invalid fee terms" in capsys.readouterr().err
    assert MerchantRepository().get(merchant).settings.fees == FeeSettings()
    assert cli(["--table", aws_env["TABLE_NAME"], "set-fees", "mer_nobody", "--rate-percent", "1", "--fixed", "0",
                "--card-percent", "0"]) == 1
    assert "mer_nobody" in capsys.readouterr().err


def test_malformed_json_is_400(merchant: str) -> None:
    response = call(account, api_event("PATCH", "/v1/settings", body="{not json", merchant_id=merchant))
    assert response.status == 400
    assert response.json()["title"] == "Bad Request"


def test_body_over_one_mebibyte_is_413(merchant: str) -> None:
    body = '{"brand": {"name": "' + "x" * (1024 * 1024) + '"}}'
    response = call(account, api_event("PATCH", "/v1/settings", body=body, merchant_id=merchant))
    assert response.status == 413
    assert response.headers["content-type"] == "application/problem+json"


def _authorize(key: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    event = {"type": "REQUEST", "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/GET/v1/settings",
             "headers": headers, "httpMethod": "GET", "path": "/v1/settings"}
    return authorize(event, LambdaContext())


def test_api_key_maps_to_its_merchant_and_a_revoked_key_fails_at_once(merchant: str) -> None:
    created = call(account, api_event("POST", "/v1/api-keys", merchant_id=merchant))
    assert created.status == 201
    key = created.json()["key"]
    policy = _authorize(key)
    assert policy["context"]["merchant_id"] == merchant
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    listed = call(account, api_event("GET", "/v1/api-keys", merchant_id=merchant)).json()["items"]
    assert [k["id"] for k in listed] == [created.json()["id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    revoked = call(account, api_event("DELETE", "/v1/api-keys/{key_id}", path_params={"key_id": created.json()["id"]},
                                      merchant_id=merchant))
    assert revoked.status == 204
    with pytest.raises(Exception, match="Unauthorized"):
        _authorize(key)


@pytest.mark.parametrize("key", [None, "", "colis_sk_unknown", "Basic abc"])
def test_missing_or_unknown_key_is_unauthorized(merchant: str, key: str | None) -> None:
    with pytest.raises(Exception, match="Unauthorized"):
        _authorize(key)


def test_only_the_key_hash_is_stored(merchant: str, aws_env: dict[str, Any]) -> None:
    import boto3

    key = call(account, api_event("POST", "/v1/api-keys", merchant_id=merchant)).json()["key"]
    items = boto3.resource("dynamodb").Table(aws_env["TABLE_NAME"]).scan()["Items"]
    assert all(key not in str(item) for item in items)


def test_connections_are_created_listed_and_deleted(merchant: str) -> None:
    created = call(account, api_event("POST", "/v1/connections", body={"carrier": "sendcloud"}, merchant_id=merchant))
    assert created.status == 201
    body = created.json()
    assert body["carrier"] == "sendcloud" and len(body["secret"]) >= 32
    assert body["url"] == f"https://api.colis.test/webhooks/sendcloud/{body['id']}"
    listed = call(account, api_event("GET", "/v1/connections", merchant_id=merchant)).json()["items"]
    assert [c["id"] for c in listed] == [body["id"]] and "secret" not in listed[0]
    deleted = call(account, api_event("DELETE", "/v1/connections/{connection_id}",
                                      path_params={"connection_id": body["id"]}, merchant_id=merchant))
    assert deleted.status == 204
    assert call(account, api_event("GET", "/v1/connections", merchant_id=merchant)).json()["items"] == []


def test_connection_secret_given_is_kept_in_ssm_not_in_the_table(merchant: str, aws_env: dict[str, Any]) -> None:
    import boto3

    secret = "carrier-given-secret-0123456789"
    body = call(account, api_event("POST", "/v1/connections", body={"carrier": "easypost", "secret": secret},
                                   merchant_id=merchant)).json()
    assert body["secret"] == secret
    items = boto3.resource("dynamodb").Table(aws_env["TABLE_NAME"]).scan()["Items"]
    assert all(secret not in str(item) for item in items)
    parameter = boto3.client("ssm").get_parameter(Name=f"/colis/test/connections/{body['id']}", WithDecryption=True)
    assert parameter["Parameter"]["Value"] == secret and parameter["Parameter"]["Type"] == "SecureString"


@pytest.mark.parametrize("body", [{"carrier": "dhl"}, {}, {"carrier": "colis", "secret": ""},
                                  {"carrier": "colis", "secret": "   "}, {"carrier": "easypost", "secret": "x" * 257}])
def test_invalid_connection_is_422(merchant: str, body: dict[str, Any]) -> None:
    assert call(account, api_event("POST", "/v1/connections", body=body, merchant_id=merchant)).status == 422


@pytest.mark.parametrize("secret", ["whsec", "abc123", "x" * 256])
def test_a_connection_takes_the_carriers_secret_as_issued(merchant: str, secret: str) -> None:
    created = call(account, api_event("POST", "/v1/connections", body={"carrier": "easypost", "secret": secret},
                                      merchant_id=merchant))
    assert created.status == 201 and created.json()["secret"] == secret


def test_generated_secrets_are_long_and_random(merchant: str) -> None:
    made = {call(account, api_event("POST", "/v1/connections", body={"carrier": "colis"},
                                    merchant_id=merchant)).json()["secret"] for _ in range(3)}
    assert len(made) == 3 and all(len(secret) >= 40 for secret in made)


def test_a_merchant_cannot_touch_another_merchants_keys_or_connections(merchant: str) -> None:
    other = MerchantRepository().create("Other").id
    key_id = call(account, api_event("POST", "/v1/api-keys", merchant_id=merchant)).json()["id"]
    connection_id = call(account, api_event("POST", "/v1/connections", body={"carrier": "colis"},
                                            merchant_id=merchant)).json()["id"]
    assert call(account, api_event("DELETE", "/v1/api-keys/{key_id}", path_params={"key_id": key_id},
                                   merchant_id=other)).status == 404
    assert call(account, api_event("DELETE", "/v1/connections/{connection_id}",
                                   path_params={"connection_id": connection_id}, merchant_id=other)).status == 404
    assert call(account, api_event("GET", "/v1/api-keys", merchant_id=other)).json()["items"] == []
    assert call(account, api_event("GET", "/v1/connections", merchant_id=other)).json()["items"] == []


def test_without_authorizer_context_the_route_is_401(aws_env: dict[str, Any]) -> None:
    response = call(account, api_event("GET", "/v1/settings"))
    assert response.status == 401


def test_authorizer_names_the_merchants_usage_plan_key(merchant: str) -> None:
    from shared.merchants.usage_plans import usage_identifier

    key = call(account, api_event("POST", "/v1/api-keys", merchant_id=merchant)).json()["key"]
    other = MerchantRepository().create("Other Shop").id
    other_key = call(account, api_event("POST", "/v1/api-keys", merchant_id=other)).json()["key"]
    assert _authorize(key)["usageIdentifierKey"] == usage_identifier(merchant)
    assert _authorize(other_key)["usageIdentifierKey"] == usage_identifier(other) != usage_identifier(merchant)
    assert len(usage_identifier(merchant)) >= 20  # API Gateway's minimum key length


def test_enrolment_puts_one_key_per_merchant_in_the_plan_and_can_be_repeated(merchant: str) -> None:
    import boto3

    from shared.merchants.usage_plans import enrol_merchant, usage_identifier

    gateway = boto3.client("apigateway")
    plan = gateway.create_usage_plan(name="colis-test-merchants", throttle={"rateLimit": 50.0, "burstLimit": 100})
    first = enrol_merchant(merchant, plan["id"])
    assert enrol_merchant(merchant, plan["id"]) == first
    keys = gateway.get_api_keys(includeValues=True)["items"]
    assert [(k["id"], k["value"]) for k in keys] == [(first, usage_identifier(merchant))]
    assert [k["id"] for k in gateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [first]


@pytest.mark.parametrize("name", ["Atelier\r\nBcc: victim@example.org", "Atelier\nLune", "Atelier\tLune",
                                  "Atelier\x00Lune", "Atelier\x1bLune", "Atelier\x85Lune", "Atelier\u2028Lune"])
def test_a_brand_name_with_control_characters_is_422_and_changes_nothing(merchant: str, name: str) -> None:
    response = call(account, api_event("PATCH", "/v1/settings", body={"brand": {"name": name}}, merchant_id=merchant))
    assert response.status == 422
    assert response.json()["status"] == 422
    assert MerchantRepository().get(merchant).settings.brand.name is None


def test_a_brand_name_with_accents_and_punctuation_is_accepted(merchant: str) -> None:
    name = "Zoé & Fils — Maison d'Été"
    response = call(account, api_event("PATCH", "/v1/settings", body={"brand": {"name": name}}, merchant_id=merchant))
    assert response.status == 200
    assert MerchantRepository().get(merchant).settings.brand.name == name
