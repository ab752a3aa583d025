"""Each webhook event type from the domain action that causes it, end to end in process: the API
or worker writes its change with an outbox entry, the table's stream gives the event as
`functions/outbox` publishes it, the bus rule's queue hands it to the delivery function, and a
loopback receiver verifies the delivery with the reference `standardwebhooks` library. Then the
disable rule's email to the merchant: the endpoint's disabling write publishes its event, and the
notify function emails the merchant's contact once, in the merchant's language."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from functions.outbound import delivery_handler
from functions.outbound.delivery import DISABLE_AFTER
from functions.outbound.handler import lambda_handler as outbound_api
from functions.retention.erase_handler import lambda_handler as erase_api
from shared.events.catalogue import WebhookEndpointAutoDisabled
from shared.merchants.model import Settings
from shared.merchants.store import MerchantRepository
from shared.notifications.suppression import SuppressionList, SuppressionReason
from shared.platform import clock
from shared.webhooks.model import EVENT_TYPES
from shared.webhooks.payloads import DATA_OF
from shared.webhooks.store import WebhookEndpointStore
from tests.apigw import LambdaContext, api_event, call
from tests.component.customer_support import csv_bytes, import_file, person
from tests.component.notify_pipeline import BusEvent, Outbox, TableStream, notify, recording_outbox
from tests.component.orders_support import new_order
from tests.component.webhook_receiver import Receiver, receiving
from tests.export_support import create_shipment, requested, run, worker
from tests.least_privilege import REGION

pytest.importorskip("standardwebhooks", reason="standardwebhooks (requirements-dev.lock) is not installed")

QUEUE = "colis-OutboundQueue"
PERSONAL = ("name", "email", "address", "phone", "recipient", "note", "reason", "city", "postal", "street")
PERSONAL_VALUES = ("Léa", "Martin", "lea.martin@example.fr", "Bellecour")


@pytest.fixture
def env(aws_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName=QUEUE)["QueueUrl"]
    monkeypatch.setenv("OUTBOUND_QUEUE_URL", url)
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "true")
    return aws_env


@pytest.fixture
def stream(env: dict[str, Any]) -> TableStream:
    return TableStream(env["TABLE_NAME"])


@pytest.fixture
def merchant(env: dict[str, Any], stream: TableStream) -> str:
    merchant_id = MerchantRepository().create("Atelier Lune").id
    stream.published()  # the merchant's own writes are not the test's
    return merchant_id


@pytest.fixture
def receiver(merchant: str) -> Any:
    with receiving(Receiver()) as running:
        response = call(outbound_api, api_event("POST", "/v1/webhook-endpoints",
                                                body={"url": running.url, "events": ["*"]}, merchant_id=merchant))
        assert response.status == 201, response.body
        running.secrets.append(response.json()["secret"])
        running.endpoint_id = response.json()["id"]
        yield running


def _through_the_bus(stream: TableStream) -> list[str]:
    """Every event written since the last call, as the outbound rule's queue hands it to the
    delivery function; answers their detail-types."""
    published = stream.published()
    records = [{"messageId": str(uuid.uuid4()), "receiptHandle": "r", "md5OfBody": "x", "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{QUEUE}", "awsRegion": REGION,
                "attributes": {}, "messageAttributes": {}, "body": json.dumps(event.as_delivered())}
               for event in published]
    if records:
        answer = delivery_handler.lambda_handler({"Records": records}, LambdaContext())
        assert answer == {"batchItemFailures": []}
    return [event.detail_type for event in published]


def _received(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    return [payload for payload in receiver.events.values() if payload["type"] == kind]


def _only(receiver: Receiver, kind: str) -> dict[str, Any]:
    found = _received(receiver, kind)
    assert len(found) == 1, (kind, [p["type"] for p in receiver.events.values()])
    return found[0]["data"]


def _thin(data: dict[str, Any]) -> None:
    """Ids, statuses, counts, amounts and times: no field or value that is personal data."""
    assert not [key for key in data if any(word in key for word in PERSONAL)]
    assert not [value for value in PERSONAL_VALUES if value in json.dumps(data, ensure_ascii=False)]


def test_an_imported_order_sends_order_created(merchant: str, stream: TableStream, receiver: Receiver) -> None:
    order = new_order(merchant)
    assert "OrderCreated" in _through_the_bus(stream)
    data = _only(receiver, "order.created")
    created_at = data.pop("created_at")
    assert datetime.fromisoformat(created_at) == datetime.fromisoformat(order["created_at"])
    assert data == {"order_id": order["id"], "order_number": order["order_number"],
                    "customer_id": order["customer_id"], "status": "paid", "payment_mode": "platform",
                    "currency": "EUR", "total": "120.00"}
    _thin(data)
    assert receiver.unverified == 0


def test_an_external_order_is_created_open(merchant: str, stream: TableStream, receiver: Receiver) -> None:
    new_order(merchant, payment_mode="external")
    _through_the_bus(stream)
    assert _only(receiver, "order.created")["status"] == "open"


def test_a_finished_export_sends_export_ready(merchant: str, stream: TableStream, receiver: Receiver) -> None:
    create_shipment(merchant, parcels=2)
    export_id = requested(merchant, {"type": "shipments", "format": "csv"})
    _through_the_bus(stream)
    assert _received(receiver, "export.ready") == []  # requested is not ready
    run(merchant, export_id)
    _through_the_bus(stream)
    data = _only(receiver, "export.ready")
    assert data["export_id"] == export_id and data["status"] == "ready" and data["row_count"] == 2
    assert (data["export_type"], data["format"]) == ("shipments", "csv") and data["finished_at"]
    assert _received(receiver, "export.failed") == []


def test_a_failed_export_sends_export_failed(merchant: str, stream: TableStream, receiver: Receiver) -> None:
    create_shipment(merchant)
    export_id = requested(merchant, {"type": "shipments"})
    the_worker = worker()

    def s3_down(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "PutObject")

    the_worker.files.s3.meta.events.register("before-call.s3", s3_down)
    try:
        run(merchant, export_id, the_worker)
    finally:
        the_worker.files.s3.meta.events.unregister("before-call.s3", s3_down)
    _through_the_bus(stream)
    data = _only(receiver, "export.failed")
    assert data["export_id"] == export_id and data["status"] == "failed" and data["row_count"] is None
    assert _received(receiver, "export.ready") == []


def test_a_customer_import_sends_customer_import_done(merchant: str, stream: TableStream,
                                                     receiver: Receiver) -> None:
    data_file = csv_bytes([person("lea", "lea.martin@example.fr", **{"First Name": "Léa", "Last Name": "Martin"}),
                           person("", "")])
    report = import_file(merchant, data_file)
    assert report["status"] == "done"
    _through_the_bus(stream)
    data = _only(receiver, "customer_import.done")
    assert data["import_id"] == report["id"] and data["status"] == "done"
    assert (data["rows_processed"], data["created"], data["skipped"]) == (report["rows_processed"],
                                                                         report["created"], report["skipped"])
    _thin(data)


def test_an_erasure_sends_customer_erased_once(merchant: str, stream: TableStream, receiver: Receiver) -> None:
    order = new_order(merchant)
    customer_id = order["customer_id"]

    def erase() -> None:
        response = call(erase_api, api_event("POST", "/v1/customers/{customer_id}/erase",
                                             path_params={"customer_id": customer_id}, merchant_id=merchant))
        assert response.status == 200, response.body

    erase()
    _through_the_bus(stream)
    data = _only(receiver, "customer.erased")
    assert data["customer_id"] == customer_id and data["absorbed_ids"] == [] and data["erased_at"]
    erase()  # sent again (as after a 503): nothing more is announced
    assert "CustomerErased" not in _through_the_bus(stream)
    assert len(_received(receiver, "customer.erased")) == 1


def test_every_event_type_merchants_subscribe_to_is_described_and_sourced() -> None:
    # Each type has its payload in the OpenAPI document's `webhooks` (DATA_OF), and a test above or
    # in test_webhook_delivery.py shows the domain action that sends it.
    assert set(EVENT_TYPES) <= set(DATA_OF)


# --- the disable rule's email ---------------------------------------------------------------------------
@pytest.fixture
def outbox(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Outbox:
    return recording_outbox(monkeypatch)


def _set_contact(merchant: str, **fields: Any) -> None:
    merchants = MerchantRepository()
    current = merchants.get(merchant).settings.model_dump()
    merchants.save_settings(merchant, Settings.model_validate({**current, **fields}))


def _failing_for(merchant: str, endpoint_id: str, period: timedelta) -> None:
    store = WebhookEndpointStore()
    store.save(merchant, store.get(merchant, endpoint_id).model_copy(update={"failing_since": clock.now() - period}))


def _one_failed_delivery(merchant: str, receiver: Receiver, stream: TableStream) -> list[BusEvent]:
    """A failing attempt on an endpoint failing for 5 days; answers the events it published."""
    receiver.answer = (503, {}, b"down")
    stream.published()
    response = call(outbound_api, api_event("POST", "/v1/webhook-endpoints/{endpoint_id}/test",
                                            path_params={"endpoint_id": receiver.endpoint_id}, merchant_id=merchant))
    assert response.status == 202
    delivery_handler.lambda_handler({"Records": [{
        "messageId": "m1", "receiptHandle": "r", "md5OfBody": "x", "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{QUEUE}", "awsRegion": REGION, "attributes": {},
        "messageAttributes": {},
        "body": json.dumps({"outbound": "ping", "merchant_id": merchant, "endpoint_id": receiver.endpoint_id}),
    }]}, LambdaContext())
    return stream.published(WebhookEndpointAutoDisabled.name)


def test_a_disabled_endpoint_emails_the_merchant_once_in_its_language(merchant: str, stream: TableStream,
                                                                     receiver: Receiver, outbox: Outbox,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _set_contact(merchant, notification_email="tech@atelier-lune.example", support_email="help@atelier-lune.example",
                 default_language="fr")
    _failing_for(merchant, receiver.endpoint_id, DISABLE_AFTER + timedelta(minutes=1))
    events = _one_failed_delivery(merchant, receiver, stream)
    assert len(events) == 1 and events[0].detail["endpoint_id"] == receiver.endpoint_id
    assert WebhookEndpointStore().get(merchant, receiver.endpoint_id).enabled is False
    disabled_at = datetime.fromisoformat(events[0].detail["disabled_at"])
    assert notify(events[0])["outcomes"] == {f"endpoint_disabled_{clock.epoch_seconds(disabled_at)}": "sent"}
    assert [email.to for email in outbox.sent] == ["tech@atelier-lune.example"]
    email = outbox.sent[0]
    assert email.language == "fr" and email.subject == "Votre point de terminaison webhook Colis a été désactivé"
    assert receiver.endpoint_id in email.text and receiver.url in email.text and email.from_name == "Colis"
    assert "PATCH /v1/webhook-endpoints/" in email.text and '{"enabled": true}' in email.text
    # The same event again (EventBridge delivers at least once): no second email.
    assert list(notify(events[0])["outcomes"].values()) == ["duplicate"]
    assert len(outbox.sent) == 1
    # Later failures of the disabled endpoint publish nothing more.
    assert _one_failed_delivery(merchant, receiver, stream) == []
    # The signing secret is in none of it: logs, the published event, the email, the delivery log.
    secret = receiver.secrets[0]
    deliveries = call(outbound_api, api_event("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries",
                                              path_params={"endpoint_id": receiver.endpoint_id},
                                              merchant_id=merchant))
    for text in (capsys.readouterr().out, json.dumps(events[0].detail), email.text, email.html, deliveries.body):
        assert secret not in text and secret.removeprefix("whsec_") not in text


def test_each_disablement_is_emailed_and_support_email_stands_in(merchant: str, stream: TableStream,
                                                                receiver: Receiver, outbox: Outbox) -> None:
    _set_contact(merchant, support_email="help@atelier-lune.example", default_language="de")
    for _ in range(2):
        _failing_for(merchant, receiver.endpoint_id, DISABLE_AFTER)
        (event,) = _one_failed_delivery(merchant, receiver, stream)
        assert list(notify(event)["outcomes"].values()) == ["sent"]
        call(outbound_api, api_event("PATCH", "/v1/webhook-endpoints/{endpoint_id}", body={"enabled": True},
                                     path_params={"endpoint_id": receiver.endpoint_id}, merchant_id=merchant))
        clock.advance(timedelta(days=1))
    assert [email.to for email in outbox.sent] == ["help@atelier-lune.example"] * 2
    assert all(email.language == "de" and "deaktiviert" in email.subject for email in outbox.sent)


def test_no_contact_or_a_suppressed_one_sends_nothing(merchant: str, stream: TableStream, receiver: Receiver,
                                                      outbox: Outbox) -> None:
    _failing_for(merchant, receiver.endpoint_id, DISABLE_AFTER)
    (event,) = _one_failed_delivery(merchant, receiver, stream)
    assert list(notify(event)["outcomes"].values()) == ["skipped_no_email"]
    call(outbound_api, api_event("PATCH", "/v1/webhook-endpoints/{endpoint_id}", body={"enabled": True},
                                 path_params={"endpoint_id": receiver.endpoint_id}, merchant_id=merchant))
    clock.advance(timedelta(days=1))
    _set_contact(merchant, notification_email="gone@atelier-lune.example")
    SuppressionList().add(merchant, "gone@atelier-lune.example", SuppressionReason.bounced, ses_message_id=None)
    _failing_for(merchant, receiver.endpoint_id, DISABLE_AFTER)
    (event,) = _one_failed_delivery(merchant, receiver, stream)
    assert list(notify(event)["outcomes"].values()) == ["suppressed_address"]
    assert outbox.sent == []


def test_the_merchant_sets_its_notification_email(merchant: str) -> None:
    from functions.account.handler import lambda_handler as account

    bad = call(account, api_event("PATCH", "/v1/settings", body={"notification_email": "not an address"},
                                  merchant_id=merchant))
    assert bad.status == 422 and "notification_email" in bad.body
    good = call(account, api_event("PATCH", "/v1/settings", body={"notification_email": "tech@shop.example"},
                                   merchant_id=merchant))
    assert good.status == 200 and good.json()["notification_email"] == "tech@shop.example"
