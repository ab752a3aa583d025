"""Exports API against moto: 202 at once with the event that starts the worker, validation, links
(lifetime, re-signing, 410 after the object), and isolation between merchants."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.outbox.service import pending_events
from shared.customers.model import Customer
from shared.customers.store import CustomerRepository
from shared.dynamo import keys
from shared.exports.store import ExportRepository
from shared.platform import aws, clock
from shared.platform.settings import settings
from tests.export_support import (
    NOW,
    create_shipment,
    csv_rows,
    download,
    fetch,
    get_export,
    new_merchant,
    post_export,
    requested,
    run,
)


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


@pytest.fixture
def ready_export(merchant: str) -> str:
    create_shipment(merchant, parcels=2)
    export_id = requested(merchant, {"type": "shipments", "format": "csv"})
    run(merchant, export_id)
    return export_id


def link_seconds(url: str) -> int:
    """moto does not enforce presigned expiry: read what the link asks for (PLATFORM_NOTES.md)."""
    return int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])


def job_item(merchant: str, export_id: str) -> dict[str, Any]:
    return aws.table().get_item(Key=keys.export_job(merchant, export_id))["Item"]


# --- POST ----------------------------------------------------------------------------------------
def test_post_answers_202_pending_at_once_with_where_to_follow_it(merchant: str) -> None:
    response = post_export(merchant, {"type": "shipments", "format": "csv", "filters": {"status": ["delivered"]}})
    assert response.status == 202
    body = response.json()
    assert body["id"].startswith("exp_") and body["status"] == "pending"
    assert response.headers["location"] == f"/v1/exports/{body['id']}"
    assert (body["rows_written"], body["download_url"], body["created_at"]) == (0, None, "2026-03-10T12:00:00Z")
    assert body["filters"]["status"] == ["delivered"]


def test_the_job_is_written_with_the_event_that_starts_the_worker_ids_only(merchant: str) -> None:
    export_id = requested(merchant, {"type": "shipments", "filters": {"q": "Dupont"}})
    item = job_item(merchant, export_id)
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": _typed(item)}}
    assert pending_events(record) == ("ExportRequested", [{"merchant_id": merchant, "export_id": export_id}])


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in item.items()}


def test_the_job_record_expires_30_days_after_its_creation(merchant: str) -> None:
    export_id = requested(merchant, {"type": "shipments"})
    assert int(job_item(merchant, export_id)[keys.TTL]) == clock.epoch_seconds(NOW + timedelta(days=30))
    clock.advance(timedelta(days=30))
    assert get_export(merchant, export_id).status == 404  # TTL lags: an expired record reads as gone


@pytest.mark.parametrize("body", [
    {"type": "orders"},
    {"format": "csv"},
    {"type": "shipments", "format": "json"},
    {"type": "shipments", "format": "pdf"},
    {"type": "customers", "format": "xlsx"},
    {"type": "customer_data", "format": "json"},
    {"type": "customer_data", "customer_id": "not-an-id"},
    {"type": "shipments", "filters": {"created_from": "2026-03-05", "created_to": "2026-03-01"}},
    {"type": "shipments", "filters": {"created_from": "March"}},
    {"type": "shipments", "filters": {"status": ["lost"]}},
    {"type": "shipments", "filters": {"q": ""}},
    {"type": "shipments", "filters": {"colour": "red"}},
    {"type": "shipments", "extra": True},
])
def test_invalid_requests_are_422_and_create_nothing(merchant: str, body: dict[str, Any]) -> None:
    response = post_export(merchant, body)
    assert response.status == 422, response.body
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]
    assert aws.table().query(KeyConditionExpression="pk = :pk AND begins_with(sk, :e)",
                             ExpressionAttributeValues={":pk": f"M#{merchant}", ":e": "EXPORT#"})["Items"] == []


def test_malformed_json_is_400(merchant: str) -> None:
    response = post_export(merchant, '{"type": "shipments",')
    assert response.status == 400 and response.headers["content-type"] == "application/problem+json"


def test_formats_default_per_type(merchant: str) -> None:
    assert post_export(merchant, {"type": "shipments"}).json()["format"] == "csv"
    assert post_export(merchant, {"type": "customers"}).json()["format"] == "csv"
    customer = CustomerRepository().create(merchant, Customer(id="cus_1", email="a@example.fr", created_at=NOW))
    assert post_export(merchant, {"type": "customer_data", "customer_id": customer.id}).json()["format"] == "json"


def test_a_privacy_export_of_an_unknown_or_another_merchant_s_customer_is_404(merchant: str) -> None:
    other = new_merchant("Other shop")
    theirs = CustomerRepository().create(other, Customer(id="cus_theirs", email="b@example.fr", created_at=NOW))
    for customer_id in ("cus_nobody", theirs.id):
        response = post_export(merchant, {"type": "customer_data", "customer_id": customer_id})
        assert response.status == 404 and customer_id in response.json()["detail"]


# --- GET and links --------------------------------------------------------------------------------
def test_a_ready_export_shows_a_15_minute_link_by_default(merchant: str, ready_export: str) -> None:
    shown = get_export(merchant, ready_export).json()
    assert (shown["status"], shown["row_count"], shown["rows_written"]) == ("ready", 2, 2)
    assert link_seconds(shown["download_url"]) == 900
    assert shown["expires_at"] == "2026-03-10T12:15:00Z"
    assert shown["object_expires_at"] == "2026-03-17T12:00:00Z"
    assert len(csv_rows(fetch(shown["download_url"]))) == 2


def test_expires_in_asks_for_a_link_of_up_to_an_hour(merchant: str, ready_export: str) -> None:
    shown = get_export(merchant, ready_export, expires_in="3600").json()
    assert link_seconds(shown["download_url"]) == 3600 and shown["expires_at"] == "2026-03-10T13:00:00Z"
    assert link_seconds(get_export(merchant, ready_export, expires_in="60").json()["download_url"]) == 60


@pytest.mark.parametrize("seconds", ["3601", "0", "-5", "soon"])
def test_a_link_longer_than_an_hour_or_not_positive_is_422(merchant: str, ready_export: str, seconds: str) -> None:
    assert get_export(merchant, ready_export, expires_in=seconds).status == 422
    assert download(merchant, ready_export, expires_in=seconds).status == 422


def test_download_redirects_to_a_fresh_link_each_time(merchant: str, ready_export: str) -> None:
    first = download(merchant, ready_export)
    assert first.status == 302 and first.headers["cache-control"] == "no-store"
    assert link_seconds(first.headers["location"]) == 900
    clock.advance(timedelta(hours=5))
    later = download(merchant, ready_export, expires_in="1800")
    assert later.status == 302 and link_seconds(later.headers["location"]) == 1800
    assert csv_rows(fetch(later.headers["location"])) == csv_rows(fetch(first.headers["location"]))


def test_a_link_never_outlives_the_object(merchant: str, ready_export: str) -> None:
    clock.advance(timedelta(days=7) - timedelta(minutes=5))
    shown = get_export(merchant, ready_export, expires_in="3600").json()
    assert link_seconds(shown["download_url"]) == 300
    assert shown["expires_at"] == shown["object_expires_at"] == "2026-03-17T12:00:00Z"


def test_after_seven_days_download_is_410_and_no_link_is_shown(merchant: str, ready_export: str) -> None:
    clock.advance(timedelta(days=7))
    response = download(merchant, ready_export)
    assert response.status == 410 and response.headers["content-type"] == "application/problem+json"
    assert "create the export again" in response.json()["detail"]
    shown = get_export(merchant, ready_export).json()
    assert (shown["status"], shown["download_url"], shown["expires_at"]) == ("ready", None, None)


@pytest.mark.parametrize("days", [8, 14, 29])
def test_download_stays_410_for_weeks_after_the_object_is_gone(merchant: str, ready_export: str, days: int) -> None:
    # Not a 404 the day after: the export existed, its file is gone (API.md: 410 once the object is gone).
    clock.advance(timedelta(days=days))
    response = download(merchant, ready_export)
    assert response.status == 410 and "create the export again" in response.json()["detail"]
    assert get_export(merchant, ready_export).json()["download_url"] is None


def test_download_is_410_once_the_object_is_gone_even_early(merchant: str, ready_export: str) -> None:
    key = ExportRepository().get(merchant, ready_export).object_key
    aws.client("s3").delete_object(Bucket=settings().export_bucket, Key=key)
    assert download(merchant, ready_export).status == 410


def test_download_before_the_file_is_ready_is_409(merchant: str) -> None:
    export_id = requested(merchant, {"type": "shipments"})
    response = download(merchant, export_id)
    assert response.status == 409 and "pending" in response.json()["detail"]


def test_a_run_that_outlived_lambda_s_time_limit_shows_failed(merchant: str) -> None:
    export_id = requested(merchant, {"type": "shipments"})
    assert ExportRepository().claim(merchant, export_id, "crashed-attempt") is not None
    assert get_export(merchant, export_id).json()["status"] == "running"
    clock.advance(timedelta(minutes=17))
    shown = get_export(merchant, export_id).json()
    assert shown["status"] == "failed" and "create the export again" in shown["error"]


# --- isolation ------------------------------------------------------------------------------------
def test_another_merchant_never_sees_an_export(merchant: str, ready_export: str) -> None:
    other = new_merchant("Other shop")
    unknown = get_export(other, "exp_doesnotexist")
    for response in (get_export(other, ready_export), download(other, ready_export)):
        assert response.status == 404
        assert response.json()["title"] == unknown.json()["title"] == "Not Found"
        assert "download_url" not in response.body


def test_an_unknown_export_is_404(merchant: str) -> None:
    assert get_export(merchant, "exp_nope").status == 404
    assert download(merchant, "exp_nope").status == 404


def test_routes_need_the_authorizer_s_merchant(aws_env: dict[str, Any]) -> None:
    from functions.export.handler import lambda_handler
    from tests.apigw import api_event, call

    assert call(lambda_handler, api_event("POST", "/v1/exports", body={"type": "shipments"})).status == 401
