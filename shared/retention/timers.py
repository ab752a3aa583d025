"""Retention timers (DESIGN.md §1.6): when each retention action of a shipment falls due, the
timer items that carry it, and the repository the retention function reads them through.

A shipment gets three timers when it is created, in the same transaction:
- `REDACT` after the merchant's `redact_after_days` (default 90 days);
- `ARCHIVE` after `ARCHIVE_AFTER_DAYS` (60 days) when no delivery was confirmed by then;
- `DELETE` after `delete_after_months` calendar months (default 15) if the shipment is resolved.

The periods are read from the merchant's settings at creation and written onto the timers, so a
change of settings applies to shipments created afterwards only. Each timer has `ttl` = its due
epoch (DynamoDB TTL deletes it, the stream hands the deletion to the retention consumer) and an
entry in the sparse `due` index (the `retention` schedule catches up whatever TTL has not yet
removed, reading the partitions of the months up to now, and in them only what is due).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shared.dynamo import keys
from shared.errors import NotFound
from shared.merchants.store import MerchantRepository, RetentionSettings
from shared.platform import aws, clock

ARCHIVE_AFTER_DAYS = 60


class TimerAction(StrEnum):
    redact = "REDACT"
    archive = "ARCHIVE"
    delete = "DELETE"


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months; a day the target month lacks becomes its last day (31 Jan + 1 → 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_after(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def due_moments(created_at: datetime, periods: RetentionSettings) -> dict[TimerAction, datetime]:
    return {
        TimerAction.redact: created_at + timedelta(days=periods.redact_after_days),
        TimerAction.archive: created_at + timedelta(days=ARCHIVE_AFTER_DAYS),
        TimerAction.delete: add_months(created_at, periods.delete_after_months),
    }


@dataclass(frozen=True)
class Timer:
    """One retention timer. `attempts` counts failed or postponed runs (back-off of re-arms)."""

    merchant_id: str
    shipment_id: str
    action: TimerAction
    due_epoch: int
    order_id: str | None = None
    attempts: int = 0

    @property
    def key(self) -> dict[str, str]:
        return keys.retention_timer(self.merchant_id, self.shipment_id, self.action.value)


def timer_item(timer: Timer, periods: RetentionSettings | None = None) -> dict[str, Any]:
    """The item, keys and index entry included. Ids only: a timer holds no personal data."""
    partition = keys.shipment_partition(timer.merchant_id, timer.shipment_id)
    due = datetime.fromtimestamp(timer.due_epoch, UTC)
    item: dict[str, Any] = {
        **timer.key, keys.TTL: timer.due_epoch,
        **keys.index_entry(keys.DUE, keys.due_partition(due.date()), keys.due_position(timer.due_epoch, partition)),
        "merchant_id": timer.merchant_id, "shipment_id": timer.shipment_id, "action": timer.action.value,
        "due_at": clock.isoformat(due), "attempts": timer.attempts,
    }
    if timer.order_id:
        item["order_id"] = timer.order_id
    if periods is not None:  # what the merchant's settings said when the shipment was created
        item["redact_after_days"] = periods.redact_after_days
        item["delete_after_months"] = periods.delete_after_months
    return item


def timer_from_item(item: dict[str, Any]) -> Timer:
    """From a table item or a stream image (plain values). Raises on anything malformed."""
    return Timer(merchant_id=str(item["merchant_id"]), shipment_id=str(item["shipment_id"]),
                 action=TimerAction(str(item["action"])), due_epoch=int(item[keys.TTL]),
                 order_id=str(item["order_id"]) if item.get("order_id") else None,
                 attempts=int(item.get("attempts", 0)))


def shipment_timer_items(merchant_id: str, shipment_id: str, created_at: datetime, order_id: str | None,
                         periods: RetentionSettings) -> list[dict[str, Any]]:
    """The three timers a new shipment is written with."""
    return [timer_item(Timer(merchant_id, shipment_id, action, clock.epoch_seconds(moment), order_id), periods)
            for action, moment in due_moments(created_at, periods).items()]


def periods_for(merchants: MerchantRepository, merchant_id: str) -> RetentionSettings:
    """The merchant's retention settings now (defaults when the merchant record is missing)."""
    try:
        return merchants.get(merchant_id).settings.retention
    except NotFound:
        return RetentionSettings()


@dataclass(frozen=True)
class DueTimer:
    """A due-index entry (KEYS_ONLY): enough to find the shipment and the action."""

    merchant_id: str
    shipment_id: str
    action: TimerAction
    due_epoch: int

    @property
    def key(self) -> dict[str, str]:
        return keys.retention_timer(self.merchant_id, self.shipment_id, self.action.value)


