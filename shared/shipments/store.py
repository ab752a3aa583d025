"""Shipments, their parcels and tracking events: models and repository."""


import json
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.dynamo import keys
from shared.dynamo.paging import decode_cursor, query_page
from shared.errors import Malformed, NotFound, Refused
from shared.events.outbox import outbox_entry  # noqa: F401 - re-exported: callers import it from here
from shared.platform import aws, clock
from shared.shipments.statuses import CanonicalUpdate, TrackingStatus, derive_shipment_status
from shared.values.models import Address, Amount, Measure, OptionalText, ShortText, WebUrl, empty_list, without_nulls
from shared.values.money import has_valid_precision, is_currency

_TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,63}$")
MAX_PARCELS = 50
ORPHAN_DAYS = 30
MERCHANT_CLOSED = (TrackingStatus.cancelled, TrackingStatus.archived, TrackingStatus.deleted)


class Package(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: ShortText
    size_unit: Literal["cm", "in"]
    length: Measure
    width: Measure
    height: Measure
    weight_unit: Literal["kg", "lb", "g", "oz"]
    weight: Measure
    contents: ShortText
    description: OptionalText = None
    value: Amount
    currency: str

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError("currency must be an ISO 4217 code")
        return value.upper()


class Fees(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shipping: Amount | None = None
    provincial_tax: Amount | None = None
    federal_tax: Amount | None = None
    postage: Amount | None = None
    insurance: Amount | None = None


def valid_tracking_number(value: str) -> str:
    value = value.strip()
    if not _TRACKING_NUMBER.match(value):
        raise ValueError("tracking_number must be 1-64 letters, digits, '-', '_' or '.'")
    return value


class ParcelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tracking_number: str
    tracking_url: WebUrl | None = None
    weight: Measure | None = None

    @field_validator("tracking_number")
    @classmethod
    def _number(cls, value: str) -> str:
        return valid_tracking_number(value)


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: Annotated[str | None, Field(default=None, max_length=64)] = None
    store: OptionalText = None
    batch_id: Annotated[str | None, Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_\-.]+$")] = None
    recipient: Address
    return_address: Address
    package: Package
    insurance_amount: Amount | None = None
    signature_confirmation: bool = False
    postage_type: ShortText
    carrier: ShortText
    parcels: list[ParcelIn] = Field(min_length=1, max_length=MAX_PARCELS)
    ship_date: date | None = None
    fees: Fees = Field(default_factory=Fees)

    @model_validator(mode="after")
    def _amounts_in_currency_precision(self) -> "ShipmentIn":
        currency = self.package.currency
        amounts = {"package.value": self.package.value, "insurance_amount": self.insurance_amount,
                    **{f"fees.{k}": v for k, v in self.fees.model_dump().items()}}
        for field, amount in amounts.items():
            if amount is not None and not has_valid_precision(amount, currency):
                raise ValueError(f"{field} has more decimals than {currency} allows")
        numbers = [p.tracking_number for p in self.parcels]
        if len(set(numbers)) != len(numbers):
            raise ValueError("each parcel needs its own tracking number")
        return self


class Place(BaseModel):
    """Where a carrier event happened, no finer than a city: what the public page may show."""

    city: str | None = None
    region: str | None = None
    country: str | None = None

    def text(self) -> str | None:
        return ", ".join(part for part in (self.city, self.region, self.country) if part) or None


class Parcel(BaseModel):
    id: str
    index: int
    tracking_number: str
    tracking_url: str | None = None
    # The merchant-scoped public page (the slug of its creation time: a former slug redirects).
    public_tracking_url: str | None = None
    weight: Measure | None = None
    status: TrackingStatus = TrackingStatus.pre_transit
    last_event_at: datetime | None = None
    carrier_code: str | None = None
    carrier_message: str | None = None
    location: str | None = None
    place: Place | None = None
    # Time of the update the status comes from: a later update must be newer to replace it.
    status_at: datetime | None = Field(default=None, exclude=True)
    # Digests of the latest updates applied to this parcel: a repeat is recognised on the read
    # the update needs anyway, and costs no write (see shared/tracking.py).
    recent_updates: list[str] = Field(default_factory=empty_list, exclude=True)


class Shipment(ShipmentIn):
    model_config = ConfigDict(extra="ignore")
    id: str
    status: TrackingStatus
    created_at: datetime
    updated_at: datetime | None = None
    redacted_at: datetime | None = None
    estimated_delivery: datetime | None = None
    parcels: list[Parcel]  # type: ignore[assignment]
    merchant_status: TrackingStatus | None = Field(default=None, exclude=True)
    version: int = Field(default=0, exclude=True)

    def parcel_by_number(self, number: str) -> Parcel | None:
        return next((p for p in self.parcels if p.tracking_number == number), None)


class TrackingEvent(BaseModel):
    parcel_id: str
    tracking_number: str
    status: TrackingStatus
    carrier_code: str | None = None
    carrier_message: str | None = None
    occurred_at: datetime
    received_at: datetime
    location: str | None = None
    # City, region and country of `location`, when the carrier gave them apart (public page).
    place: Place | None = None
    # The vocabulary `carrier_code` belongs to: the webhook format it came in (sendcloud, easypost,
    # aftership, shippo, colis).
    source: str | None = None


class TrackingNumberEntry(BaseModel):
    merchant_id: str
    shipment_id: str
    parcel_id: str
    tracking_number: str
    created_at: datetime


def _iso(moment: datetime) -> str:
    return clock.isoformat(moment)


# Top-level attributes are only what a key, an index, a list filter or a write condition reads;
# the rest of the shipment is one JSON string (`doc`). Every write replaces the whole shipment, so
# a typed DynamoDB value per field and per leaf of an address, package or parcel would only cost
# serialising, parsing and storing it on every tracking update.
_ATTRIBUTE_FIELDS = ("status", "order_id", "batch_id")


def shipment_to_item(merchant_id: str, shipment: Shipment, outbox: dict[str, Any] | None = None) -> dict[str, Any]:
    data = shipment.model_dump(mode="json", exclude={"parcels"})
    # recent_updates travel as one string: a list would cost one value per digest.
    data["parcels"] = [{**p.model_dump(mode="json"), "status_at": _iso(p.status_at) if p.status_at else None,
                        "recent_updates": " ".join(p.recent_updates) or None} for p in shipment.parcels]
    created = _iso(shipment.created_at)
    data["created_at"] = created
    data["merchant_status"] = shipment.merchant_status.value if shipment.merchant_status else None
    attributes = {name: data.pop(name) for name in _ATTRIBUTE_FIELDS}
    name = shipment.recipient.display_name()
    attributes["name_search"] = name.casefold() if name else None
    attributes["doc"] = _document(data)
    attributes["version"] = shipment.version
    item = {**keys.shipment(merchant_id, shipment.id), **without_nulls(attributes),
            **keys.index_entry(keys.GSI1, keys.shipment_created_month(merchant_id, shipment.created_at),
                               keys.sortable(created, shipment.id)),
            **keys.index_entry(keys.GSI2, keys.shipment_status_partition(merchant_id, shipment.status.value),
                               keys.sortable(created, shipment.id))}
    if shipment.batch_id:
        item.update(keys.index_entry(keys.GSI3, keys.shipment_batch_partition(merchant_id, shipment.batch_id),
                                     keys.sortable(created, shipment.id)))
    if outbox:
        item["outbox"] = outbox
    return item


def _document(data: dict[str, Any]) -> str:
    return json.dumps(without_nulls(data), separators=(",", ":"), ensure_ascii=False)


def _with_document(item: dict[str, Any]) -> dict[str, Any]:
    """The item's domain fields: its attributes and what its `doc` holds (items written before
    `doc` hold every field as an attribute or nested map)."""
    data = keys.strip_keys(item)
    if "doc" in data:
        data.update(json.loads(data.pop("doc")))
    return data


def event_from_item(item: dict[str, Any]) -> TrackingEvent:
    return TrackingEvent.model_validate(_with_document(item))


def shipment_from_item(item: dict[str, Any]) -> Shipment:
    data = _with_document(item)
    parcels = [Parcel.model_validate({**p, "recent_updates": (p.get("recent_updates") or "").split()})
               for p in data.pop("parcels", [])]
    return Shipment.model_validate({**data, "parcels": parcels})


class ShipmentRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    @property
    def _client(self) -> Any:
        return self._table.meta.client

    @property
    def table(self) -> Any:
        return self._table

    def create(self, merchant_id: str, shipment: Shipment, outbox: dict[str, Any],
               also: Sequence[dict[str, Any]] = ()) -> None:
        """Shipment and its tracking-number items in one transaction: a number taken → Conflict.
        `also`: more items written with them (the retention timers), unconditionally."""
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self._table.name, "Item": shipment_to_item(merchant_id, shipment, outbox),
            "ConditionExpression": "attribute_not_exists(pk)"}}]
        for parcel in shipment.parcels:
            entry = TrackingNumberEntry(merchant_id=merchant_id, shipment_id=shipment.id, parcel_id=parcel.id,
                                        tracking_number=parcel.tracking_number, created_at=shipment.created_at)
            items.append({"Put": {
                "TableName": self._table.name,
                "Item": {**keys.tracking_number(parcel.tracking_number, merchant_id),
                         **entry.model_dump(mode="json")},
                "ConditionExpression": "attribute_not_exists(pk)"}})
        items += [{"Put": {"TableName": self._table.name, "Item": item}} for item in also]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            taken = [shipment.parcels[i - 1].tracking_number for i, r in enumerate(reasons)
                     if i > 0 and r.get("Code") == "ConditionalCheckFailed"]
            if taken:
                raise Refused(f"Tracking number {taken[0]} is already used by another shipment.") from error
            raise

    def get(self, merchant_id: str, shipment_id: str, *, consistent: bool = False) -> Shipment:
        item = self._table.get_item(Key=keys.shipment(merchant_id, shipment_id), ConsistentRead=consistent).get("Item")
        if not item:
            raise NotFound(f"Shipment {shipment_id} does not exist.")
        return shipment_from_item(item)

    def exists(self, merchant_id: str, shipment_id: str) -> bool:
        key = keys.shipment(merchant_id, shipment_id)
        return "Item" in self._table.get_item(Key=key, ProjectionExpression=keys.PK, ConsistentRead=True)

    def find_by_tracking_number(self, merchant_id: str, number: str) -> TrackingNumberEntry | None:
        item = self._table.get_item(Key=keys.tracking_number(number, merchant_id)).get("Item")
        return TrackingNumberEntry.model_validate(keys.strip_keys(item)) if item else None

    def save(self, merchant_id: str, shipment: Shipment, expected_version: int,
             outbox: dict[str, Any] | None = None) -> None:
        """Replace the shipment if nobody changed it since `expected_version` (else Conflict)."""
        try:
            self._client.put_item(**self._versioned_put(merchant_id, shipment, expected_version, outbox))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Refused("The shipment changed meanwhile; retry.") from error
            raise

    def _versioned_put(self, merchant_id: str, shipment: Shipment, expected_version: int,
                       outbox: dict[str, Any] | None) -> dict[str, Any]:
        return {"TableName": self._table.name, "Item": shipment_to_item(merchant_id, shipment, outbox),
                "ConditionExpression": "#version = :expected", "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":expected": expected_version}}

    def save_with_event(self, merchant_id: str, shipment: Shipment, expected_version: int,
                        outbox: dict[str, Any] | None, event: TrackingEvent, dedup_key: str) -> bool:
        """The changed shipment and the history event that changed it, in one transaction: both
        land or neither. Conflict when the shipment changed since `expected_version`; False, with
        nothing written, when the event is already recorded."""
        try:
            self._client.transact_write_items(TransactItems=[
                {"Put": self._versioned_put(merchant_id, shipment, expected_version, outbox)},
                {"Put": self.event_put(merchant_id, shipment.id, event, dedup_key)}])
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise Refused("The shipment changed meanwhile; retry.") from error
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def events(self, merchant_id: str, shipment_id: str) -> list[TrackingEvent]:
        request = {"KeyConditionExpression": Key(keys.PK).eq(keys.shipment_partition(merchant_id, shipment_id))
                   & Key(keys.SK).begins_with(keys.EVENT_PREFIX), "ScanIndexForward": False}
        return [event_from_item(item) for item in _query_all(self._table, request)]

    def event_items(self, merchant_id: str, shipment_id: str) -> Iterator[tuple[dict[str, str], TrackingEvent]]:
        """(key, event) of every stored event of the shipment, for rewriting them (retention)."""
        request = {"KeyConditionExpression": Key(keys.PK).eq(keys.shipment_partition(merchant_id, shipment_id))
                   & Key(keys.SK).begins_with(keys.EVENT_PREFIX), "ConsistentRead": True}
        for item in _query_all(self._table, request):
            yield {keys.PK: item[keys.PK], keys.SK: item[keys.SK]}, event_from_item(item)

    def replace_event(self, item_key: dict[str, str], event: TrackingEvent) -> None:
        """The event's stored fields replaced (while the event still exists)."""
        self._table.update_item(Key=item_key, UpdateExpression="SET doc = :doc",
                                ConditionExpression="attribute_exists(pk)",
                                ExpressionAttributeValues={":doc": _document(event.model_dump(mode="json"))})

    def events_page(self, merchant_id: str, shipment_id: str, limit: int,
                    cursor: str | None) -> tuple[list[TrackingEvent], str | None]:
        """One page of the tracking history, newest first."""
        partition = keys.shipment_partition(merchant_id, shipment_id)
        if cursor and decode_cursor(merchant_id, cursor).get(keys.PK) != partition:
            raise Malformed("The cursor is not valid.")  # another shipment's history
        page = query_page(self._table, merchant_id, limit=limit, cursor=cursor,
                          key_condition=Key(keys.PK).eq(partition) & Key(keys.SK).begins_with(keys.EVENT_PREFIX))
        return [event_from_item(item) for item in page.items], page.next_cursor

    def event_put(self, merchant_id: str, shipment_id: str, event: TrackingEvent, dedup_key: str) -> dict[str, Any]:
        # One JSON string, as the shipment's `doc`: nothing reads a history event's fields in place.
        item = {**keys.tracking_event(merchant_id, shipment_id, _iso(event.occurred_at), dedup_key),
                "doc": _document(event.model_dump(mode="json"))}
        return {"TableName": self._table.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}

    def record_event(self, merchant_id: str, shipment_id: str, event: TrackingEvent, dedup_key: str) -> bool:
        """The event, once per dedup key (a conditional put): False when it was already there."""
        try:
            self._client.put_item(**self.event_put(merchant_id, shipment_id, event, dedup_key))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # --- orphans: updates for tracking numbers no shipment has yet -----------------------------
    def record_orphan(self, merchant_id: str, update: CanonicalUpdate) -> bool:
        expires = clock.now() + timedelta(days=ORPHAN_DAYS)
        item = {**keys.orphan_update(merchant_id, update.tracking_number, _iso(update.occurred_at),
                                     update.dedup_key()),
                "update": update.model_dump(mode="json"), "received_at": _iso(clock.now()),
                keys.TTL: int(expires.timestamp())}
        try:
            self._table.put_item(Item=without_nulls(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def orphans(self, merchant_id: str, number: str) -> list[tuple[dict[str, str], CanonicalUpdate]]:
        now = clock.epoch_seconds()
        request = {"KeyConditionExpression": Key(keys.PK).eq(keys.orphan_partition(merchant_id, number)),
                   "ScanIndexForward": True}
        return [({keys.PK: i[keys.PK], keys.SK: i[keys.SK]}, CanonicalUpdate.model_validate(i["update"]))
                for i in _query_all(self._table, request) if int(i.get(keys.TTL, now + 1)) > now]

    def delete_item(self, item_key: dict[str, str]) -> None:
        self._table.delete_item(Key=item_key)

    # --- lists ---------------------------------------------------------------------------------
    def page_by_index(self, merchant_id: str, index: keys.Index, partition: str, *, limit: int,
                      cursor_position: dict[str, Any] | None, lower: str | None, upper: str | None,
                      filter_expression: Any = None) -> tuple[list[Shipment], dict[str, Any] | None]:
        """Newest first within one index partition, bounded by sortable created-at strings."""
        condition = _partition_range(index, partition, lower, upper)
        request: dict[str, Any] = {"IndexName": index.name, "KeyConditionExpression": condition,
                                   "ScanIndexForward": False}
        if filter_expression is not None:
            request["FilterExpression"] = filter_expression
        found: list[dict[str, Any]] = []
        start = cursor_position
        while len(found) <= limit:
            request["Limit"] = limit + 1 - len(found)
            if start:
                request["ExclusiveStartKey"] = start
            else:
                request.pop("ExclusiveStartKey", None)
            response = self._table.query(**request)
            found.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        if len(found) > limit:
            found = found[:limit]
            last = found[-1]
            return [shipment_from_item(i) for i in found], {n: last[n] for n in (keys.PK, keys.SK, index.pk, index.sk)}
        return [shipment_from_item(i) for i in found], None

    def iterate_by_index(self, index: keys.Index, partition: str, *, lower: str | None, upper: str | None,
                         filter_expression: Any = None) -> Iterator[dict[str, Any]]:
        condition = _partition_range(index, partition, lower, upper)
        request: dict[str, Any] = {"IndexName": index.name, "KeyConditionExpression": condition,
                                   "ScanIndexForward": True}
        if filter_expression is not None:
            request["FilterExpression"] = filter_expression
        yield from _query_all(self._table, request)


def _partition_range(index: keys.Index, partition: str, lower: str | None, upper: str | None) -> Any:
    condition = Key(index.pk).eq(partition)
    if lower and upper:
        return condition & Key(index.sk).between(lower, upper)
    if lower:
        return condition & Key(index.sk).gte(lower)
    if upper:
        return condition & Key(index.sk).lte(upper)
    return condition


def _query_all(table: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        response = table.query(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def month_partitions(merchant_id: str, newest: datetime, oldest: datetime) -> list[str]:
    """Created-month buckets from `newest` back to `oldest`, newest first."""
    year, month = newest.year, newest.month
    partitions = []
    while (year, month) >= (oldest.year, oldest.month):
        partitions.append(keys.shipment_created_month(merchant_id, datetime(year, month, 1)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return partitions


def name_contains(fragment: str) -> Any:
    return Attr("name_search").contains(fragment.casefold())


def status_in(statuses: list[str]) -> Any:
    return Attr("status").is_in(statuses)


def order_is(order_id: str) -> Any:
    return Attr("order_id").eq(order_id)


def batch_is(batch_id: str) -> Any:
    return Attr("batch_id").eq(batch_id)


def derive(shipment: Shipment) -> TrackingStatus:
    return derive_shipment_status([p.status for p in shipment.parcels], shipment.merchant_status)
