"""Per-merchant suppression list: addresses that bounced for good or complained are not emailed
again by that merchant's notifications. Fed by SES's bounce and complaint events
(functions/notify/feedback.py); read before every send (functions/notify/service.deliver)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from shared.dynamo import keys
from shared.notifications.model import NotificationTarget
from shared.platform import aws, clock


class SuppressionReason(StrEnum):
    bounced = "bounced"  # a permanent bounce: the address does not exist or refuses mail
    complained = "complained"  # the recipient marked an email as spam


class SuppressionList:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def add(self, merchant_id: str, address: str, reason: SuppressionReason, *, ses_message_id: str | None) -> bool:
        """Suppresses the address for this merchant; False when it already was (the first reason
        stays)."""
        item = {**keys.email_suppression(merchant_id, address), "reason": reason.value,
                "suppressed_at": clock.isoformat(clock.now())}
        if ses_message_id:
            item["ses_message_id"] = ses_message_id
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def reason(self, merchant_id: str, address: str) -> SuppressionReason | None:
        item = self._table.get_item(Key=keys.email_suppression(merchant_id, address)).get("Item")
        return SuppressionReason(item["reason"]) if item else None

    def record_feedback(self, target: NotificationTarget, reason: SuppressionReason) -> bool:
        """The notification record of the email SES reported on says what happened to it; False
        when the record is gone (retention deleted its shipment)."""
        try:
            self._table.update_item(Key=target.item_key(), UpdateExpression="SET feedback = :f, feedback_at = :at",
                                    ConditionExpression="attribute_exists(pk)",
                                    ExpressionAttributeValues={":f": reason.value, ":at": clock.isoformat(clock.now())})
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True
