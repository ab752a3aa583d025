"""Customer notifications against moto: milestones from real webhook deliveries through the table
stream, one email per (shipment, milestone), records, settings read at send time, failures."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from functions.account.handler import lambda_handler as account_api
from functions.notify import handler as notify_module
from functions.notify.service import RetryLater
from functions.notify.texts import catalogue
from functions.shipments.handler import lambda_handler as shipments_api
from functions.webhook import handler as webhook_module
from shared.merchants.store import MerchantRepository
from shared.notifications.model import NotificationState, NotificationTarget
from shared.notifications.store import NotificationRepository
from shared.platform import clock
from tests.apigw import api_event, call
from tests.component.notify_pipeline import (
    BusEvent,
    Failure,
    Outbox,
    TableStream,
    atomic_dynamodb_requests,
    colis_connection,
    colis_delivery,
    notify,
    recording_outbox,
    ses_sent_count,
)
from tests.factories import address, colis_event, shipment_body

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
BASE_URL = "https://api.colis.test"


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(NOW)
    webhook_module._connections.cache_clear()
    merchant_id = MerchantRepository().create("Atelier Lune SAS", "atelier-lune").id
    patch_settings(merchant_id, {"brand": {"name": "Maison Lune", "color": "#0a7d5a",
                                           "logo_url": "https://cdn.example.com/lune.png"}})
    return merchant_id


@pytest.fixture
def stream(aws_env: dict[str, Any]) -> TableStream:
    return TableStream(aws_env["TABLE_NAME"])


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch, aws_env: dict[str, Any]) -> Outbox:
    return recording_outbox(monkeypatch)


@pytest.fixture
def connection(merchant: str) -> tuple[str, str]:
    return colis_connection(merchant)


def patch_settings(merchant_id: str, patch: dict[str, Any]) -> dict[str, Any]:
    response = call(account_api, api_event("PATCH", "/v1/settings", body=patch, merchant_id=merchant_id))
    assert response.status == 200, response.body
    return response.json()


def new_shipment(merchant_id: str, parcels: int = 1, **recipient: Any) -> dict[str, Any]:
    body = shipment_body(parcels=parcels, recipient=address(**recipient))
    response = call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant_id))
    assert response.status == 201, response.body
    return response.json()


def merchant_action(merchant_id: str, shipment_id: str, action: str) -> None:
    response = call(shipments_api, api_event("POST", f"/v1/shipments/{{shipment_id}}/{action}",
                                             path_params={"shipment_id": shipment_id}, merchant_id=merchant_id))
    assert response.status == 200, response.body


def scan(connection: tuple[str, str], number: str, status: str, minutes: int, **extra: Any) -> None:
    at = NOW + timedelta(minutes=minutes)
    response = colis_delivery(connection, colis_event(number, status, at, **extra))
    assert response.status == 200, response.body


def numbers(shipment: dict[str, Any]) -> list[str]:
    return [parcel["tracking_number"] for parcel in shipment["parcels"]]


def notify_all(stream: TableStream) -> list[dict[str, str]]:
    return [notify(event)["outcomes"] for event in stream.published()]


def subject(language: str, milestone: str, brand: str = "Maison Lune") -> str:
    return catalogue(language)[f"email.{milestone}.subject"].format(brand=brand)


def record(merchant_id: str, shipment_id: str, milestone: str) -> Any:
    return NotificationRepository().get(NotificationTarget(merchant_id, milestone, shipment_id=shipment_id))


# --- milestones, as DESIGN.md §1.2 defines them ---------------------------------------------------
def test_a_new_shipment_emails_ready_to_ship_branded_in_the_recipients_language(
        merchant: str, stream: TableStream, outbox: Outbox) -> None:
    shipment = new_shipment(merchant, parcels=3, language="de", country="FR", first_name="Zoé")
    [created] = stream.published()
    assert created.detail_type == "ShipmentCreated"

    assert notify(created)["outcomes"] == {"ready_to_ship": "sent"}

    [email] = outbox.sent
    texts = catalogue("de")
    first_number = numbers(shipment)[0]
    assert email.to == "camille@example.fr" and email.language == "de" and email.from_name == "Maison Lune"
    assert email.subject == subject("de", "ready_to_ship")
    for part in (email.text, email.html):
        assert f"{BASE_URL}/track/atelier-lune/{first_number}" in part
        assert "Colissimo" in part and texts["parcels.other"].format(count="3") in part
        assert texts["email.greeting"].format(first_name="Zoé") in part
    assert "#0a7d5a" in email.html and 'src="https://cdn.example.com/lune.png"' in email.html
    assert ses_sent_count() == 1


def test_the_record_says_what_was_sent_to_whom_and_when(merchant: str, stream: TableStream, outbox: Outbox) -> None:
    shipment = new_shipment(merchant, language="nl")
    notify_all(stream)

    stored = record(merchant, shipment["id"], "ready_to_ship")
    assert stored.state is NotificationState.sent and stored.reason is None
    assert stored.shipment_id == shipment["id"] and stored.milestone == "ready_to_ship"
    assert stored.language == "nl" and stored.recipient_email == "camille@example.fr"
    assert stored.ses_message_id == outbox.sent[0].message_id
    assert stored.created_at == stored.sent_at == NOW and stored.attempts == 1


def test_a_three_parcel_shipment_gets_exactly_one_email_per_milestone_under_repeated_and_concurrent_updates(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    atomic_dynamodb_requests(monkeypatch)
    patch_settings(merchant, {"notifications": {"out_for_delivery": True}})
    shipment = new_shipment(merchant, parcels=3, language="fr")
    parcels = numbers(shipment)
    phases = [("in_transit", 10), ("out_for_delivery", 60), ("delivered", 120)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        # EventBridge delivers at least once: every event three times, all at the same time.
        results = list(pool.map(notify, stream.published() * 3))
        for status, minutes in phases:
            # Every parcel at once, each update delivered twice (carriers repeat themselves), and
            # a later repeat of the same status with a new event id.
            jobs = [(number, status, minutes + offset, f"{number}-{status}-{offset}")
                    for number in parcels for offset in (0, 0, 5)]
            list(pool.map(lambda job: scan(connection, job[0], job[1], job[2], event_id=job[3]), jobs))

    events = stream.published()
    assert Counter(event.detail_type for event in events) == {"ShipmentTrackingUpdated": 9}  # 3 parcels x 3 moves
    with ThreadPoolExecutor(max_workers=8) as pool:
        results += list(pool.map(notify, [event for event in events for _ in range(3)]))

    sent = ("ready_to_ship", "in_transit", "out_for_delivery", "delivered")
    assert Counter(outbox.subjects()) == {subject("fr", milestone): 1 for milestone in sent}
    assert ses_sent_count() == 4
    outcomes = Counter(outcome for result in results for outcome in result["outcomes"].values())
    assert outcomes["sent"] == 4 and set(outcomes) == {"sent", "duplicate"}
    states = {item.milestone: item.state for item in NotificationRepository().for_shipment(merchant, shipment["id"])}
    assert states == dict.fromkeys(sent, "sent")


def test_in_transit_is_not_sent_when_the_first_scan_already_completes_delivery(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant, language="en")
    notify_all(stream)
    scan(connection, numbers(shipment)[0], "delivered", 30)

    assert notify_all(stream) == [{"delivered": "sent"}]
    assert outbox.subjects() == [subject("en", "ready_to_ship"), subject("en", "delivered")]


def test_delayed_is_sent_once_however_often_a_parcel_is_delayed(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant, parcels=2, language="es")
    first, second = numbers(shipment)
    notify_all(stream)
    for minutes, number, status in [(10, first, "in_transit"), (20, first, "delayed"), (30, first, "in_transit"),
                                    (40, first, "delayed"), (50, second, "delayed")]:
        scan(connection, number, status, minutes)
    notify_all(stream)

    assert Counter(outbox.subjects()) == {subject("es", "ready_to_ship"): 1, subject("es", "in_transit"): 1,
                                          subject("es", "delayed"): 1}


def test_ready_for_pickup_is_off_by_default_and_on_as_soon_as_the_merchant_enables_it(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant, parcels=2, language="en")
    first, second = numbers(shipment)
    stream.published()
    scan(connection, first, "available_for_pickup", 10)
    assert notify_all(stream) == [{"in_transit": "sent", "ready_for_pickup": "disabled"}]
    assert record(merchant, shipment["id"], "ready_for_pickup") is None

    patch_settings(merchant, {"notifications": {"ready_for_pickup": True}})
    scan(connection, second, "available_for_pickup", 20)

    assert notify_all(stream) == [{"in_transit": "duplicate", "ready_for_pickup": "sent"}]
    assert outbox.subjects() == [subject("en", "in_transit"), subject("en", "ready_for_pickup")]


def test_out_for_delivery_is_off_by_default_and_sent_once_as_soon_as_the_merchant_enables_it(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant, parcels=2, language="nl")
    first, second = numbers(shipment)
    notify_all(stream)
    scan(connection, first, "in_transit", 10)
    scan(connection, first, "out_for_delivery", 20)
    assert {"out_for_delivery": "disabled"} in notify_all(stream)
    assert record(merchant, shipment["id"], "out_for_delivery") is None

    patch_settings(merchant, {"notifications": {"out_for_delivery": True}})
    scan(connection, second, "out_for_delivery", 30)  # its first scan: in transit (already told) and out
    scan(connection, first, "failed_attempt", 40)
    scan(connection, first, "out_for_delivery", 50)  # out again the next round: never a second email
    outcomes = notify_all(stream)

    assert {"in_transit": "duplicate", "out_for_delivery": "sent"} in outcomes
    assert {"out_for_delivery": "duplicate"} in outcomes
    assert Counter(outbox.subjects()) == {subject("nl", "ready_to_ship"): 1, subject("nl", "in_transit"): 1,
                                          subject("nl", "out_for_delivery"): 1}
    assert record(merchant, shipment["id"], "out_for_delivery").state is NotificationState.sent
    email = outbox.sent[-1]
    assert catalogue("nl")["email.out_for_delivery.heading"] in email.text
    for number in (first, second):
        assert number in email.text and number in email.html


def test_an_email_lists_every_parcel_the_order_and_the_shops_contact_in_both_parts(
        merchant: str, stream: TableStream, outbox: Outbox) -> None:
    orders_support = pytest.importorskip("tests.component.orders_support")
    patch_settings(merchant, {"support_email": "help@maison-lune.example", "support_url": "https://maison-lune.example/aide"})
    order = orders_support.new_order(merchant)
    body = shipment_body(parcels=3, recipient=address(language="en"), order_id=order["id"])
    response = call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))
    assert response.status == 201, response.body
    shipment = response.json()
    notify_all(stream)

    [email] = [sent for sent in outbox.sent if sent.subject == subject("en", "ready_to_ship")]
    for index, parcel in enumerate(shipment["parcels"], start=1):
        url, number = parcel["public_tracking_url"], parcel["tracking_number"]
        assert url == f"{BASE_URL}/track/atelier-lune/{number}"
        assert f'<a href="{url}"' in email.html and f">{number}</a>" in email.html
        assert f"Parcel {index} of 3: {number}\n{url}\n" in email.text
    assert f"Order number: {order['order_number']}" in email.text and order["order_number"] in email.html
    assert "Carrier: Colissimo" in email.text
    for part in (email.text, email.html):
        assert "help@maison-lune.example" in part and "https://maison-lune.example/aide" in part
    assert 'href="mailto:help@maison-lune.example"' in email.html


def test_times_are_on_the_destinations_clock_as_on_the_tracking_page(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant, language="fr", country="FR")
    notify_all(stream)
    scan(connection, numbers(shipment)[0], "in_transit", 10)  # 12:10 UTC, 14:10 in Paris in May
    notify_all(stream)

    email = outbox.sent[-1]
    assert email.subject == subject("fr", "in_transit")
    texts = catalogue("fr")
    assert texts["label_value"].format(label=texts["label.updated_at"], value="4 mai 2026, 14:10 UTC+2") in email.text


def test_settings_take_effect_for_the_next_email(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str]) -> None:
    # No recipient language, a country without a supported language: the merchant's default decides.
    shipment = new_shipment(merchant, language=None, country="JP", postal_code="100-0001")
    number = numbers(shipment)[0]
    patch_settings(merchant, {"notifications": {"ready_to_ship": False}})
    assert notify_all(stream) == [{"ready_to_ship": "disabled"}]

    patch_settings(merchant, {"default_language": "nl", "brand": {"name": "Lune & Co", "color": "#123456"}})
    scan(connection, number, "in_transit", 10)
    notify_all(stream)

    [email] = outbox.sent
    assert email.language == "nl" and email.subject == subject("nl", "in_transit", brand="Lune & Co")
    assert "Lune &amp; Co" in email.html and "#123456" in email.html and email.from_name == "Lune & Co"


def test_the_destination_country_chooses_the_language_when_the_recipient_has_none(
        merchant: str, stream: TableStream, outbox: Outbox) -> None:
    new_shipment(merchant, language=None, country="BE")
    notify_all(stream)
    assert outbox.sent[0].language == "nl"


# --- what is not sent -------------------------------------------------------------------------------
def test_no_recipient_email_means_no_send_and_a_record_that_says_why(
        merchant: str, stream: TableStream, outbox: Outbox) -> None:
    shipment = new_shipment(merchant, email=None)
    [created] = stream.published()

    assert notify(created)["outcomes"] == {"ready_to_ship": "skipped_no_email"}
    assert notify(created)["outcomes"] == {"ready_to_ship": "duplicate"}
    stored = record(merchant, shipment["id"], "ready_to_ship")
    assert stored.state is NotificationState.skipped_no_email and stored.reason == "recipient_has_no_email"
    assert stored.recipient_email is None and stored.ses_message_id is None
    assert outbox.sent == [] and ses_sent_count() == 0


def test_a_cancelled_shipment_tells_the_customer_nothing_more(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant)
    stream.published()
    merchant_action(merchant, shipment["id"], "void-label")
    scan(connection, numbers(shipment)[0], "in_transit", 10)

    assert [outcomes for outcomes in notify_all(stream) if outcomes] == []
    assert outbox.sent == []


def test_a_shipment_archived_before_its_event_is_handled_gets_no_email(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant)
    stream.published()
    scan(connection, numbers(shipment)[0], "in_transit", 10)
    [update] = stream.published("ShipmentTrackingUpdated")
    merchant_action(merchant, shipment["id"], "archive")

    assert notify(update)["outcomes"] == {"in_transit": "suppressed"}
    assert outbox.sent == [] and record(merchant, shipment["id"], "in_transit") is None


@pytest.mark.parametrize("handled_first", ["ShipmentCreated", "ShipmentTrackingUpdated"])
def test_a_first_scan_a_second_after_creation_never_swallows_ready_to_ship(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str], handled_first: str) -> None:
    shipment = new_shipment(merchant)
    clock.use_fixed(NOW + timedelta(seconds=1))
    scan(connection, numbers(shipment)[0], "in_transit", 0)
    events = stream.published()
    assert [e.detail_type for e in events] == ["ShipmentCreated", "ShipmentTrackingUpdated"]
    events.sort(key=lambda e: e.detail_type != handled_first)

    outcomes = [notify(event)["outcomes"] for event in events]

    assert sorted(outcomes, key=str) == [{"in_transit": "sent"}, {"ready_to_ship": "sent"}]
    assert sorted(outbox.subjects()) == sorted([subject("fr", "ready_to_ship"), subject("fr", "in_transit")])
    assert record(merchant, shipment["id"], "ready_to_ship").state is NotificationState.sent


def test_a_first_scan_handled_at_the_same_time_as_the_creation_sends_both_emails_once(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    atomic_dynamodb_requests(monkeypatch)
    shipment = new_shipment(merchant)
    clock.use_fixed(NOW + timedelta(seconds=1))
    scan(connection, numbers(shipment)[0], "in_transit", 0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(notify, stream.published() * 2))  # each event delivered twice, all at once

    assert Counter(outbox.subjects()) == {subject("fr", "ready_to_ship"): 1, subject("fr", "in_transit"): 1}
    assert ses_sent_count() == 2


# --- failures: at most once, never resent blindly ----------------------------------------------------
def test_a_send_that_times_out_is_unknown_and_never_resent(
        merchant: str, stream: TableStream, outbox: Outbox) -> None:
    shipment = new_shipment(merchant)
    [created] = stream.published()
    outbox.client.failures.append(Failure(ReadTimeoutError(endpoint_url="https://email.eu-west-1.amazonaws.com"),
                                          after_sending=True))

    assert notify(created)["outcomes"] == {"ready_to_ship": "unknown"}
    assert notify(created)["outcomes"] == {"ready_to_ship": "duplicate"}

    stored = record(merchant, shipment["id"], "ready_to_ship")
    assert stored.state is NotificationState.unknown and stored.reason == "ReadTimeoutError"
    assert ses_sent_count() == 1  # SES did send it once; nobody sent it again


def test_a_send_that_failed_before_reaching_ses_is_retried(
        merchant: str, stream: TableStream, outbox: Outbox) -> None:
    shipment = new_shipment(merchant)
    [created] = stream.published()
    outbox.client.failures.append(Failure(EndpointConnectionError(endpoint_url="https://email.eu-west-1.amazonaws.com")))

    with pytest.raises(RetryLater):
        notify(created)  # Lambda retries the event
    failed = record(merchant, shipment["id"], "ready_to_ship")
    assert failed.state is NotificationState.failed and failed.reason == "EndpointConnectionError"

    assert notify(created)["outcomes"] == {"ready_to_ship": "sent"}
    sent = record(merchant, shipment["id"], "ready_to_ship")
    assert sent.state is NotificationState.sent and sent.attempts == 2 and sent.reason is None
    assert ses_sent_count() == 1


def test_an_email_ses_refuses_is_failed_without_a_retry(
        merchant: str, stream: TableStream, outbox: Outbox, monkeypatch: pytest.MonkeyPatch) -> None:
    shipment = new_shipment(merchant)
    [created] = stream.published()
    # The sender identity loses its verification: SES itself refuses the send (MessageRejected).
    # (Another sender address would be refused earlier, by the role's ses:FromAddress condition.)
    boto3.client("ses", region_name="eu-west-1").delete_identity(Identity=os.environ["SENDER_EMAIL"])

    assert notify(created)["outcomes"] == {"ready_to_ship": "failed"}
    stored = record(merchant, shipment["id"], "ready_to_ship")
    assert stored.state is NotificationState.failed and stored.reason == "MessageRejected"
    assert ses_sent_count() == 0


def test_a_claim_left_by_a_dead_invocation_becomes_unknown_and_is_not_resent(
        merchant: str, stream: TableStream, outbox: Outbox) -> None:
    shipment = new_shipment(merchant)
    [created] = stream.published()
    target = NotificationTarget(merchant, "ready_to_ship", shipment_id=shipment["id"])
    assert NotificationRepository().claim(target, language="fr", recipient_email="camille@example.fr").won

    assert notify(created)["outcomes"] == {"ready_to_ship": "duplicate"}
    assert record(merchant, shipment["id"], "ready_to_ship").state is NotificationState.claimed  # may be mid-send

    clock.advance(timedelta(minutes=16))
    assert notify(created)["outcomes"] == {"ready_to_ship": "duplicate"}
    stored = record(merchant, shipment["id"], "ready_to_ship")
    assert stored.state is NotificationState.unknown and stored.reason == "interrupted"
    assert ses_sent_count() == 0


# --- records, retention, logs -----------------------------------------------------------------------
def test_retention_can_redact_the_recipient_of_every_record(
        merchant: str, stream: TableStream, outbox: Outbox, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant)
    notify_all(stream)
    scan(connection, numbers(shipment)[0], "delivered", 10)
    notify_all(stream)
    repository = NotificationRepository()

    assert repository.redact_shipment_recipients(merchant, shipment["id"]) == 2
    assert {item.recipient_email for item in repository.for_shipment(merchant, shipment["id"])} == {"redacted"}


def test_a_redacted_recipient_is_not_emailed(merchant: str, stream: TableStream, outbox: Outbox) -> None:
    shipment = new_shipment(merchant, email="redacted")
    notify_all(stream)
    stored = record(merchant, shipment["id"], "ready_to_ship")
    assert stored.state is NotificationState.skipped_no_email and stored.reason == "recipient_redacted"
    assert outbox.sent == []


def test_logs_hold_ids_and_no_personal_data(merchant: str, stream: TableStream, outbox: Outbox) -> None:
    shipment = new_shipment(merchant, first_name="Zébulon", last_name="Quennec", email="zebulon.quennec@example.fr")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    service_logger = logging.getLogger("colis")  # the powertools logger of every function
    service_logger.addHandler(handler)
    try:
        notify_all(stream)
    finally:
        service_logger.removeHandler(handler)

    output = " ".join(f"{record.getMessage()} {vars(record)}" for record in records).casefold()
    assert shipment["id"].casefold() in output and "ready_to_ship" in output
    for personal in ("zébulon", "quennec", "zebulon.quennec@example.fr", "rue des lilas", "69003", "+33698765432"):
        assert personal not in output


def test_other_event_types_are_ignored(merchant: str, outbox: Outbox) -> None:
    result = notify(BusEvent("ShipmentStatusChanged", {"merchant_id": merchant, "shipment_id": "shp_x"}))
    assert result["outcomes"] == {} and outbox.sent == []


# --- order cancellation (the orders area's OrderCancelled event) ---------------------------------------
class FakeOrders:
    """Stands in for shared/orders.py's OrderRepository: the attributes the email reads."""

    def __init__(self, orders: dict[str, Any]) -> None:
        self.orders = orders

    def get(self, merchant_id: str, order_id: str) -> Any:
        return self.orders[order_id]


