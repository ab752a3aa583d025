"""Retention in the table: the timers (`TimerRepository`), and what the retention actions write
beyond the domain stores' own verbs (`RetentionStore`): single-item requests, never transactions
(they run in bulk, and PLATFORM_NOTES says moto copies the table per transaction), each idempotent
so that a timer handled twice does its work once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.dynamo import batch, keys, writes
from shared.dynamo.paging import query_all
from shared.orders.model import OrderActivity
from shared.platform import aws, clock
from shared.retention.redaction import REDACTED
from shared.retention.timers import DueTimer, Timer, TimerAction, timer_from_item


class RetentionStore:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def rewrite_activity(self, merchant_id: str, order_id: str,
                         redact: Callable[[OrderActivity], OrderActivity]) -> None:
        """Every entry of the order's log that `redact` changes, rewritten (text, changes, details)."""
        entries = query_all(self._table, KeyConditionExpression=Key(keys.PK).eq(keys.order_partition(merchant_id, order_id))
                            & Key(keys.SK).begins_with(keys.ACTIVITY_PREFIX))
        for item in entries:
            entry = OrderActivity.model_validate(keys.strip_keys(item))
            changed = redact(entry)
            if changed == entry:
                continue
            fields = {name: getattr(changed, name) for name in ("text", "changes", "details")
                      if getattr(changed, name) is not None}
            writes.update(self._table, keys.key(item[keys.PK], item[keys.SK]),
                          "SET " + ", ".join(f"#{name} = :{name}" for name in fields),
                          names={f"#{name}": name for name in fields}, values={f":{name}": v for name, v in fields.items()})

    def redact_refund_notes(self, merchant_id: str, order_id: str) -> None:
        """A refund's note is the merchant's free text about the customer."""
        refunds = query_all(self._table, KeyConditionExpression=Key(keys.PK).eq(keys.order_partition(merchant_id, order_id))
                            & Key(keys.SK).begins_with(keys.REFUND_PREFIX))
        for item in refunds:
            if item.get("note") not in (None, REDACTED):
                writes.applied(partial(writes.update, self._table, keys.key(item[keys.PK], item[keys.SK]),
                                       "SET note = :redacted", condition=writes.ITEM_EXISTS, rule="refund_exists",
                                       values={":redacted": REDACTED}))

    def delete_tracking_numbers(self, merchant_id: str, shipment_id: str, numbers: list[str]) -> int:
        """The tracking-number items that still name this shipment (never another one's number)."""
        return sum(writes.applied(partial(writes.delete, self._table, keys.tracking_number(number, merchant_id),
                                          condition="shipment_id = :id", rule="number_of_shipment",
                                          values={":id": shipment_id}))
                   for number in numbers)

    def delete_shipment_partition(self, merchant_id: str, shipment_id: str) -> int:
        """Every item of the shipment's partition, the shipment item last: until it is gone, a retry
        finds the shipment and finishes the job. The number of items deleted."""
        partition = keys.shipment_partition(merchant_id, shipment_id)
        item_keys = [keys.key(i[keys.PK], i[keys.SK]) for i in query_all(
            self._table, KeyConditionExpression=Key(keys.PK).eq(partition), ProjectionExpression="#pk, #sk",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK}, ConsistentRead=True)]
        shipment_key = keys.shipment(merchant_id, shipment_id)
        batch.write(self._table, deletes=[k for k in item_keys if k != shipment_key])
        if shipment_key in item_keys:
            writes.delete(self._table, shipment_key)
        return len(item_keys)


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
        items = query_all(self._table, IndexName=keys.DUE.name,
                          KeyConditionExpression=Key(keys.DUE.pk).eq(keys.due_partition(month))
                          & Key(keys.DUE.sk).lt(keys.due_before(now_epoch)))
        for item in items:
            due = _due_from_index(item)
            if due is not None:
                yield due

    def get(self, timer_key: dict[str, str]) -> Timer | None:
        item = self._table.get_item(Key=timer_key, ConsistentRead=True).get("Item")
        return timer_from_item(item) if item else None

    def delete_if_due_at(self, timer_key: dict[str, str], due_epoch: int) -> bool:
        """Removes the timer unless it was re-armed meanwhile (another due epoch): done with it."""
        return writes.applied(partial(writes.delete, self._table, timer_key, condition="#ttl = :due",
                                      rule="timer_due_then", names={"#ttl": keys.TTL}, values={":due": due_epoch}))

    def rearm(self, timer: Timer, due_epoch: int, attempts: int, *, expires_epoch: int | None = None) -> None:
        """The timer, due again at `due_epoch` for the schedule, and removed by TTL at `expires_epoch`
        (default: the same moment). An upsert: it recreates a timer TTL removed, and keeps what a
        stored one says beyond its due time (the periods it was made with)."""
        due = datetime.fromtimestamp(due_epoch, UTC)
        values: dict[str, Any] = {
            ":due": due_epoch if expires_epoch is None else expires_epoch, ":month": keys.due_partition(due.date()), ":at": clock.isoformat(due), ":attempts": attempts,
            ":position": keys.due_position(due_epoch, keys.shipment_partition(timer.merchant_id, timer.shipment_id)),
            ":merchant": timer.merchant_id, ":shipment": timer.shipment_id, ":action": timer.action.value}
        assignments = ["#ttl = :due", "#due_pk = :month", "#due_sk = :position", "due_at = :at", "attempts = :attempts",
                       "merchant_id = :merchant", "shipment_id = :shipment", "#action = :action"]
        if timer.order_id:
            values[":order"] = timer.order_id
            assignments.append("order_id = :order")
        writes.update(self._table, timer.key, "SET " + ", ".join(assignments), values=values,
                      names={"#ttl": keys.TTL, "#due_pk": keys.DUE.pk, "#due_sk": keys.DUE.sk, "#action": "action"})

    # --- the schedule's cursor ------------------------------------------------------------------
    def cursor(self) -> date | None:
        """First day of the oldest month that may still hold due timers (None before the first run)."""
        item = self._table.get_item(Key=keys.retention_cursor(), ConsistentRead=True).get("Item")
        return date.fromisoformat(str(item["next_month"]) + "-01") if item else None

    def advance_cursor(self, month: date) -> None:
        """Moves the cursor forward only: two overlapping runs never move it back."""
        writes.applied(partial(writes.update, self._table, keys.retention_cursor(), "SET next_month = :month",
                               condition="attribute_not_exists(next_month) OR next_month < :month",
                               rule="cursor_moves_forward", values={":month": f"{month:%Y-%m}"}))

    def first_merchant_day(self) -> date | None:
        """The day the oldest merchant was created: no timer can be due before it. Read once, when
        the schedule runs for the first time (a Query of the merchant list, not a scan)."""
        index, partition = keys.merchants_list()
        merchants = query_all(self._table, IndexName=index.name, KeyConditionExpression=Key(index.pk).eq(partition),
                              ProjectionExpression="created_at")
        oldest = min((created for item in merchants if (created := str(item.get("created_at") or ""))), default=None)
        return datetime.fromisoformat(oldest.replace("Z", "+00:00")).date() if oldest else None