def _due_from_index(item: dict[str, Any]) -> DueTimer | None:
    action = keys.timer_action(str(item[keys.SK]))
    if action is None or action not in TimerAction._value2member_map_:
        return None
    merchant_id, shipment_id = keys.shipment_of_partition(str(item[keys.PK]))
    return DueTimer(merchant_id, shipment_id, TimerAction(action), keys.due_epoch_of(str(item[keys.DUE.sk])))


class TimerRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def due_in(self, month: date, now_epoch: int) -> Iterator[DueTimer]:
        """Timers of one due month that are due at `now_epoch`, oldest first (index pages, lazily).
        The sort-key bound keeps the read to what is due: timers due later are not read at all."""
        request: dict[str, Any] = {
            "IndexName": keys.DUE.name,
            "KeyConditionExpression": Key(keys.DUE.pk).eq(keys.due_partition(month))
            & Key(keys.DUE.sk).lt(keys.due_before(now_epoch)),
        }
        while True:
            response = self._table.query(**request)
            for item in response.get("Items", []):
                due = _due_from_index(item)
                if due is not None:
                    yield due
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get(self, timer_key: dict[str, str]) -> Timer | None:
        item = self._table.get_item(Key=timer_key, ConsistentRead=True).get("Item")
        return timer_from_item(item) if item else None

    def delete_if_due_at(self, timer_key: dict[str, str], due_epoch: int) -> bool:
        """Removes the timer unless it was re-armed meanwhile (another due epoch): done with it."""
        try:
            self._table.delete_item(Key=timer_key, ConditionExpression="#ttl = :due",
                                    ExpressionAttributeNames={"#ttl": keys.TTL},
                                    ExpressionAttributeValues={":due": due_epoch})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def rearm(self, timer: Timer, due_epoch: int, attempts: int) -> None:
        """The timer, due again at `due_epoch`. An upsert: it recreates a timer TTL removed, and keeps
        what a stored one says beyond its due time (the periods it was made with)."""
        due = datetime.fromtimestamp(due_epoch, UTC)
        values: dict[str, Any] = {
            ":due": due_epoch, ":month": keys.due_partition(due.date()), ":at": clock.isoformat(due), ":attempts": attempts,
            ":position": keys.due_position(due_epoch, keys.shipment_partition(timer.merchant_id, timer.shipment_id)),
            ":merchant": timer.merchant_id, ":shipment": timer.shipment_id, ":action": timer.action.value}
        assignments = ["#ttl = :due", "#due_pk = :month", "#due_sk = :position", "due_at = :at", "attempts = :attempts",
                       "merchant_id = :merchant", "shipment_id = :shipment", "#action = :action"]
        if timer.order_id:
            values[":order"] = timer.order_id
            assignments.append("order_id = :order")
        self._table.update_item(Key=timer.key, UpdateExpression="SET " + ", ".join(assignments),
                                ExpressionAttributeNames={"#ttl": keys.TTL, "#due_pk": keys.DUE.pk,
                                                          "#due_sk": keys.DUE.sk, "#action": "action"},
                                ExpressionAttributeValues=values)

    # --- the schedule's cursor ------------------------------------------------------------------
    def cursor(self) -> date | None:
        """First day of the oldest month that may still hold due timers (None before the first run)."""
        item = self._table.get_item(Key=keys.retention_cursor(), ConsistentRead=True).get("Item")
        return date.fromisoformat(str(item["next_month"]) + "-01") if item else None

    def advance_cursor(self, month: date) -> None:
        """Moves the cursor forward only: two overlapping runs never move it back."""
        value = f"{month:%Y-%m}"
        try:
            self._table.update_item(Key=keys.retention_cursor(), UpdateExpression="SET next_month = :month",
                                    ConditionExpression="attribute_not_exists(next_month) OR next_month < :month",
                                    ExpressionAttributeValues={":month": value})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def first_merchant_day(self) -> date | None:
        """The day the oldest merchant was created: no timer can be due before it. Read once, when
        the schedule runs for the first time (a Query of the merchant list, not a scan)."""
        index, partition = keys.merchants_list()
        request: dict[str, Any] = {"IndexName": index.name, "KeyConditionExpression": Key(index.pk).eq(partition),
                                   "ProjectionExpression": "created_at"}
        oldest: str | None = None
        while True:
            response = self._table.query(**request)
            for item in response.get("Items", []):
                created = str(item.get("created_at") or "")
                if created and (oldest is None or created < oldest):
                    oldest = created
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return datetime.fromisoformat(oldest.replace("Z", "+00:00")).date() if oldest else None
