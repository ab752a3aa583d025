"""Helpers of the retention component tests: shipments through the API, the product clock moved
from a shipment's creation, the `retention` schedule and TTL (which moto never runs) emulated the
way AWS hands its deletions to the stream consumer, and raw reads of what the table holds."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeSerializer

from functions.retention.handler import lambda_handler as retention
from functions.shipments.handler import lambda_handler as shipments_api
from shared.dynamo import keys
from shared.merchants.model import RetentionSettings
from shared.merchants.store import MerchantRepository
from shared.platform import aws, clock
from shared.shipments.statuses import CanonicalUpdate, TrackingStatus
from shared.shipments.store import ShipmentRepository
from shared.shipments.tracking import apply_canonical_update
from tests.apigw import ApiResponse, LambdaContext, api_event, call
from tests.factories import shipment_body

MERCHANT_SINCE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CREATED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_sequence = itertools.count(1)
_serializer = TypeSerializer()


def new_merchant(name: str = "Atelier Lune", **retention_settings: int) -> str:
    """A merchant created before the shipments; the clock is left at CREATED."""
    clock.use_fixed(MERCHANT_SINCE)
    merchants = MerchantRepository()
    merchant_id = merchants.create(name).id
    if retention_settings:
        settings = merchants.get(merchant_id).settings
        settings.retention = RetentionSettings(**retention_settings)
        merchants.save_settings(merchant_id, settings)
    clock.use_fixed(CREATED)
    return merchant_id


def create_shipment(merchant: str, parcels: int | list[dict[str, Any]] = 1, **overrides: Any) -> dict[str, Any]:
    """Through the shipments API; `parcels`: how many, or the parcel list itself."""
    body = shipment_body(parcels=parcels if isinstance(parcels, int) else len(parcels), **overrides)
    if not isinstance(parcels, int):
        body["parcels"] = parcels
    response = call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))
    assert response.status == 201, response.body
    return response.json()


def get_shipment(merchant: str, shipment_id: str) -> ApiResponse:
    return call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}", path_params={"shipment_id": shipment_id},
                                         merchant_id=merchant))


def shipment_action(merchant: str, shipment_id: str, name: str) -> ApiResponse:
    if name == "delete":
        return call(shipments_api, api_event("DELETE", "/v1/shipments/{shipment_id}",
                                             path_params={"shipment_id": shipment_id}, merchant_id=merchant))
    return call(shipments_api, api_event("POST", f"/v1/shipments/{{shipment_id}}/{name.replace('_', '-')}",
                                         path_params={"shipment_id": shipment_id}, merchant_id=merchant))


def travel(since: datetime = CREATED, **delta: float) -> datetime:
    moment = since + timedelta(**delta)
    clock.use_fixed(moment)
    return moment


def track(merchant: str, shipment: dict[str, Any], status: str, parcel: int = 0) -> None:
    """A carrier update, as the webhook applies it, an hour before now."""
    number = shipment["parcels"][parcel]["tracking_number"]
    update = CanonicalUpdate(tracking_number=number, status=TrackingStatus(status), carrier_code=status.upper(),
                             carrier_message="scan", occurred_at=clock.now() - timedelta(hours=1),
                             carrier_event_id=f"evt-{next(_sequence)}")
    apply_canonical_update(ShipmentRepository(), merchant, update)


def scheduled_event() -> dict[str, Any]:
    return {"version": "0", "id": f"sched-{next(_sequence)}", "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "account": "123456789012", "time": clock.isoformat(clock.now()),
            "region": "eu-west-1", "resources": ["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/retention"],
            "detail": "{}"}


def run_schedule() -> dict[str, Any]:
    return retention(scheduled_event(), LambdaContext())


# --- TTL, as AWS runs it ---------------------------------------------------------------------------
def ttl_removal(item: dict[str, Any], sequence: int | None = None) -> dict[str, Any]:
    """The stream record of a TTL deletion, as Lambda delivers it (`sam local generate-event dynamodb`)."""
    number = sequence if sequence is not None else next(_sequence)
    typed = {name: _serializer.serialize(value) for name, value in item.items()}
    return {
        "eventID": f"ttl-{number}", "eventName": "REMOVE", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {"ApproximateCreationDateTime": clock.epoch_seconds(), "SizeBytes": 200,
                     "Keys": {keys.PK: typed[keys.PK], keys.SK: typed[keys.SK]}, "OldImage": typed,
                     "SequenceNumber": f"{number:021d}", "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/colis-test/stream/2026-01-01T00:00:00.000",
    }


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A stream batch to the retention consumer; its partial-failure answer."""
    return retention({"Records": records}, LambdaContext())


def expire(timer_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What DynamoDB TTL does to expired timers: delete them and hand their old images to the stream."""
    for item in timer_items:
        aws.table().delete_item(Key={keys.PK: item[keys.PK], keys.SK: item[keys.SK]})
    return [ttl_removal(item) for item in timer_items]


# --- raw reads -----------------------------------------------------------------------------------------
def partition(merchant: str, shipment_id: str) -> list[dict[str, Any]]:
    response = aws.table().query(KeyConditionExpression=Key(keys.PK).eq(keys.shipment_partition(merchant, shipment_id)),
                                 ConsistentRead=True)
    return response["Items"]


def timers(merchant: str, shipment_id: str) -> dict[str, dict[str, Any]]:
    return {str(i["action"]): i for i in partition(merchant, shipment_id) if str(i[keys.SK]).startswith("TIMER#")}


def due_timers(merchant: str, shipment_id: str) -> list[dict[str, Any]]:
    now = clock.epoch_seconds()
    return [t for t in timers(merchant, shipment_id).values() if int(t[keys.TTL]) <= now]


def tracking_number_item(merchant: str, number: str) -> dict[str, Any] | None:
    return aws.table().get_item(Key=keys.tracking_number(number, merchant)).get("Item")


@contextmanager
def dynamodb_requests() -> Iterator[Counter[str]]:
    """DynamoDB requests by operation (and `due-index items` read) while the block runs."""
    calls: Counter[str] = Counter()
    client = aws.table().meta.client

    def before(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls[model.name] += 1

    def after(model: Any, parsed: dict[str, Any], **kwargs: Any) -> None:
        if model.name == "Query" and kwargs.get("context", {}).get("due_index"):
            calls["due-index items"] += int(parsed.get("ScannedCount", 0))

    def mark(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["due_index"] = params.get("IndexName") == keys.DUE.name

    client.meta.events.register("before-call.dynamodb.*", before)
    client.meta.events.register("before-parameter-build.dynamodb.Query", mark)
    client.meta.events.register("after-call.dynamodb.*", after)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", before)
        client.meta.events.unregister("before-parameter-build.dynamodb.Query", mark)
        client.meta.events.unregister("after-call.dynamodb.*", after)


def low_level() -> Any:
    return boto3.client("dynamodb", region_name="eu-west-1")
