"""A customer notification record and what it is about (a shipment's or an order's milestone);
its states say what reached the customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.dynamo import keys

REDACTED = "redacted"


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
    """What an email is about: a shipment's milestone, an order's (e.g. its cancellation), or, for
    an email to the merchant, one of its webhook endpoints (e.g. its disablement)."""

    merchant_id: str
    milestone: str
    shipment_id: str | None = None
    order_id: str | None = None
    endpoint_id: str | None = None

    def __post_init__(self) -> None:
        if [self.shipment_id, self.order_id, self.endpoint_id].count(None) != 2:
            raise ValueError("a notification is about exactly one shipment, order or webhook endpoint")

    def item_key(self) -> dict[str, str]:
        if self.shipment_id is not None:
            return keys.shipment_notification(self.merchant_id, self.shipment_id, self.milestone)
        if self.endpoint_id is not None:
            return keys.endpoint_notification(self.merchant_id, self.endpoint_id, self.milestone)
        assert self.order_id is not None
        return keys.order_notification(self.merchant_id, self.order_id, self.milestone)


class Notification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    merchant_id: str
    shipment_id: str | None = None
    order_id: str | None = None
    endpoint_id: str | None = None
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
        return NotificationTarget(self.merchant_id, self.milestone, self.shipment_id, self.order_id, self.endpoint_id)


@dataclass(frozen=True)
class Claim:
    """`won`: the record is ours to act on. Otherwise `record` is the one that was there first."""

    won: bool
    record: Notification