def cancelled(merchant_id: str, order_id: str, **overrides: Any) -> BusEvent:
    detail = {"merchant_id": merchant_id, "order_id": order_id, "notify_customer": True, "refund_total": "1234.50",
              "currency": "EUR", "source": "merchant", "cancelled_at": "2026-05-04T11:00:00Z", **overrides}
    return BusEvent("OrderCancelled", json.loads(json.dumps(detail)))


@pytest.fixture
def orders(monkeypatch: pytest.MonkeyPatch) -> FakeOrders:
    order = SimpleNamespace(
        order_number="#1001", customer=SimpleNamespace(email="zoe@example.fr", first_name="Zoé"),
        shipping_address=SimpleNamespace(language=None, country="FR", email=None))
    fake = FakeOrders({"ord_1": order})
    monkeypatch.setattr(notify_module, "_orders", lambda: fake)
    return fake


def test_a_cancelled_order_with_notify_customer_gets_one_localised_email(
        merchant: str, outbox: Outbox, orders: FakeOrders) -> None:
    assert notify(cancelled(merchant, "ord_1"))["outcomes"] == {"order_cancelled": "sent"}
    assert notify(cancelled(merchant, "ord_1"))["outcomes"] == {"order_cancelled": "duplicate"}

    [email] = outbox.sent
    texts = catalogue("fr")
    assert email.to == "zoe@example.fr" and email.language == "fr"
    assert email.subject == texts["cancellation.subject_with_number"].format(brand="Maison Lune", order_number="#1001")
    assert "1\u202f234,50\xa0€" in email.text
    # No contact in the settings: the email can only say who to ask.
    assert catalogue("fr")["cancellation.questions"].format(brand="Maison Lune") in email.text
    stored = NotificationRepository().get(NotificationTarget(merchant, "order_cancelled", order_id="ord_1"))
    assert stored.state is NotificationState.sent and stored.recipient_email == "zoe@example.fr"


