"""Carrier webhooks against moto: check order, signatures, idempotency, ordering, orphans,
multi-parcel derivation, the outbox event and the hot path's request budget."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

from functions.outbox.handler import lambda_handler as outbox_handler
from functions.shipments.handler import lambda_handler as shipments_api
from functions.webhook import handler as webhook_module
from shared.dynamo import keys
from shared.merchants.connections import ConnectionRepository
from shared.merchants.store import MerchantRepository
from shared.platform import aws, clock
from tests.apigw import ApiResponse, LambdaContext, api_event, call
from tests.carrier_signing import shippo_query, signed_headers
from tests.component.shipment_support import history, new_shipment, shipment
from tests.factories import body_bytes, colis_event

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "carriers"
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(NOW)
    webhook_module._connections.cache_clear()
    webhook_module._warm_state.cache_clear()
    return MerchantRepository().create("Atelier Lune").id


@pytest.fixture
def connections(merchant: str) -> dict[str, tuple[str, str]]:
    repository = ConnectionRepository()
    made = {}
    for carrier in ("sendcloud", "easypost", "aftership", "shippo", "colis"):
        connection, secret = repository.create(merchant, carrier, f"secret-for-{carrier}-0123456789")
        made[carrier] = (connection.id, secret)
    return made


def deliver(carrier: str, connection_id: str, body: bytes, headers: dict[str, str] | None = None,
            query: dict[str, str] | None = None) -> ApiResponse:
    event = api_event("POST", "/webhooks/{carrier}/{connection_id}",
                      path_params={"carrier": carrier, "connection_id": connection_id},
                      body=body.decode("utf-8"), headers=headers or {}, query=query)
    return call(webhook_module.lambda_handler, event)


def signed(connections: dict[str, tuple[str, str]], carrier: str, payload: Any) -> ApiResponse:
    connection_id, secret = connections[carrier]
    raw = payload if isinstance(payload, bytes) else body_bytes(payload)
    return deliver(carrier, connection_id, raw, signed_headers(carrier, secret, raw, clock.now()))


# --- the carriers' own example payloads ------------------------------------------------------
EXAMPLE_CASES = [
    ("sendcloud", "sendcloud_parcel_status_changed.json", "3SYZXG132912330"),
    ("easypost", "easypost_tracker.updated.json", None),
    ("aftership", "aftership_tracking_update.json", None),
    ("shippo", "shippo_track_updated.json", None),
]


@pytest.mark.parametrize(("carrier", "file", "number"), EXAMPLE_CASES)
def test_each_example_payload_is_verified_and_applied_from_its_raw_bytes(
        merchant: str, connections: dict[str, tuple[str, str]], carrier: str, file: str, number: str | None) -> None:
    from functions.webhook.carriers import decode_body, parse_delivery

    raw = (EXAMPLES / file).read_bytes()
    update = parse_delivery(carrier, decode_body(raw)).updates[0]
    made = new_shipment(merchant, numbers=[update.tracking_number])
    response = signed(connections, carrier, raw)
    assert response.status == 200, response.body
    assert response.json()["accepted"] == 1
    parcel = shipment(merchant, made["id"])["parcels"][0]
    assert parcel["status"] == update.status.value
    assert parcel["last_event_at"] is not None
    [event] = history(merchant, made["id"])
    assert event["status"] == update.status.value and event["carrier_code"] == update.carrier_code


def test_shippo_token_in_the_url_is_accepted(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    connection_id, secret = connections["shippo"]
    raw = (EXAMPLES / "shippo_track_updated.json").read_bytes()
    assert deliver("shippo", connection_id, raw, query=shippo_query(secret)).status == 200
    assert deliver("shippo", connection_id, raw, query={"token": "wrong-token"}).status == 401


def test_no_raw_payload_nor_personal_data_is_stored(merchant: str, connections: dict[str, tuple[str, str]],
                                                    aws_env: dict[str, Any]) -> None:
    raw = (EXAMPLES / "sendcloud_parcel_status_changed.json").read_bytes()
    new_shipment(merchant, numbers=["3SYZXG132912330"])
    signed(connections, "sendcloud", raw)
    stored = json.dumps(boto3.resource("dynamodb").Table(aws_env["TABLE_NAME"]).scan()["Items"], default=str)
    for personal in ("Mr Bob", "Stadhuisplein", "612345678", "contact@sendcloud.com", "5611 EM"):
        assert personal not in stored


# --- the order of checks ---------------------------------------------------------------------
def test_checks_answer_404_then_413_then_401_then_400(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    connection_id, secret = connections["colis"]
    good = body_bytes(colis_event("3SYZXG000000999", "in_transit", NOW))
    huge = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert deliver("dhl", connection_id, good).status == 404
    assert deliver("colis", "con_unknown", huge).status == 404
    assert deliver("sendcloud", connection_id, huge).status == 404  # a connection of another carrier
    assert deliver("colis", connection_id, huge).status == 413  # before the (missing) signature
    assert deliver("colis", connection_id, good).status == 401
    assert deliver("colis", connection_id, good, {"Colis-Signature": "t=1,v1=00"}).status == 401
    not_json = b"{not json"
    response = deliver("colis", connection_id, not_json, signed_headers("colis", secret, not_json, NOW))
    assert response.status == 400 and response.headers["content-type"] == "application/problem+json"


def test_a_replayed_signature_outside_five_minutes_is_401(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    connection_id, secret = connections["colis"]
    raw = body_bytes(colis_event("3SYZXG000000998", "in_transit", NOW))
    headers = signed_headers("colis", secret, raw, NOW)
    clock.use_fixed(NOW + timedelta(seconds=301))
    stale = deliver("colis", connection_id, raw, headers)
    assert stale.status == 401
    assert "timestamp is outside the 300 s window (301 s behind" in stale.json()["detail"]
    assert "does not match" not in stale.json()["detail"]
    clock.use_fixed(NOW + timedelta(seconds=299))
    assert deliver("colis", connection_id, raw, headers).status == 200


def test_a_tampered_body_is_401_and_changes_nothing(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    connection_id, secret = connections["colis"]
    raw = body_bytes(colis_event(number, "in_transit", NOW))
    headers = signed_headers("colis", secret, raw, NOW)
    tampered = raw.replace(b"in_transit", b"delivered")
    assert deliver("colis", connection_id, tampered, headers).status == 401
    assert history(merchant, made["id"]) == []


def test_a_deleted_connection_is_404(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    connection_id, secret = connections["colis"]
    ConnectionRepository().delete(merchant, connection_id)
    webhook_module._connections.cache_clear()
    raw = body_bytes(colis_event("3SYZXG000000997", "in_transit", NOW))
    assert deliver("colis", connection_id, raw, signed_headers("colis", secret, raw, NOW)).status == 404


def test_a_deleted_connection_refuses_a_repeat_at_once_in_a_warm_function(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    first = colis_event(made["parcels"][0]["tracking_number"], "in_transit", NOW - timedelta(hours=2))
    assert signed(connections, "colis", first).status == 200  # this function now holds the connection
    ConnectionRepository().delete(merchant, connections["colis"][0])
    repeat = signed(connections, "colis", first)  # writes nothing: the connection is read
    assert repeat.status == 404 and repeat.headers["content-type"] == "application/problem+json"


def test_a_deleted_connection_refuses_a_new_update_at_once_without_an_extra_request(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    assert signed(connections, "colis", colis_event(number, "in_transit", NOW - timedelta(hours=2))).status == 200
    ConnectionRepository().delete(merchant, connections["colis"][0])
    counter = RequestCounter()
    later = signed(connections, "colis", colis_event(number, "delivered", NOW - timedelta(hours=1)))
    assert later.status == 404
    assert counter.calls == Counter({"TransactWriteItems": 1})  # its write checked the connection
    assert shipment(merchant, made["id"])["parcels"][0]["status"] == "in_transit"
    orphan = signed(connections, "colis", colis_event("3SYZXG000000933", "in_transit", NOW))
    assert orphan.status == 404


def test_a_warm_function_asks_ssm_for_a_secret_once(merchant: str, connections: dict[str, tuple[str, str]],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    original = ConnectionRepository.secret
    monkeypatch.setattr(ConnectionRepository, "secret", lambda self, cid: asked.append(cid) or original(self, cid))
    for hour in range(3):
        event = colis_event("3SYZXG000000901", "in_transit", NOW - timedelta(hours=hour))
        assert signed(connections, "colis", event).status == 200
    assert asked == [connections["colis"][0]]


@pytest.mark.parametrize("secret", ["whsec", "abc123", "é" * 3, "x" * 256])
def test_a_carriers_own_secret_is_accepted_as_issued(merchant: str, secret: str) -> None:
    connection, stored = ConnectionRepository().create(merchant, "easypost", secret)
    assert stored == secret
    made = new_shipment(merchant)
    raw = body_bytes(_easypost_event(made["parcels"][0]["tracking_number"]))
    answer = deliver("easypost", connection.id, raw, signed_headers("easypost", secret, raw, NOW))
    assert answer.status == 200 and answer.json()["accepted"] == 1


def _easypost_event(number: str) -> dict[str, Any]:
    from tests.carrier_payloads import easypost

    return easypost(number, "in_transit", NOW - timedelta(hours=1))


# --- idempotency and ordering ----------------------------------------------------------------
def test_a_duplicate_changes_nothing_and_answers_200(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    event = colis_event(made["parcels"][0]["tracking_number"], "in_transit", NOW - timedelta(hours=1))
    assert signed(connections, "colis", event).json()["duplicates"] == 0
    before = shipment(merchant, made["id"])
    again = signed(connections, "colis", event)
    assert again.status == 200 and again.json()["duplicates"] == 1
    assert shipment(merchant, made["id"]) == before
    assert len(history(merchant, made["id"])) == 1


def test_without_event_id_same_number_status_and_time_is_a_duplicate(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    raw = (EXAMPLES / "sendcloud_parcel_status_changed.json").read_bytes()
    made = new_shipment(merchant, numbers=["3SYZXG132912330"])
    signed(connections, "sendcloud", raw)
    assert signed(connections, "sendcloud", raw).json()["duplicates"] == 1
    assert len(history(merchant, made["id"])) == 1


def test_late_in_transit_never_overwrites_delivered(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    signed(connections, "colis", colis_event(number, "delivered", NOW - timedelta(hours=1)))
    signed(connections, "colis", colis_event(number, "in_transit", NOW - timedelta(hours=5)))
    current = shipment(merchant, made["id"])
    assert current["parcels"][0]["status"] == "delivered" and current["status"] == "delivered"
    assert [e["status"] for e in history(merchant, made["id"])] == ["delivered", "in_transit"]


def test_unknown_is_recorded_but_never_replaces_a_known_status(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    signed(connections, "colis", colis_event(number, "in_transit", NOW - timedelta(hours=2)))
    signed(connections, "colis", colis_event(number, "some-code-nobody-knows", NOW - timedelta(hours=1)))
    parcel = shipment(merchant, made["id"])["parcels"][0]
    assert parcel["status"] == "in_transit"
    assert parcel["last_event_at"].startswith("2026-05-04T11:00")
    assert [e["status"] for e in history(merchant, made["id"])] == ["unknown", "in_transit"]


def test_a_tie_in_time_goes_to_the_later_arrival(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    at = NOW - timedelta(hours=1)
    signed(connections, "colis", colis_event(number, "in_transit", at))
    signed(connections, "colis", colis_event(number, "out_for_delivery", at))
    assert shipment(merchant, made["id"])["parcels"][0]["status"] == "out_for_delivery"


def test_merchant_statuses_hold_while_the_parcel_history_grows(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    call(shipments_api, api_event("POST", "/v1/shipments/{shipment_id}/void-label",
                                  path_params={"shipment_id": made["id"]}, merchant_id=merchant))
    signed(connections, "colis", colis_event(number, "delivered", NOW - timedelta(minutes=5)))
    current = shipment(merchant, made["id"])
    assert current["status"] == "cancelled"
    assert current["parcels"][0]["status"] == "delivered"
    assert len(history(merchant, made["id"])) == 1


# --- multi-parcel ----------------------------------------------------------------------------
def test_the_shipment_is_as_far_as_its_least_advanced_parcel(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant, parcels=3)
    numbers = [p["tracking_number"] for p in made["parcels"]]
    signed(connections, "colis", colis_event(numbers[0], "delivered", NOW - timedelta(hours=1)))
    assert shipment(merchant, made["id"])["status"] == "pre_transit"
    signed(connections, "colis", colis_event(numbers[1], "out_for_delivery", NOW - timedelta(hours=1)))
    signed(connections, "colis", colis_event(numbers[2], "in_transit", NOW - timedelta(hours=1)))
    assert shipment(merchant, made["id"])["status"] == "in_transit"
    signed(connections, "colis", colis_event(numbers[1], "delivered", NOW - timedelta(minutes=30)))
    signed(connections, "colis", colis_event(numbers[2], "delivered", NOW - timedelta(minutes=20)))
    assert shipment(merchant, made["id"])["status"] == "delivered"


def test_one_parcel_in_exception_makes_the_shipment_exception(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant, parcels=2)
    numbers = [p["tracking_number"] for p in made["parcels"]]
    signed(connections, "colis", colis_event(numbers[0], "delivered", NOW - timedelta(hours=1)))
    signed(connections, "colis", colis_event(numbers[1], "exception", NOW - timedelta(hours=1)))
    assert shipment(merchant, made["id"])["status"] == "exception"


# --- orphans -----------------------------------------------------------------------------------
def test_an_update_before_its_shipment_is_kept_and_attached_at_creation(
        merchant: str, connections: dict[str, tuple[str, str]], aws_env: dict[str, Any]) -> None:
    number = "3SYZXG000000555"
    response = signed(connections, "colis", colis_event(number, "in_transit", NOW - timedelta(hours=3)))
    assert response.status == 200 and response.json()["orphaned"] == 1
    orphan = boto3.resource("dynamodb").Table(aws_env["TABLE_NAME"]).query(
        KeyConditionExpression=boto3.dynamodb.conditions.Key("pk").eq(keys.orphan_partition(merchant, number)))["Items"]
    assert len(orphan) == 1 and int(orphan[0]["ttl"]) == int((NOW + timedelta(days=30)).timestamp())
    made = new_shipment(merchant, numbers=[number])
    assert made["parcels"][0]["status"] == "in_transit" and made["status"] == "in_transit"
    assert [e["status"] for e in history(merchant, made["id"])] == ["in_transit"]


# --- colis batches and ignored event types -----------------------------------------------------
def test_a_colis_batch_answers_which_events_failed(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    batch = {"events": [colis_event(number, "in_transit", NOW - timedelta(hours=2)),
                        {"event_id": "broken", "carrier": "x", "tracking_number": number, "status": "in_transit",
                         "occurred_at": "yesterday"},
                        colis_event(number, "out_for_delivery", NOW - timedelta(hours=1))]}
    response = signed(connections, "colis", batch)
    assert response.status == 200
    body = response.json()
    assert body["accepted"] == 2 and [f["index"] for f in body["failed"]] == [1]
    assert body["failed"][0]["detail"]
    assert shipment(merchant, made["id"])["parcels"][0]["status"] == "out_for_delivery"


def test_a_colis_batch_where_nothing_applies_is_400(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    response = signed(connections, "colis", {"events": [{"event_id": "x"}, {"tracking_number": "y"}]})
    assert response.status == 400


def test_non_tracking_event_types_answer_200_and_store_nothing(
        merchant: str, connections: dict[str, tuple[str, str]], aws_env: dict[str, Any]) -> None:
    table = boto3.resource("dynamodb").Table(aws_env["TABLE_NAME"])
    before = table.scan()["Count"]
    response = signed(connections, "easypost", {"object": "Event", "id": "evt_1", "description": "batch.created",
                                                "result": {"object": "Batch"}})
    assert response.status == 200 and response.json()["accepted"] == 0
    assert table.scan()["Count"] == before


# --- the outbox event ----------------------------------------------------------------------------
def _stream_record(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    serializer = TypeSerializer()
    image = lambda item: {k: serializer.serialize(v) for k, v in item.items()}  # noqa: E731
    change: dict[str, Any] = {"Keys": image({"pk": new["pk"], "sk": new["sk"]}), "NewImage": image(new),
                              "SequenceNumber": "1", "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old:
        change["OldImage"] = image(old)
    return {"eventID": "1", "eventName": "MODIFY" if old else "INSERT", "eventSource": "aws:dynamodb",
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/x", "dynamodb": change}


def test_one_parcel_change_publishes_one_tracking_event_without_personal_data(
        merchant: str, connections: dict[str, tuple[str, str]], aws_env: dict[str, Any]) -> None:
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue_url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName=aws_env["EVENT_BUS_NAME"],
                    EventPattern=json.dumps({"detail-type": ["ShipmentTrackingUpdated"]}))
    events.put_targets(Rule="tap", EventBusName=aws_env["EVENT_BUS_NAME"], Targets=[{"Id": "q", "Arn": queue_arn}])
    table = boto3.resource("dynamodb").Table(aws_env["TABLE_NAME"])
    made = new_shipment(merchant, parcels=2)
    key = keys.shipment(merchant, made["id"])
    before = table.get_item(Key=key)["Item"]
    signed(connections, "colis", colis_event(made["parcels"][0]["tracking_number"], "in_transit", NOW))
    after = table.get_item(Key=key)["Item"]
    record = _stream_record(before, after)
    result = outbox_handler({"Records": [record, _stream_record(after, after)]}, LambdaContext())
    assert result == {"batchItemFailures": []}
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    published = json.loads(messages[0]["Body"])
    assert published["detail"] == {
        "merchant_id": merchant, "shipment_id": made["id"], "parcel_id": made["parcels"][0]["id"],
        "previous_parcel_status": "pre_transit", "parcel_status": "in_transit",
        "previous_shipment_status": "pre_transit", "shipment_status": "pre_transit",
        "occurred_at": clock.isoformat(NOW), "parcel_count": 2}
    text = json.dumps(published)
    assert all(personal not in text for personal in ("Camille", "Dupont", "Lilas", "69003", "camille@", "+336"))


def test_a_failed_publish_is_reported_as_a_partial_batch_failure(
        merchant: str, aws_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.outbox import service as outbox_service

    table = boto3.resource("dynamodb").Table(aws_env["TABLE_NAME"])
    good = table.get_item(Key=keys.shipment(merchant, new_shipment(merchant)["id"]))["Item"]
    bad = {**table.get_item(Key=keys.shipment(merchant, new_shipment(merchant)["id"]))["Item"]}
    bad["outbox"] = {**bad["outbox"], "detail_type": "Refused"}
    real_publish = outbox_service.publish

    def publish(detail_type: str, events: list[dict[str, Any]], bus: str) -> None:
        if detail_type == "Refused":
            raise RuntimeError("EventBridge refused the entry")
        real_publish(detail_type, events, bus)

    monkeypatch.setattr(outbox_service, "publish", publish)
    records = [_stream_record(None, good), {**_stream_record(None, bad), "dynamodb": {
        **_stream_record(None, bad)["dynamodb"], "SequenceNumber": "2"}}]
    result = outbox_handler({"Records": records}, LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "2"}]}


# --- the hot path's request budget -----------------------------------------------------------------
class RequestCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        client = aws._dynamodb_resource().meta.client
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if op in ("GetItem", "Query", "BatchGetItem", "Scan"))

    def writes(self) -> int:
        return sum(n for op, n in self.calls.items() if op in ("PutItem", "UpdateItem", "TransactWriteItems",
                                                               "DeleteItem", "BatchWriteItem"))


def test_a_new_update_costs_two_reads_and_one_transaction_and_a_duplicate_no_write(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    event = colis_event(made["parcels"][0]["tracking_number"], "in_transit", NOW)
    signed(connections, "colis", colis_event("3SYZXG000000777", "in_transit", NOW))  # warms the secret cache
    counter = RequestCounter()
    signed(connections, "colis", event)
    assert (counter.reads(), counter.writes()) == (2, 1)
    assert counter.calls["TransactWriteItems"] == 1
    counter.calls.clear()
    repeat = signed(connections, "colis", event)  # same warm function: it remembers the shipment it wrote
    # a repeat writes nothing, so it reads the connection: a deleted one must not answer 200
    assert repeat.json()["duplicates"] == 1 and (counter.reads(), counter.writes()) == (1, 0)
    webhook_module._warm_state.cache_clear()  # another (or a new) function instance
    counter.calls.clear()
    repeat = signed(connections, "colis", event)
    assert repeat.json()["duplicates"] == 1 and (counter.reads(), counter.writes()) == (2 + 1, 0)
    assert len(history(merchant, made["id"])) == 1


def test_an_older_update_changes_no_shipment_and_costs_one_conditional_put(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    signed(connections, "colis", colis_event(number, "out_for_delivery", NOW))
    counter = RequestCounter()
    older = colis_event(number, "in_transit", NOW - timedelta(days=1))
    assert signed(connections, "colis", older).json()["duplicates"] == 0
    # one conditional write: the history event, with the connection's check (a 2-item transaction)
    assert counter.calls == Counter({"TransactWriteItems": 1})
    assert signed(connections, "colis", older).json()["duplicates"] == 1  # refused by the event's condition
    assert shipment(merchant, made["id"])["parcels"][0]["status"] == "out_for_delivery"
    assert [e["status"] for e in history(merchant, made["id"])] == ["out_for_delivery", "in_transit"]


def test_the_shipment_and_its_history_event_land_together_or_not_at_all(
        merchant: str, connections: dict[str, tuple[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    event = colis_event(number, "in_transit", NOW)
    # The history event is already there (as a crash of an earlier design could leave it): the
    # transaction is refused whole, so the shipment is not half-updated.
    from shared.shipments.model import TrackingEvent
    from shared.shipments.store import ShipmentRepository

    ShipmentRepository().record_event(merchant, made["id"], TrackingEvent(
        parcel_id=made["parcels"][0]["id"], tracking_number=number, status="in_transit",
        occurred_at=NOW, received_at=NOW), event["event_id"])
    answer = signed(connections, "colis", event)
    assert answer.status == 200 and answer.json()["duplicates"] == 1
    assert shipment(merchant, made["id"])["parcels"][0]["status"] == "pre_transit"
    assert len(history(merchant, made["id"])) == 1


def test_a_warm_function_reads_nothing_for_the_next_update_of_a_parcel_it_just_wrote(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    signed(connections, "colis", colis_event(number, "in_transit", NOW - timedelta(hours=2)))
    counter = RequestCounter()
    signed(connections, "colis", colis_event(number, "out_for_delivery", NOW - timedelta(hours=1)))
    assert (counter.reads(), counter.writes()) == (0, 1)


def test_a_stale_warm_state_is_caught_by_the_version_check(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    signed(connections, "colis", colis_event(number, "in_transit", NOW - timedelta(hours=2)))
    call(shipments_api, api_event("POST", "/v1/shipments/{shipment_id}/archive",
                                  path_params={"shipment_id": made["id"]}, merchant_id=merchant))
    signed(connections, "colis", colis_event(number, "delivered", NOW - timedelta(hours=1)))
    current = shipment(merchant, made["id"])
    assert current["status"] == "archived" and current["parcels"][0]["status"] == "delivered"


def _history_page(merchant: str, shipment_id: str, **query: str) -> ApiResponse:
    return call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}/events", query=query,
                                         path_params={"shipment_id": shipment_id}, merchant_id=merchant))


def test_the_history_is_paged_newest_first_and_a_cursor_only_pages_its_own_shipment(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made, other = new_shipment(merchant), new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    statuses = ["in_transit", "delayed", "in_transit", "out_for_delivery", "delivered"]
    for hours, status in enumerate(statuses):
        assert signed(connections, "colis", colis_event(number, status, NOW - timedelta(hours=10 - hours))).status == 200
    signed(connections, "colis", colis_event(other["parcels"][0]["tracking_number"], "in_transit", NOW))
    seen, cursor, pages = [], None, 0
    while True:
        page = _history_page(merchant, made["id"], limit="2", **({"cursor": cursor} if cursor else {}))
        assert page.status == 200, page.body
        seen += page.json()["items"]
        pages, cursor = pages + 1, page.json()["next_cursor"]
        if cursor is None:
            break
        assert _history_page(merchant, other["id"], cursor=cursor).status == 400  # not this shipment's cursor
    assert pages == 3
    assert [e["status"] for e in seen] == list(reversed(statuses))
    assert seen == history(merchant, made["id"])
    assert _history_page(merchant, made["id"], limit="0").status == 422
    assert _history_page(merchant, made["id"], limit="101").status == 422
    assert _history_page(merchant, made["id"], cursor="garbage").status == 400


# --- hostile times and texts (issue 20) ---------------------------------------------------------
def test_a_future_event_then_delivered_ends_delivered(merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    for future in ("2999-01-01T00:00:00+00:00", (NOW + timedelta(hours=25)).isoformat()):
        refused = signed(connections, "colis", colis_event(number, "in_transit", future))
        assert refused.status == 400 and "occurred_at" in refused.json()["detail"]
    assert signed(connections, "colis", colis_event(number, "delivered", NOW)).status == 200
    assert shipment(merchant, made["id"])["status"] == "delivered"
    assert [e["status"] for e in history(merchant, made["id"])] == ["delivered"]


@pytest.mark.parametrize("carrier", ["sendcloud", "easypost", "aftership", "shippo", "colis"])
@pytest.mark.parametrize("hostile", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_hostile_time_in_a_single_delivery_is_400_and_records_nothing(
        merchant: str, connections: dict[str, tuple[str, str]], carrier: str, hostile: str) -> None:
    from tests.carrier_payloads import BUILDERS

    made = new_shipment(merchant)
    number = made["parcels"][0]["tracking_number"]
    payload = BUILDERS[carrier](number, "in_transit", NOW)
    if carrier == "sendcloud":  # milliseconds: the same instants as numbers
        payload["carrier_status_change_timestamp"] = -62_135_647_200_000 if hostile.startswith("0001") \
            else 253_402_351_199_000
    elif carrier == "easypost":
        payload["result"]["tracking_details"][0]["datetime"] = hostile
    elif carrier == "aftership":
        payload["msg"]["checkpoints"][0]["checkpoint_time"] = hostile
    elif carrier == "shippo":
        payload["data"]["tracking_status"]["status_date"] = hostile
    else:
        payload["occurred_at"] = hostile
    answer = signed(connections, carrier, payload)
    assert answer.status == 400 and answer.headers["content-type"] == "application/problem+json"
    assert history(merchant, made["id"]) == []


def test_a_colis_batch_applies_the_events_around_a_hostile_time(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant, parcels=2)
    first, second = (p["tracking_number"] for p in made["parcels"])
    batch = {"events": [colis_event(first, "in_transit", NOW - timedelta(hours=2)),
                        colis_event(first, "delivered", "0001-01-01T00:00:00+14:00"),
                        colis_event(second, "in_transit", "9999-12-31T23:59:59-14:00"),
                        colis_event(second, "out_for_delivery", NOW - timedelta(hours=1))]}
    answer = signed(connections, "colis", batch)
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["accepted"] == 2 and [f["index"] for f in body["failed"]] == [1, 2]
    assert [p["status"] for p in shipment(merchant, made["id"])["parcels"]] == ["in_transit", "out_for_delivery"]


def test_a_long_carrier_message_is_stored_cut_to_1000_characters(
        merchant: str, connections: dict[str, tuple[str, str]]) -> None:
    made = new_shipment(merchant)
    event = colis_event(made["parcels"][0]["tracking_number"], "in_transit", NOW, message="€" * 100_000)
    assert signed(connections, "colis", event).status == 200
    assert shipment(merchant, made["id"])["parcels"][0]["carrier_message"] == "€" * 1_000
    [stored] = history(merchant, made["id"])
    assert stored["carrier_message"] == "€" * 1_000


def test_sendcloud_announcing_a_parcel_without_a_number_is_200_and_records_nothing(
        merchant: str, connections: dict[str, tuple[str, str]], aws_env: dict[str, Any]) -> None:
    body = json.loads((EXAMPLES / "sendcloud_parcel_status_changed.json").read_text(encoding="utf-8"))
    body["parcel"]["tracking_number"] = ""
    body["parcel"]["status"] = {"id": 1001, "message": "Being announced"}
    answer = signed(connections, "sendcloud", body)
    assert answer.status == 200 and answer.json()["accepted"] == 0 and answer.json()["ignored"] is True
    items = boto3.resource("dynamodb").Table(aws_env["TABLE_NAME"]).scan()["Items"]
    assert not [item for item in items if "ORPHAN" in str(item.get("pk")) or str(item.get("sk")).startswith("EVENT#")]


@pytest.mark.parametrize("carrier", ["colis", "easypost", "aftership", "shippo"])
def test_every_carrier_announcing_a_parcel_without_a_number_is_200_and_records_nothing(
        carrier: str, merchant: str, connections: dict[str, tuple[str, str]], aws_env: dict[str, Any]) -> None:
    # DESIGN.md §1.1 states it for every update, not for Sendcloud alone: a 400 would only be retried.
    bodies: dict[str, tuple[str, tuple[str, ...]]] = {
        "easypost": ("easypost_tracker.updated.json", ("result", "tracking_code")),
        "aftership": ("aftership_tracking_update.json", ("msg", "tracking_number")),
        "shippo": ("shippo_track_updated.json", ("data", "tracking_number"))}
    if carrier == "colis":
        body: dict[str, Any] = colis_event("", "in_transit", clock.now() - timedelta(hours=1))
    else:
        name, path = bodies[carrier]
        body = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
        holder = body
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = ""
    answer = signed(connections, carrier, body)
    assert answer.status == 200 and answer.json()["accepted"] == 0 and answer.json()["ignored"] is True
    if carrier == "colis":
        batch = signed(connections, "colis", {"events": [body, body]})
        assert batch.status == 200 and batch.json()["accepted"] == 0 and batch.json()["failed"] == []
    items = boto3.resource("dynamodb").Table(aws_env["TABLE_NAME"]).scan()["Items"]
    assert not [item for item in items if "ORPHAN" in str(item.get("pk")) or str(item.get("sk")).startswith("EVENT#")]
