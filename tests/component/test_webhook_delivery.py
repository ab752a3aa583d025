"""Signed outbound webhooks end to end in-process: bus event -> queue message -> delivery function
-> a real HTTP receiver on loopback that verifies each request with the reference
`standardwebhooks` library; retries run by moving the product clock and invoking the schedule."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import boto3
import pytest

from functions.outbound import delivery_handler
from functions.outbound.delivery import DISABLE_AFTER, RETRY_WINDOW
from functions.outbound.handler import lambda_handler as outbound_api
from shared.events.catalogue import (
    CustomerMerged,
    Event,
    ExportRequested,
    RefundIssued,
    ShipmentCreated,
    ShipmentTrackingUpdated,
)
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from shared.webhooks.store import WebhookEndpointStore
from tests.apigw import LambdaContext, api_event, call
from tests.component.webhook_receiver import Receiver, receiving
from tests.least_privilege import REGION

pytest.importorskip("standardwebhooks", reason="standardwebhooks (requirements-dev.lock) is not installed")

QUEUE = "colis-OutboundQueue"  # the physical name local/iam.py gives the template's OutboundQueue
PII = ("name", "email", "address", "phone", "recipient", "note", "reason", "city", "postal")


@pytest.fixture
def env(aws_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName=QUEUE)["QueueUrl"]
    monkeypatch.setenv("OUTBOUND_QUEUE_URL", url)
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "true")
    return {**aws_env, "queue_url": url}


@pytest.fixture
def merchant(env: dict[str, Any]) -> str:
    return MerchantRepository().create("Atelier Lune").id


@pytest.fixture
def receiver() -> Any:
    with receiving(Receiver()) as running:
        yield running


def _endpoint(merchant: str, url: str, events: list[str], receiver: Receiver | None = None) -> str:
    response = call(outbound_api, api_event("POST", "/v1/webhook-endpoints", body={"url": url, "events": events},
                                            merchant_id=merchant))
    assert response.status == 201, response.body
    if receiver is not None:
        receiver.secrets.append(response.json()["secret"])
    return str(response.json()["id"])


def _bus(event: Event) -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": event.name, "source": "colis",
            "time": clock.isoformat(clock.now()), "detail": json.loads(event.model_dump_json())}


def _deliver(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """The delivery function given these queue messages, as the SQS event source hands them."""
    records = [{"messageId": str(uuid.uuid4()), "receiptHandle": "r", "md5OfBody": "x", "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{QUEUE}", "awsRegion": REGION,
                "attributes": {}, "messageAttributes": {},
                "body": body if isinstance(body, str) else json.dumps(body)} for body in bodies]
    return dict(delivery_handler.lambda_handler({"Records": records}, LambdaContext()))


def _drain_queue(queue_url: str) -> list[str]:
    messages = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [m["Body"] for m in messages.get("Messages", [])]


def _run_retries_until_quiet(step: timedelta = timedelta(minutes=30), limit: timedelta = timedelta(days=4)) -> None:
    moved = timedelta()
    while moved < limit:
        clock.advance(step)
        moved += step
        delivery_handler.lambda_handler({}, LambdaContext())
        if not WebhookEndpointStore().pending(clock.now()):
            return


def _tracking(merchant: str, previous: str, status: str) -> ShipmentTrackingUpdated:
    return ShipmentTrackingUpdated(merchant_id=merchant, shipment_id="shp_1", parcel_id="prc_1",
                                   previous_parcel_status=previous, parcel_status=status,
                                   previous_shipment_status=previous, shipment_status=status,
                                   occurred_at=clock.now(), parcel_count=1)


def _deliveries(merchant: str, endpoint_id: str) -> list[dict[str, Any]]:
    response = call(outbound_api, api_event("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries",
                                            path_params={"endpoint_id": endpoint_id}, merchant_id=merchant))
    assert response.status == 200, response.body
    return list(response.json()["items"])


def test_a_bus_event_reaches_the_subscribed_endpoints_signed_and_thin(merchant: str, receiver: Receiver) -> None:
    everything = _endpoint(merchant, receiver.url, ["*"], receiver)
    _endpoint(merchant, receiver.url + "?only=delivered", ["shipment.delivered"], receiver)
    _endpoint(merchant, receiver.url + "?only=orders", ["order.cancelled"], receiver)
    assert _deliver(_bus(_tracking(merchant, "out_for_delivery", "delivered"))) == {"batchItemFailures": []}
    # status_changed to "*" only; delivered to "*" and to the delivered-only endpoint.
    assert sorted(p["type"] for p in receiver.events.values()) == ["shipment.delivered", "shipment.delivered",
                                                                   "shipment.status_changed"]
    assert receiver.requests == 3 and receiver.unverified == 0
    delivered = next(p for p in receiver.events.values() if p["type"] == "shipment.delivered")
    assert delivered["id"].startswith("evt_") and set(delivered) == {"id", "type", "created_at", "data"}
    assert delivered["data"]["status"] == "delivered" and delivered["data"]["previous_status"] == "out_for_delivery"
    assert not any(word in key for key in delivered["data"] for word in PII)
    headers = receiver.headers[0]
    assert headers["webhook-signature"].startswith("v1,") and headers["content-type"] == "application/json"
    log = _deliveries(merchant, everything)
    assert {d["event_type"] for d in log} == {"shipment.status_changed", "shipment.delivered"}
    assert all(d["id"].startswith("whd_") and d["status_code"] == 204 and d["error"] is None and d["attempt"] == 1
               and d["next_attempt_at"] is None and d["latency_ms"] >= 0 for d in log)


@pytest.mark.parametrize(("event", "expected"), [
    (lambda m: ShipmentCreated(merchant_id=m, shipment_id="shp_9", order_id="ord_9", parcel_count=2),
     {"shipment.created", "order.shipped"}),
    (lambda m: RefundIssued(merchant_id=m, order_id="ord_1", refund_id="ref_1", total=Decimal("12.50"),
                            currency="EUR", fee_returned=Decimal("0.30"), kind="partial", created_at=clock.now()),
     {"refund.succeeded"}),
    (lambda m: CustomerMerged(merchant_id=m, master_id="cus_1", absorbed_id="cus_2"), {"customer.merged"}),
    (lambda m: ExportRequested(merchant_id=m, export_id="exp_1"), set()),
])
def test_each_sourced_domain_event_gives_its_webhook_events(merchant: str, receiver: Receiver, event: Any,
                                                            expected: set[str]) -> None:
    _endpoint(merchant, receiver.url, ["*"], receiver)
    _deliver(_bus(event(merchant)))
    assert {p["type"] for p in receiver.events.values()} == expected
    refund = next((p for p in receiver.events.values() if p["type"] == "refund.succeeded"), None)
    if refund:
        assert refund["data"]["total"] == "12.50" and refund["data"]["currency"] == "EUR"


def test_merchant_b_never_receives_merchant_a_events(merchant: str, receiver: Receiver) -> None:
    other = MerchantRepository().create("Other Shop").id
    with receiving(Receiver()) as theirs:
        _endpoint(other, theirs.url, ["*"], theirs)
        _endpoint(merchant, receiver.url, ["*"], receiver)
        _deliver(_bus(_tracking(merchant, "in_transit", "delivered")))
        assert theirs.requests == 0 and len(receiver.received) == 2
        _deliver(_bus(_tracking(other, "in_transit", "exception")))
        assert len(receiver.received) == 2 and {p["type"] for p in theirs.events.values()} == {
            "shipment.status_changed", "shipment.exception"}


def test_a_receiver_that_fails_for_a_while_gets_every_event_at_least_once(merchant: str, receiver: Receiver) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    receiver.fail_next = 7
    sent = [_bus(CustomerMerged(merchant_id=merchant, master_id=f"cus_{i}", absorbed_id=f"cus_x{i}"))
            for i in range(5)]
    assert _deliver(*sent)["batchItemFailures"] == []
    _run_retries_until_quiet()
    assert len(receiver.received) == 5, "an event was lost"
    assert {p["data"]["customer_id"] for p in receiver.events.values()} == {f"cus_{i}" for i in range(5)}
    assert receiver.unverified == 0
    log = _deliveries(merchant, endpoint)
    assert len(log) == 5 + 7
    failed = [d for d in log if d["error"]]
    assert all(d["status_code"] == 500 and d["next_attempt_at"] for d in failed)
    assert max(d["attempt"] for d in log) >= 2
    # Newest first.
    assert [d["id"] for d in log] == sorted((d["id"] for d in log), reverse=True)
    assert WebhookEndpointStore().get(merchant, endpoint).failing_since is None


def test_retries_back_off_for_about_three_days_then_stop(merchant: str, receiver: Receiver) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    receiver.answer = (500, {}, b"down")
    started = clock.now()
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
    _run_retries_until_quiet(step=timedelta(minutes=20), limit=timedelta(days=4))
    log = sorted(_deliveries(merchant, endpoint), key=lambda d: d["attempt"])
    assert 10 <= len(log) <= 16, len(log)
    times = [datetime.fromisoformat(d["attempted_at"]) for d in log]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    # Growing gaps (jitter is ±25 %, and each gap is at least 3 times the one before until 12 h).
    assert all(later >= earlier * 0.9 or later >= timedelta(hours=8) for earlier, later in pairwise(gaps))
    assert timedelta(days=2) < times[-1] - started <= RETRY_WINDOW + timedelta(minutes=30)
    assert log[-1]["next_attempt_at"] is None and all(d["next_attempt_at"] for d in log[:-1])
    assert WebhookEndpointStore().pending(clock.now()) == []


def test_an_endpoint_failing_for_five_days_is_disabled(merchant: str, receiver: Receiver) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    receiver.answer = (503, {}, b"down")
    store = WebhookEndpointStore()
    for _ in range(6):
        _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
        _run_retries_until_quiet(step=timedelta(hours=6), limit=timedelta(days=1))
        if not store.get(merchant, endpoint).enabled:
            break
    disabled = store.get(merchant, endpoint)
    assert disabled.enabled is False and disabled.disabled_reason
    assert disabled.failing_since is not None and clock.now() - disabled.failing_since >= DISABLE_AFTER
    shown = call(outbound_api, api_event("GET", "/v1/webhook-endpoints/{endpoint_id}",
                                         path_params={"endpoint_id": endpoint}, merchant_id=merchant)).json()
    assert shown["enabled"] is False and "5 days" in shown["disabled_reason"]
    requests = receiver.requests
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
    _run_retries_until_quiet()
    assert receiver.requests == requests  # a disabled endpoint is sent nothing, retries included
    # Re-enabled by the merchant: a fresh start.
    receiver.answer = None
    patched = call(outbound_api, api_event("PATCH", "/v1/webhook-endpoints/{endpoint_id}", body={"enabled": True},
                                           path_params={"endpoint_id": endpoint}, merchant_id=merchant)).json()
    assert patched["enabled"] is True and patched["disabled_reason"] is None and patched["failing_since"] is None
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_3", absorbed_id="cus_4")))
    assert any(p["data"]["customer_id"] == "cus_3" for p in receiver.events.values())


def test_a_failure_under_five_days_keeps_the_endpoint(merchant: str, receiver: Receiver) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    receiver.fail_next = 3
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
    assert WebhookEndpointStore().get(merchant, endpoint).failing_since is not None
    _run_retries_until_quiet()
    endpoint_now = WebhookEndpointStore().get(merchant, endpoint)
    assert endpoint_now.enabled and endpoint_now.failing_since is None


def _resolving_to(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize("address", ["10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "127.0.0.1",
                                     "fd12::1", "fe80::1", "::1", "::ffff:169.254.169.254",
                                     "0.0.0.0"])  # noqa: S104 - an address refused, not bound
def test_a_name_resolving_to_a_private_address_is_refused_at_every_attempt(
        merchant: str, monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "false")
    endpoint = _endpoint(merchant, "https://hooks.merchant.example/in", ["*"])
    connected: list[Any] = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connected.append(a))
    _resolving_to(monkeypatch, address)  # DNS answers a private address (rebinding) after creation
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
    log = _deliveries(merchant, endpoint)
    assert len(log) == 1 and log[0]["error"].startswith("refused: the host resolves to")
    assert log[0]["status_code"] is None and log[0]["next_attempt_at"]
    assert connected == []


def test_loopback_is_refused_outside_the_local_stack(merchant: str, receiver: Receiver,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "false")
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
    assert receiver.requests == 0
    assert _deliveries(merchant, endpoint)[0]["error"].startswith("refused:")


def test_redirects_are_not_followed(merchant: str, receiver: Receiver) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    receiver.answer = (302, {"location": "http://169.254.169.254/latest/meta-data"}, b"")
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
    assert receiver.requests == 1
    entry = _deliveries(merchant, endpoint)[0]
    assert entry["status_code"] == 302 and "redirect" in entry["error"]


def test_a_huge_answer_is_read_up_to_64_kb_and_never_kept(merchant: str, receiver: Receiver) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    receiver.answer = (200, {}, b"SECRET-ANSWER " * 400_000)
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
    entry = _deliveries(merchant, endpoint)[0]
    assert entry["status_code"] == 200 and entry["error"] is None
    assert "SECRET" not in json.dumps(entry)


def test_rotation_signs_with_both_secrets_for_24_hours(merchant: str, receiver: Receiver) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    old_secret = receiver.secrets[0]
    new_secret = call(outbound_api, api_event("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
                                              path_params={"endpoint_id": endpoint},
                                              merchant_id=merchant)).json()["secret"]
    for secrets in ([old_secret], [new_secret]):
        receiver.secrets = secrets
        _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id=f"cus_{len(secrets[0])}", absorbed_id="c")))
        assert receiver.unverified == 0, secrets
    assert len(receiver.headers[-1]["webhook-signature"].split(" ")) == 2
    clock.advance(timedelta(hours=24, minutes=1))
    receiver.secrets = [old_secret]
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_late", absorbed_id="c")))
    assert receiver.unverified == 1  # the old secret no longer signs
    assert len(receiver.headers[-1]["webhook-signature"].split(" ")) == 1


def test_test_ping_and_replay_go_through_the_queue(merchant: str, receiver: Receiver, env: dict[str, Any]) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["order.cancelled"], receiver)
    response = call(outbound_api, api_event("POST", "/v1/webhook-endpoints/{endpoint_id}/test",
                                            path_params={"endpoint_id": endpoint}, merchant_id=merchant))
    assert response.status == 202
    _deliver(*_drain_queue(env["queue_url"]))
    assert [p["type"] for p in receiver.events.values()] == ["ping"]
    delivery_id = _deliveries(merchant, endpoint)[0]["id"]
    response = call(outbound_api, api_event("POST", "/v1/webhook-deliveries/{delivery_id}/retry",
                                            path_params={"delivery_id": delivery_id}, merchant_id=merchant))
    assert response.status == 202
    _deliver(*_drain_queue(env["queue_url"]))
    ping_id = next(iter(receiver.received))
    assert receiver.received[ping_id] == 2  # the same webhook-id again: receivers can drop it
    log = _deliveries(merchant, endpoint)
    assert [d["attempt"] for d in log] == [2, 1]


def test_deliveries_and_replays_of_another_merchant_are_404(merchant: str, receiver: Receiver) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
    delivery_id = _deliveries(merchant, endpoint)[0]["id"]
    other = MerchantRepository().create("Other Shop").id
    for method, resource, params in [
        ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries", {"endpoint_id": endpoint}),
        ("POST", "/v1/webhook-endpoints/{endpoint_id}/test", {"endpoint_id": endpoint}),
        ("POST", "/v1/webhook-deliveries/{delivery_id}/retry", {"delivery_id": delivery_id}),
    ]:
        assert call(outbound_api, api_event(method, resource, path_params=params, merchant_id=other)).status == 404


def test_the_delivery_log_is_kept_30_days(merchant: str, receiver: Receiver) -> None:
    endpoint = _endpoint(merchant, receiver.url, ["*"], receiver)
    _deliver(_bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="cus_2")))
    clock.advance(timedelta(days=29))
    assert len(_deliveries(merchant, endpoint)) == 1
    clock.advance(timedelta(days=1, seconds=1))
    assert _deliveries(merchant, endpoint) == []


def test_an_unreadable_message_fails_alone(merchant: str, receiver: Receiver) -> None:
    _endpoint(merchant, receiver.url, ["*"], receiver)
    result = _deliver("{not json", _bus(CustomerMerged(merchant_id=merchant, master_id="cus_1", absorbed_id="c")))
    assert len(result["batchItemFailures"]) == 1 and len(receiver.received) == 1