def test_a_cancellation_gives_the_shops_support_contact(merchant: str, outbox: Outbox, orders: FakeOrders) -> None:
    patch_settings(merchant, {"support_email": "aide@maison-lune.example", "support_url": "https://maison-lune.example/aide"})
    notify(cancelled(merchant, "ord_1"))

    [email] = outbox.sent
    texts = catalogue("fr")
    assert texts["email.support.heading"].format(brand="Maison Lune") in email.text
    assert texts["label_value"].format(label=texts["email.support.email"], value="aide@maison-lune.example") in email.text
    assert texts["label_value"].format(label=texts["email.support.url"], value="https://maison-lune.example/aide") in email.text
    assert 'href="mailto:aide@maison-lune.example"' in email.html and 'href="https://maison-lune.example/aide"' in email.html
    assert texts["cancellation.questions"].format(brand="Maison Lune") not in email.text


def test_a_cancellation_the_merchant_keeps_quiet_sends_nothing(
        merchant: str, outbox: Outbox, orders: FakeOrders) -> None:
    assert notify(cancelled(merchant, "ord_1", notify_customer=False))["outcomes"] == {}
    assert outbox.sent == []


def test_a_cancellation_without_refund_says_nothing_of_money(
        merchant: str, outbox: Outbox, orders: FakeOrders) -> None:
    notify(cancelled(merchant, "ord_1", refund_total=None, currency=None))
    assert "€" not in outbox.sent[0].text


