"""Orphans (updates for tracking numbers no shipment has yet) are bounded: capped per connection
(429 with Retry-After above it), counted exactly, and attached at creation only up to a small bound;
the ShipmentCreated worker attaches the rest, idempotently."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from functions.retention.handler import lambda_handler as retention_handler
from functions.shipments.handler import lambda_handler as shipments_api
from functions.shipments.orphan_events import lambda_handler as orphan_worker
from functions.webhook import handler as webhook_module
from shared.dynamo import keys
from shared.merchants.store import MerchantRepository
from shared.platform import aws, clock
from shared.shipments.creation import INLINE_ATTACH_LIMIT
from shared.shipments.orphans import RETRY_AFTER_SECONDS, OrphanStore
from shared.shipments.statuses import CanonicalUpdate, TrackingStatus
from tests.apigw import LambdaContext, api_event, call
from tests.component.notify_pipeline import colis_connection, colis_delivery
from tests.component.shipment_support import history, shipment
from tests.factories import colis_event, shipment_body

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
NUMBER = "3SYZXG777000001"


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    from local import transactions

    transactions.install()  # moto copies the whole table per transaction item; the local engine does not
    clock.use_fixed(NOW)
    webhook_module._connections.cache_clear()
    webhook_module._warm_state.cache_clear()
    return MerchantRepository().create("Orphan shop").id


class Requests:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        aws._dynamodb_resource().meta.client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


def _create(merchant: str, number: str) -> dict[str, Any]:
    body = shipment_body()
    body["parcels"][0]["tracking_number"] = number
    response = call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))
    assert response.status == 201, response.body
    return response.json()


def _shipment_created(merchant: str, shipment_id: str) -> dict[str, Any]:
    return {"id": "evt-1", "source": "colis", "detail-type": "ShipmentCreated",
            "detail": {"merchant_id": merchant, "shipment_id": shipment_id, "parcel_count": 1}}


def test_500_orphans_are_attached_by_a_bounded_creation_then_by_the_worker(merchant: str) -> None:
    connection_id, _ = colis_connection(merchant)
    store = OrphanStore()
    statuses = [TrackingStatus.in_transit] * 499 + [TrackingStatus.out_for_delivery]
    for n, status in enumerate(statuses):
        assert store.record(merchant, CanonicalUpdate(tracking_number=NUMBER, status=status, carrier_event_id=f"e{n}",
                                                      occurred_at=NOW - timedelta(minutes=500 - n)), connection_id)
    assert store.live(connection_id) == 500

    requests = Requests()
    made = _create(merchant, NUMBER)
    # Settings, the creation's transaction, one Query, the shipment once, then two writes per
    # attached orphan (its update, its removal) and the shipment read back: bounded, whatever waits.
    assert sum(requests.calls.values()) <= 5 + 2 * INLINE_ATTACH_LIMIT, requests.calls
    assert len(store.pending(merchant, NUMBER)) == 500 - INLINE_ATTACH_LIMIT
    assert len(history(merchant, made["id"])) == INLINE_ATTACH_LIMIT

    orphan_worker(_shipment_created(merchant, made["id"]), LambdaContext())
    assert store.pending(merchant, NUMBER) == [] and store.live(connection_id) == 0
    events = history(merchant, made["id"])
    assert len(events) == 500 and events[0]["status"] == "out_for_delivery"
    assert shipment(merchant, made["id"])["parcels"][0]["status"] == "out_for_delivery"

    orphan_worker(_shipment_created(merchant, made["id"]), LambdaContext())  # again: nothing changes
    assert len(history(merchant, made["id"])) == 500 and store.live(connection_id) == 0


def test_over_the_cap_a_delivery_is_429_with_retry_after_and_nothing_is_lost(
        merchant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORPHANS_PER_CONNECTION", "3")
    connection = colis_connection(merchant)
    events = [colis_event(f"3SYZXG77700010{n}", "in_transit", NOW - timedelta(hours=1)) for n in range(4)]
    assert [colis_delivery(connection, event).json()["orphaned"] for event in events[:3]] == [1, 1, 1]
    refused = colis_delivery(connection, events[3])
    assert refused.status == 429 and refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert colis_delivery(connection, events[0]).json()["duplicates"] == 1  # a repeat is no new orphan
    assert OrphanStore().live(connection[0]) == 3

    made = _create(merchant, events[0]["tracking_number"])  # attaches one: room for the refused one
    assert OrphanStore().live(connection[0]) == 2
    retried = colis_delivery(connection, events[3])
    assert retried.status == 200 and retried.json()["orphaned"] == 1
    assert [e["status"] for e in history(merchant, made["id"])] == ["in_transit"]


def test_an_orphan_expired_by_ttl_is_uncounted_once(merchant: str) -> None:
    connection_id, _ = colis_connection(merchant)
    store = OrphanStore()
    update = CanonicalUpdate(tracking_number=NUMBER, status=TrackingStatus.in_transit, occurred_at=NOW)
    assert store.record(merchant, update, connection_id)
    [orphan] = store.pending(merchant, NUMBER)
    item = aws.table().get_item(Key=orphan.key)["Item"]
    aws.table().delete_item(Key=orphan.key)  # what TTL does, then the stream tells the consumer
    serializer = TypeSerializer()
    record = {"eventID": "1", "eventName": "REMOVE", "eventSource": "aws:dynamodb",
              "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
              "dynamodb": {"Keys": {k: serializer.serialize(item[k]) for k in (keys.PK, keys.SK)},
                           "OldImage": {k: serializer.serialize(v) for k, v in item.items()},
                           "SequenceNumber": "1", "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    for _ in range(2):  # a stream record may be delivered twice
        answer = retention_handler({"Records": [record]}, LambdaContext())
        assert answer == {"batchItemFailures": []}
    assert store.live(connection_id) == 0
