"""Customer notification records: one item per (shipment or order, milestone).

The item is written before anything is sent, with a conditional write: whoever writes it first
owns the (subject, milestone) and is the only one allowed to email. Afterwards it records what
happened (sent with SES's message id, failed, unknown, skipped) and for whom, so that retention
can redact the recipient address with the rest of the shipment's personal data.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.dynamo import keys, writes
from shared.dynamo.paging import query_all
from shared.notifications.model import (
    RECLAIMABLE,
    REDACTED,
    Claim,
    Notification,
    NotificationState,
    NotificationTarget,
)
from shared.platform import aws, clock


class NotificationRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def claim(self, target: NotificationTarget, *, language: str | None, recipient_email: str | None,
              state: NotificationState = NotificationState.claimed, reason: str | None = None) -> Claim:
        """Creates the record in `state` unless one exists that is not reclaimable (one request)."""
        now = clock.isoformat(clock.now())
        fields: dict[str, Any] = {
            "merchant_id": target.merchant_id, "shipment_id": target.shipment_id, "order_id": target.order_id,
            "endpoint_id": target.endpoint_id,
            "milestone": target.milestone, "language": language, "state": state.value, "reason": reason,
            "recipient_email": recipient_email, "claim_id": uuid.uuid4().hex, "claimed_at": now, "updated_at": now,
        }
        present = {name: value for name, value in fields.items() if value is not None}
        absent = [name for name, value in fields.items() if value is None] + ["ses_message_id", "sent_at"]
        names = {f"#{name}": name for name in [*present, *absent, "created_at", "attempts"]}
        values: dict[str, Any] = {f":{name}": value for name, value in present.items()}
        values.update({":zero": 0, ":one": 1, **{f":r{i}": s.value for i, s in enumerate(RECLAIMABLE)}})
        assignments = [f"#{name} = :{name}" for name in present]
        assignments += ["#created_at = if_not_exists(#created_at, :claimed_at)",
                        "#attempts = if_not_exists(#attempts, :zero) + :one"]
        reclaimable = " OR ".join(f"#state = :r{i}" for i in range(len(RECLAIMABLE)))
        won, item = writes.update_or_current(
            self._table, target.item_key(),
            f"SET {', '.join(assignments)} REMOVE {', '.join(f'#{n}' for n in absent)}",
            condition=f"attribute_not_exists(pk) OR {reclaimable}", names=names, values=values)
        return Claim(won, _from_item(item or self._get_item(target)))

    def finish(self, record: Notification, state: NotificationState, *, reason: str | None = None,
               ses_message_id: str | None = None) -> Notification:
        """Moves our own claim to its outcome; a claim someone else holds now is left alone."""
        now = clock.isoformat(clock.now())
        values: dict[str, Any] = {":state": state.value, ":now": now, ":claim_id": record.claim_id,
                                  ":claimed": NotificationState.claimed.value}
        assignments = ["#state = :state", "updated_at = :now"]
        if reason is not None:
            values[":reason"] = reason
            assignments.append("reason = :reason")
        if ses_message_id is not None:
            values[":message_id"] = ses_message_id
            assignments += ["ses_message_id = :message_id", "sent_at = :now"]
        written = writes.update(self._table, record.target.item_key(), f"SET {', '.join(assignments)}",
                                condition="claim_id = :claim_id AND #state = :claimed", rule="claim_held",
                                names={"#state": "state"}, values=values, returns="ALL_NEW")
        return _from_item(written)

    def get(self, target: NotificationTarget) -> Notification | None:
        item = self._table.get_item(Key=target.item_key(), ConsistentRead=True).get("Item")
        return _from_item(item) if item else None

    def for_shipment(self, merchant_id: str, shipment_id: str) -> list[Notification]:
        return [_from_item(item) for item in self._query(*keys.shipment_notifications_prefix(merchant_id, shipment_id))]

    def for_order(self, merchant_id: str, order_id: str) -> list[Notification]:
        return [_from_item(item) for item in self._query(*keys.order_notifications_prefix(merchant_id, order_id))]

    def redact_shipment_recipients(self, merchant_id: str, shipment_id: str) -> int:
        """For retention: the recipient addresses of a shipment's emails become `redacted`."""
        return self._redact(self._query(*keys.shipment_notifications_prefix(merchant_id, shipment_id)))

    def redact_order_recipients(self, merchant_id: str, order_id: str) -> int:
        return self._redact(self._query(*keys.order_notifications_prefix(merchant_id, order_id)))

    def _redact(self, items: list[dict[str, Any]]) -> int:
        # The recipient's address, and a failure's reason (SES quotes the address it refused). A record
        # deleted meanwhile (its subject went) has nothing left to redact: not counted.
        pending = [(item, [name for name in ("recipient_email", "reason") if item.get(name) not in (None, REDACTED)])
                   for item in items]
        return sum(writes.applied(partial(
            writes.update, self._table, keys.key(item[keys.PK], item[keys.SK]),
            "SET " + ", ".join(f"{name} = :redacted" for name in fields),
            condition=writes.ITEM_EXISTS, rule="notification_exists", values={":redacted": REDACTED}))
            for item, fields in pending if fields)

    def _query(self, partition: str, prefix: str) -> list[dict[str, Any]]:
        return list(query_all(self._table, KeyConditionExpression=Key(keys.PK).eq(partition)
                              & Key(keys.SK).begins_with(prefix), ConsistentRead=True))

    def _get_item(self, target: NotificationTarget) -> dict[str, Any]:
        item: dict[str, Any] | None = self._table.get_item(Key=target.item_key(), ConsistentRead=True).get("Item")
        if item is None:  # the condition failed on an item that is gone since: a deleted subject
            raise LookupError("the notification record disappeared while being claimed")
        return item


def _from_item(item: dict[str, Any]) -> Notification:
    return Notification.model_validate(keys.strip_keys(item))