def test_a_real_order_cancelled_with_notify_customer_is_emailed_once(
        merchant: str, stream: TableStream, outbox: Outbox) -> None:
    """With the orders area's own repository and cancel route (skipped while it is not there)."""
    orders_support = pytest.importorskip("tests.component.orders_support")
    order = orders_support.new_order(merchant, shipping_address=address(language="es", email=None))
    response = orders_support.cancel(merchant, order["id"], notify_customer=True, source="merchant")
    assert response.status == 200, response.body

    cancellations = stream.published("OrderCancelled")
    assert [notify(event)["outcomes"] for event in cancellations * 2] == [{"order_cancelled": "sent"},
                                                                        {"order_cancelled": "duplicate"}]
    [email] = outbox.sent
    assert email.to == "lea.martin@example.fr" and email.language == "es"
    assert email.subject == catalogue("es")["cancellation.subject_with_number"].format(
        brand="Maison Lune", order_number=order["order_number"])


# --- GET /v1/shipments/{id}/notifications -------------------------------------------------------
def shipment_emails(merchant_id: str, shipment_id: str) -> Any:
    return call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}/notifications",
                                         path_params={"shipment_id": shipment_id}, merchant_id=merchant_id))


def test_the_emails_sent_about_a_shipment_are_listed_without_the_address(
        merchant: str, stream: TableStream, outbox: Outbox) -> None:
    shipment = new_shipment(merchant, language="nl")
    assert shipment_emails(merchant, shipment["id"]).json() == {"items": [], "next_cursor": None}
    notify_all(stream)
    response = shipment_emails(merchant, shipment["id"])
    assert response.status == 200
    [email] = response.json()["items"]
    assert (email["milestone"], email["language"], email["state"]) == ("ready_to_ship", "nl", "sent")
    assert email["sent_at"] == email["created_at"] and email["sent_at"].startswith("2026-05-04T12:00:00")
    assert "camille@example.fr" not in response.body and "recipient_email" not in email


def test_the_emails_of_an_unknown_or_foreign_shipment_are_404(merchant: str, stream: TableStream,
                                                               outbox: Outbox) -> None:
    shipment = new_shipment(merchant)
    notify_all(stream)
    other = MerchantRepository().create("Fromagerie Vasseur").id
    assert shipment_emails(other, shipment["id"]).status == 404
    assert shipment_emails(merchant, "shp_nobody").status == 404
