"""Which index serves a shipment list or export, and how its filters apply (never a scan).

- `q` that is a tracking number of the merchant: one GetItem.
- `batch_id`: the batch index; else a single status: the status index; else the created-month
  buckets from the upper bound back to the lower one.
- The other filters (statuses, batch, `q` as order id or part of the recipient's name, case and
  accents ignored) are filter expressions over the chosen, range-bounded partitions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.dynamo import keys
from shared.dynamo.paging import decode_cursor, encode_cursor, list_scope
from shared.errors import Malformed
from shared.platform import clock
from shared.shipments.model import Shipment
from shared.shipments.statuses import TrackingStatus
from shared.shipments.store import (
    ShipmentRepository,
    batch_is,
    month_partitions,
    name_contains,
    order_is,
    searchable_name,
    status_in,
)
from shared.values.models import empty_list
from shared.values.times import utc_instant


class ShipmentFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    created_from: date | datetime | None = None
    created_to: date | datetime | None = None
    status: list[TrackingStatus] = Field(default_factory=empty_list)
    batch_id: str | None = Field(default=None, max_length=64)
    q: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("status", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("created_from", "created_to", mode="before")
    @classmethod
    def _date_or_instant(cls, value: Any) -> Any:
        # pydantic would read "2026-03-01T00:00:00Z" as a date (zero time), widening the bound.
        if isinstance(value, str) and len(value.strip()) > 10:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return value

    @field_validator("created_from", "created_to")
    @classmethod
    def _real_instant(cls, value: date | datetime | None) -> date | datetime | None:
        # Year 1 or 9999 with an offset (or 9999-12-31's end of day) is past the calendar in UTC:
        # an OverflowError while the bounds are computed, were it let through (a 422 instead).
        if isinstance(value, datetime):
            return utc_instant(value)
        if isinstance(value, date):
            utc_instant(datetime.combine(value, time(0)))
            utc_instant(datetime.combine(value, time(0)) + timedelta(days=1))
        return value

    @model_validator(mode="after")
    def _range_in_order(self) -> ShipmentFilter:
        lower, upper = self.lower_bound(), self.upper_bound()
        if lower and upper and lower >= upper:
            raise ValueError("created_from must be before created_to")
        return self

    def lower_bound(self) -> datetime | None:
        """Inclusive: a date means the start of that UTC day."""
        return _as_instant(self.created_from, end_of_day=False)

    def upper_bound(self) -> datetime | None:
        """Exclusive: a date includes that whole UTC day."""
        return _as_instant(self.created_to, end_of_day=True)


def _as_instant(value: date | datetime | None, *, end_of_day: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    start = datetime.combine(value, time(0), tzinfo=UTC)
    return start + timedelta(days=1) if end_of_day else start


def _sk_bounds(f: ShipmentFilter) -> tuple[str | None, str | None]:
    lower, upper = f.lower_bound(), f.upper_bound()
    low = clock.isoformat(lower) if lower else None
    # Sort keys are "<created_at>#<id>": the last millisecond before the bound, any id.
    high = clock.isoformat(upper - timedelta(milliseconds=1)) + "#\uffff" if upper else None
    return low, high


class _Plan(BaseModel):
    index: Any
    partitions: list[str]
    filter_expression: Any = None


def _filter_expression(f: ShipmentFilter, *, skip_status: bool, skip_batch: bool) -> Any:
    parts = []
    if f.status and not skip_status:
        parts.append(status_in([s.value for s in f.status]))
    if f.batch_id and not skip_batch:
        parts.append(batch_is(f.batch_id))
    if f.q:
        # A `q` of spaces (or control characters) only leaves no name to look for: the order id only.
        parts.append(order_is(f.q) | name_contains(f.q) if searchable_name(f.q) else order_is(f.q))
    expression = None
    for part in parts:
        expression = part if expression is None else expression & part
    return expression


def _plan(merchant_id: str, f: ShipmentFilter, oldest: datetime) -> _Plan:
    if f.batch_id:
        return _Plan(index=keys.GSI3, partitions=[keys.shipment_batch_partition(merchant_id, f.batch_id)],
                     filter_expression=_filter_expression(f, skip_status=False, skip_batch=True))
    if len(f.status) == 1:
        return _Plan(index=keys.GSI2, partitions=[keys.shipment_status_partition(merchant_id, f.status[0].value)],
                     filter_expression=_filter_expression(f, skip_status=True, skip_batch=True))
    upper = f.upper_bound() or clock.now()
    newest = min(upper - timedelta(milliseconds=1), clock.now())
    lower = max(f.lower_bound() or oldest, oldest)
    return _Plan(index=keys.GSI1, partitions=month_partitions(merchant_id, newest, lower),
                 filter_expression=_filter_expression(f, skip_status=False, skip_batch=False))


def _matches(shipment: Shipment, f: ShipmentFilter) -> bool:
    lower, upper = f.lower_bound(), f.upper_bound()
    return ((lower is None or shipment.created_at >= lower) and (upper is None or shipment.created_at < upper)
            and (not f.status or shipment.status in f.status)
            and (not f.batch_id or shipment.batch_id == f.batch_id))


def _by_tracking_number(repository: ShipmentRepository, merchant_id: str, f: ShipmentFilter) -> Shipment | None:
    if not f.q:
        return None
    # Carriers print their numbers in capitals, and `q` is case-insensitive: a number typed in lower
    # case is looked up as written, then in capitals (at most two GetItems, never a scan).
    typed = f.q.strip()
    for number in dict.fromkeys((typed, typed.upper())):
        entry = repository.find_by_tracking_number(merchant_id, number)
        if entry:
            return repository.get(merchant_id, entry.shipment_id)
    return None


def page_shipments(repository: ShipmentRepository, merchant_id: str, f: ShipmentFilter, *, limit: int,
                   cursor: str | None, oldest: datetime) -> tuple[list[Shipment], str | None]:
    """One page, newest first; `oldest` bounds the month walk (the merchant's creation)."""
    found = _by_tracking_number(repository, merchant_id, f)
    if found is not None:
        if cursor:  # this list is one shipment: it never gave a cursor
            decode_cursor(merchant_id, cursor, scope=list_scope("shipments-by-tracking-number"))
            return [], None
        return ([found] if _matches(found, f) else []), None
    plan = _plan(merchant_id, f, oldest)
    low, high = _sk_bounds(f)
    # The index and range the positions are in: a cursor of another query would start DynamoDB
    # outside its key condition (a ValidationException).
    scope = list_scope("shipments", plan.index.name, low, high)
    start_partition, position = 0, None
    if cursor:
        decoded = decode_cursor(merchant_id, cursor, scope=scope)
        if decoded.get("part") not in plan.partitions:
            raise Malformed("The cursor does not belong to this query.")
        start_partition, position = plan.partitions.index(decoded["part"]), decoded.get("k")
    shipments: list[Shipment] = []
    for number in range(start_partition, len(plan.partitions)):
        partition = plan.partitions[number]
        page, next_position = repository.page_by_index(
            merchant_id, plan.index, partition, limit=limit - len(shipments), cursor_position=position,
            lower=low, upper=high, filter_expression=plan.filter_expression)
        shipments.extend(page)
        position = None
        if next_position is not None:
            return shipments, encode_cursor(merchant_id, {"part": partition, "k": next_position}, scope=scope)
        if len(shipments) >= limit:
            following = number + 1
            if following < len(plan.partitions):
                return shipments, encode_cursor(merchant_id, {"part": plan.partitions[following], "k": None},
                                                scope=scope)
            return shipments, None
    return shipments, None


def iterate_shipments(repository: ShipmentRepository, merchant_id: str, f: ShipmentFilter,
                      oldest: datetime) -> Iterator[Shipment]:
    """Every matching shipment, month by month, in constant memory (exports)."""
    found = _by_tracking_number(repository, merchant_id, f)
    if found is not None:
        if _matches(found, f):
            yield found
        return
    plan = _plan(merchant_id, f, oldest)
    low, high = _sk_bounds(f)
    for partition in plan.partitions:
        yield from repository.iterate_by_index(plan.index, partition, lower=low, upper=high,
                                               filter_expression=plan.filter_expression)
