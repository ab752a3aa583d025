"""SES feedback: bounce and complaint events of the configuration set (SES event destination →
SNS topic → this function). A permanent bounce or a complaint puts the address on the merchant's
suppression list, so that no notification of that merchant emails it again, and marks the record
of the email it was about. Transient bounces (mailbox full, greylisting) change nothing: SES
already retried them.

Which merchant and record: the tags `functions.notify.service.feedback_tags` gave the email.
Idempotent: SNS may deliver an event twice."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.notify.service import target_of_tags
from shared.notifications.suppression import SuppressionList, SuppressionReason
from shared.platform.observability import count, entrypoint, logger


def addresses_of(event: dict[str, Any]) -> tuple[SuppressionReason | None, list[str]]:
    """(why, which recipients) of one SES event; (None, []) for what changes nothing."""
    kind = event.get("eventType") or event.get("notificationType")
    if kind == "Bounce":
        bounce = event.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return None, []
        return SuppressionReason.bounced, [r["emailAddress"] for r in bounce.get("bouncedRecipients", [])]
    if kind == "Complaint":
        complaint = event.get("complaint") or {}
        return SuppressionReason.complained, [r["emailAddress"] for r in complaint.get("complainedRecipients", [])]
    return None, []


def handle(suppressions: SuppressionList, event: dict[str, Any]) -> int:
    """Applies one SES event; returns how many addresses it newly suppressed."""
    reason, addresses = addresses_of(event)
    mail = event.get("mail") or {}
    target = target_of_tags(mail.get("tags") or {})
    if reason is None or not addresses:
        return 0
    if target is None:  # not one of our notifications (no tags): nothing names the merchant
        logger.warning("SES feedback without notification tags", extra={"ses_message_id": mail.get("messageId")})
        return 0
    added = sum(suppressions.add(target.merchant_id, address, reason, ses_message_id=mail.get("messageId"))
                for address in addresses)
    suppressions.record_feedback(target, reason)
    # Ids only: never an address in the logs.
    logger.info("ses feedback", extra={"merchant_id": target.merchant_id, "milestone": target.milestone,
                                         "feedback": reason.value, "suppressed": added})
    count("EmailAddressesSuppressed", added)
    return added


@entrypoint()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    suppressions = SuppressionList()
    suppressed = 0
    for record in event.get("Records", []):
        suppressed += handle(suppressions, json.loads(record["Sns"]["Message"]))
    return {"suppressed": suppressed}
