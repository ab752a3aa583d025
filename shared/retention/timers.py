"""Retention timers (DESIGN.md §1.6): when each retention action of a shipment falls due, the
timer items that carry it (the retention function reads them through `shared.retention.store`).

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
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.dynamo import keys
from shared.errors import NotFound
from shared.merchants.model import RetentionSettings
from shared.merchants.store import MerchantRepository
from shared.platform import clock

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
