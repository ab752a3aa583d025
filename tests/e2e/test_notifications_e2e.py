"""End to end on the local stack: signed carrier webhooks for the parcels of a shipment produce
exactly one email per milestone in `/_local/outbox`, in the recipient's language, and the
tracking page follows."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
import requests

from functions.notify.texts import catalogue
from tests.carrier_signing import colis_headers
from tests.e2e.conftest import ApiClient
from tests.factories import address, body_bytes, colis_event, shipment_body

pytestmark = pytest.mark.xdist_group("e2e")

WAIT_SECONDS = 30
QUIET_SECONDS = 3  # after the last expected email: time for a duplicate to show up if there were one
T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = WAIT_SECONDS) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def product_now(public_api: ApiClient) -> datetime:
    return datetime.fromisoformat(public_api.get("/_local/clock").json()["now"].replace("Z", "+00:00"))


def emails_to(public_api: ApiClient, address_: str) -> list[dict[str, Any]]:
    response = public_api.get("/_local/outbox")
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if address_ in item["to"]]


def subjects_to(public_api: ApiClient, address_: str) -> list[str]:
    return [item["subject"] for item in emails_to(public_api, address_)]


def signed_delivery(webhook: dict[str, Any], payload: dict[str, Any], at: datetime) -> requests.Response:
    raw = body_bytes(payload)
    headers = {"Content-Type": "application/json", **colis_headers(webhook["secret"], raw, at)}
    return requests.post(webhook["url"], data=raw, headers=headers, timeout=60)


def deliver_concurrently(webhook: dict[str, Any], payloads: list[dict[str, Any]], at: datetime) -> None:
    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        answers = list(pool.map(lambda payload: signed_delivery(webhook, payload, at), payloads))
    assert [answer.status_code for answer in answers] == [200] * len(payloads), [a.text for a in answers]


def test_signed_webhooks_produce_exactly_one_email_per_milestone_in_the_recipients_language(
        local_stack: dict[str, Any], api: ApiClient, public_api: ApiClient) -> None:
    brand = f"Lune {uuid.uuid4().hex[:6]}"
    assert api.patch("/v1/settings", json={"brand": {"name": brand, "color": "#0a7d5a"}, "default_language": "en",
                                           "notifications": {"ready_to_ship": True, "in_transit": True,
                                                             "delivered": True}}).status_code == 200
    recipient = f"zoe.{uuid.uuid4().hex[:10]}@example.de"
    body = shipment_body(parcels=3, carrier="DHL", recipient=address(
        first_name="Zoé", email=recipient, language="de", country="DE", city="Berlin", postal_code="10115"))
    created = api.post("/v1/shipments", json=body)
    assert created.status_code == 201, created.text
    numbers = [parcel["tracking_number"] for parcel in created.json()["parcels"]]
    german = {milestone: catalogue("de")[f"email.{milestone}.subject"].format(brand=brand)
              for milestone in ("ready_to_ship", "in_transit", "delivered")}
    wait_for(lambda: german["ready_to_ship"] in subjects_to(public_api, recipient), "the ready-to-ship email")

    webhook = local_stack["webhooks"]["colis"]
    scanned_at = product_now(public_api) - timedelta(minutes=30)
    # Every parcel scanned at once, each scan delivered twice (carriers repeat themselves).
    deliver_concurrently(webhook, [colis_event(number, "in_transit", scanned_at, event_id=f"{number}-scan")
                                   for number in numbers for _ in range(2)], product_now(public_api))
    wait_for(lambda: german["in_transit"] in subjects_to(public_api, recipient), "the in-transit email")
    delivered_at = scanned_at + timedelta(minutes=20)
    deliver_concurrently(webhook, [colis_event(number, "delivered", delivered_at, event_id=f"{number}-pod")
                                   for number in numbers for _ in range(2)], product_now(public_api))
    wait_for(lambda: german["delivered"] in subjects_to(public_api, recipient), "the delivered email")
    time.sleep(QUIET_SECONDS)

    emails = emails_to(public_api, recipient)
    assert Counter(item["subject"] for item in emails) == {subject: 1 for subject in german.values()}
    texts = catalogue("de")
    for item in emails:
        assert item["to"] == recipient
        assert f"{local_stack['api_url']}/track/{local_stack['tracking_slug']}/" in item["html"] and brand in item["html"]
        assert texts["parcels.other"].format(count="3") in item["html"] and "DHL" in item["html"]
        # Both parts of what SES sent (multipart/alternative) list every parcel with its page.
        for number in numbers:
            link = f"{local_stack['api_url']}/track/{local_stack['tracking_slug']}/{number}"
            assert link in item["html"] and f"{number}\n{link}" in item["text"]
    page = public_api.get(f"/track/{local_stack['tracking_slug']}/{numbers[0]}", headers={"Accept": "application/json"})
    assert page.status_code == 200
    assert page.json()["status"] == "delivered" and page.json()["shipment_status"] == "delivered"
    assert page.json()["language"] == "de" and page.json()["merchant"]["name"] == brand


def test_the_tracking_page_answers_json_html_and_404_through_the_gateway(
        api: ApiClient, public_api: ApiClient, local_stack: dict[str, Any]) -> None:
    created = api.post("/v1/shipments", json=shipment_body())
    assert created.status_code == 201, created.text
    number = created.json()["parcels"][0]["tracking_number"]

    slug = local_stack["tracking_slug"]
    assert created.json()["parcels"][0]["public_tracking_url"] == f"{local_stack['api_url']}/track/{slug}/{number}"
    as_json = public_api.get(f"/track/{slug}/{number}", headers={"Accept": "application/json"})
    as_html = public_api.get(f"/track/{slug}/{number}?lang=nl")
    unknown = public_api.get(f"/track/{slug}/NOSUCHNUMBER1", headers={"Accept": "application/json"})
    assert public_api.get(f"/track/{number}").status_code == 404  # no page without the merchant's slug

    assert as_json.status_code == 200 and as_json.json()["tracking_number"] == number
    assert as_html.status_code == 200 and as_html.headers["Content-Type"] == "text/html; charset=utf-8"
    assert catalogue("nl")["page.title"] in as_html.text
    assert as_html.headers["Cache-Control"] == "public, max-age=60"
    assert unknown.status_code == 404 and unknown.headers["Content-Type"] == "application/problem+json"
