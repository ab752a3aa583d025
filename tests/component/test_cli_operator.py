"""The operator CLI's listing and revoking against moto: list-merchants, list-api-keys and
revoke-api-key (the revoked key stops authorizing at once)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cli.main import main as cli
from functions.authorizer.handler import lambda_handler as authorize
from shared.dynamo import keys
from shared.merchants.store import MerchantRepository
from tests.apigw import LambdaContext


def _colis(capsys: pytest.CaptureFixture[str], table: str, *arguments: str) -> tuple[int, Any, str]:
    code = cli(["--table", table, *arguments])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else None), captured.err


def _authorize(key: str) -> dict[str, Any]:
    event = {"type": "REQUEST", "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/GET/v1/settings",
             "headers": {"Authorization": f"Bearer {key}"}, "httpMethod": "GET", "path": "/v1/settings"}
    return authorize(event, LambdaContext())


def test_merchants_and_their_keys_are_listed_and_a_key_revoked(aws_env: dict[str, Any],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    table = aws_env["TABLE_NAME"]
    _, first, _ = _colis(capsys, table, "create-merchant", "Atelier Lune")
    _, second, _ = _colis(capsys, table, "create-merchant", "Fromagerie Vasseur", "--no-key")
    code, merchants, _ = _colis(capsys, table, "list-merchants")
    assert code == 0
    assert [m["merchant_id"] for m in merchants] == [first["merchant_id"], second["merchant_id"]]
    assert merchants[0]["name"] == "Atelier Lune" and merchants[0]["tracking_slug"] == first["tracking_slug"]

    _, extra, _ = _colis(capsys, table, "create-api-key", first["merchant_id"])
    code, keys, _ = _colis(capsys, table, "list-api-keys", first["merchant_id"])
    assert code == 0 and [k["id"] for k in keys] == [first["api_key"]["id"], extra["id"]]
    assert all("key" not in k and "key_hash" not in k and k["scope"] == "write" for k in keys)
    assert _colis(capsys, table, "list-api-keys", second["merchant_id"])[1] == []

    code, revoked, _ = _colis(capsys, table, "revoke-api-key", first["merchant_id"], extra["id"])
    assert code == 0 and revoked == {"merchant_id": first["merchant_id"], "id": extra["id"], "revoked": True}
    with pytest.raises(Exception, match="Unauthorized"):
        _authorize(extra["key"])
    assert _authorize(first["api_key"]["key"])["context"]["merchant_id"] == first["merchant_id"]
    assert [k["id"] for k in _colis(capsys, table, "list-api-keys", first["merchant_id"])[1]] == [first["api_key"]["id"]]


def test_unknown_merchant_or_key_is_one_line(aws_env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    table = aws_env["TABLE_NAME"]
    _, merchant, _ = _colis(capsys, table, "create-merchant", "Atelier Lune")
    for arguments in (("list-api-keys", "mer_nobody"), ("revoke-api-key", "mer_nobody", "key_x"),
                      ("revoke-api-key", merchant["merchant_id"], "key_nobody")):
        code, _, err = _colis(capsys, table, *arguments)
        assert code == 1 and err.startswith("colis: ") and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err


def test_merchants_created_before_slugs_get_a_default_one_once(aws_env: dict[str, Any],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    table = aws_env["TABLE_NAME"]
    _, with_slug, _ = _colis(capsys, table, "create-merchant", "Atelier Lune", "--no-key")
    _, older, _ = _colis(capsys, table, "create-merchant", "Fromagerie Vasseur", "--no-key")
    # The item as merchants were stored before slugs: no tracking_slug in its settings.
    boto3.resource("dynamodb", region_name="eu-west-1").Table(table).update_item(
        Key=keys.merchant(older["merchant_id"]), UpdateExpression="REMOVE settings.tracking_slug")

    code, assigned, _ = _colis(capsys, table, "assign-tracking-slugs")

    assert code == 0 and [a["merchant_id"] for a in assigned] == [older["merchant_id"]]
    slug = assigned[0]["tracking_slug"]
    assert slug.startswith("fromagerie-vasseur-")
    repository = MerchantRepository()
    assert repository.get(older["merchant_id"]).settings.tracking_slug == slug
    assert repository.merchant_for_slug(slug) == older["merchant_id"]
    assert repository.get(with_slug["merchant_id"]).settings.tracking_slug == with_slug["tracking_slug"]
    assert _colis(capsys, table, "assign-tracking-slugs")[1] == []  # nothing left to do


def test_a_named_read_key_is_created_and_listed(aws_env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    table = aws_env["TABLE_NAME"]
    _, merchant, _ = _colis(capsys, table, "create-merchant", "Atelier Lune", "--no-key")

    code, created, _ = _colis(capsys, table, "create-api-key", merchant["merchant_id"], "--name", "Storefront reports",
                              "--scope", "read")

    assert code == 0 and created["name"] == "Storefront reports" and created["scope"] == "read"
    listed = _colis(capsys, table, "list-api-keys", merchant["merchant_id"])[1]
    assert [(k["id"], k["name"], k["scope"]) for k in listed] == [(created["id"], "Storefront reports", "read")]


@pytest.mark.parametrize(("arguments", "says"), [
    (("--name", "x" * 101), "name"),
    (("--name", "   "), "name"),
    (("--scope", "admin"), "invalid choice"),
])
def test_a_bad_key_name_or_scope_is_one_line_and_creates_nothing(aws_env: dict[str, Any],
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 arguments: tuple[str, ...], says: str) -> None:
    table = aws_env["TABLE_NAME"]
    _, merchant, _ = _colis(capsys, table, "create-merchant", "Atelier Lune", "--no-key")

    try:
        code, _, err = _colis(capsys, table, "create-api-key", merchant["merchant_id"], *arguments)
    except SystemExit as usage_error:  # argparse refuses a choice before the command runs
        code, err = int(str(usage_error.code)), capsys.readouterr().err

    assert code in (1, 2) and says in err and len(err.strip().splitlines()) == 1, err
    assert _colis(capsys, table, "list-api-keys", merchant["merchant_id"])[1] == []
