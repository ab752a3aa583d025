"""Customer notification records: one item per (shipment or order, milestone).

The item is written before anything is sent, with a conditional write: whoever writes it first
owns the (subject, milestone) and is the only one allowed to email. Afterwards it records what
happened (sent with SES's message id, failed, unknown, skipped) and for whom, so that retention
can redact the recipient address with the rest of the shipment's personal data.
"""


import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from shared.dynamo import keys
from shared.platform import aws, clock

REDACTED = "redacted"
_deserializer = TypeDeserializer()


class NotificationState(StrEnum):
    claimed = "claimed"  # taken; the send is under way, or was cut short (then it stays unsent)
    sent = "sent"
    failed = "failed"  # SES certainly did not send it: the claim may be taken again
    unknown = "unknown"  # SES may or may not have sent it: never sent again automatically
    skipped_no_email = "skipped_no_email"  # no recipient address to send to
    skipped = "skipped"  # decided not to send; `reason` says why


# A record in one of these states lets a new claim replace it: nothing reached the customer.
RECLAIMABLE: frozenset[NotificationState] = frozenset({NotificationState.failed})


@dataclass(frozen=True)
class NotificationTarget:
    """What an email is about: a shipment's milestone, or an order's (e.g. its cancellation)."""

    merchant_id: str
    milestone: str
    shipment_id: str | None = None
    order_id: str | None = None

    def __post_init__(self) -> None:
        if (self.shipment_id is None) == (self.order_id is None):
            raise ValueError("a notification is about exactly one shipment or one order")

    def item_key(self) -> dict[str, str]:
        if self.shipment_id is not None:
            return keys.shipment_notification(self.merchant_id, self.shipment_id, self.milestone)
        assert self.order_id is not None
        return keys.order_notification(self.merchant_id, self.order_id, self.milestone)


class Notification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    merchant_id: str
    shipment_id: str | None = None
    order_id: str | None = None
    milestone: str
    language: str | None = None
    state: NotificationState
    reason: str | None = None
    ses_message_id: str | None = None
    recipient_email: str | None = None
    attempts: int = 1
    created_at: datetime
    claimed_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    # What SES reported after the send (shared/notifications/suppression.py): bounced, complained.
    feedback: str | None = None
    claim_id: str = Field(exclude=True)

    @property
    def target(self) -> NotificationTarget:
        return NotificationTarget(self.merchant_id, self.milestone, self.shipment_id, self.order_id)


@dataclass(frozen=True)
class Claim:
    """`won`: the record is ours to act on. Otherwise `record` is the one that was there first."""

    won: bool
    record: Notification


class NotificationRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def claim(self, target: NotificationTarget, *, language: str | None, recipient_email: str | None,
              state: NotificationState = NotificationState.claimed, reason: str | None = None) -> Claim:
        """Creates the record in `state` unless one exists that is not reclaimable (one request)."""
        now = clock.isoformat(clock.now())
        fields: dict[str, Any] = {
            "merchant_id": target.merchant_id, "shipment_id": target.shipment_id, "order_id": target.order_id,
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
        try:
            response = self._table.update_item(
                Key=target.item_key(),
                UpdateExpression=f"SET {', '.join(assignments)} REMOVE {', '.join(f'#{n}' for n in absent)}",
                ConditionExpression=f"attribute_not_exists(pk) OR {reclaimable}",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return Claim(False, _from_item(_plain(error.response.get("Item")) or self._get_item(target)))
        return Claim(True, _from_item(response["Attributes"]))

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
        response = self._table.update_item(
            Key=record.target.item_key(), UpdateExpression=f"SET {', '.join(assignments)}",
            ConditionExpression="claim_id = :claim_id AND #state = :claimed",
            ExpressionAttributeNames={"#state": "state"}, ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
        return _from_item(response["Attributes"])

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
        redacted = 0
        for item in items:
            # The recipient's address, and a failure's reason (SES quotes the address it refused).
            fields = [name for name in ("recipient_email", "reason") if item.get(name) not in (None, REDACTED)]
            if not fields:
                continue
            try:
                self._table.update_item(Key={keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
                                        UpdateExpression="SET " + ", ".join(f"{name} = :redacted" for name in fields),
                                        ConditionExpression="attribute_exists(pk)",
                                        ExpressionAttributeValues={":redacted": REDACTED})
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue  # deleted meanwhile: nothing left to redact
            redacted += 1
        return redacted

    def _query(self, partition: str, prefix: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"KeyConditionExpression": Key(keys.PK).eq(partition)
                                   & Key(keys.SK).begins_with(prefix), "ConsistentRead": True}
        items: list[dict[str, Any]] = []
        while True:
            response = self._table.query(**request)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _get_item(self, target: NotificationTarget) -> dict[str, Any]:
        item = self._table.get_item(Key=target.item_key(), ConsistentRead=True).get("Item")
        if item is None:  # the condition failed on an item that is gone since: a deleted subject
            raise LookupError("the notification record disappeared while being claimed")
        return item


def _plain(low_level_item: dict[str, Any] | None) -> dict[str, Any] | None:
    """ReturnValuesOnConditionCheckFailure hands the item back in DynamoDB's typed JSON."""
    if not low_level_item:
        return None
    return {name: _deserializer.deserialize(value) for name, value in low_level_item.items()}


def _from_item(item: dict[str, Any]) -> Notification:
    return Notification.model_validate(keys.strip_keys(item))
