"""Refunds (DESIGN.md §1.3): the refund, the ledger that keeps refunds within what was paid, the
record of an `Idempotency-Key`, and the pure rules that settle a refund on its order.

No storage here: `shared.refunds.store` keeps them in the order's partition. The request a merchant
sends and the rules that resolve its amounts are in `shared.refunds.rules`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from shared.events.catalogue import RefundIssued
from shared.orders.model import (
    COMPONENTS,
    Order,
    OrderActivity,
    OrderFee,
    RefundComponents,
    RefundedAmounts,
    now_ms,
    refund_status_of,
)
from shared.platform import clock
from shared.values.models import Amount
from shared.values.money import round_half_up, zero

IDEMPOTENCY_TTL = timedelta(hours=24)
LEASE = timedelta(seconds=30)  # longer than the refund function's timeout: a live attempt is never taken over
RefundReason = Literal["customer_request", "damaged", "not_received", "wrong_item", "fraud", "other"]
ORDER_IS_CANCELLED = "This order is cancelled; its cancellation already refunded what remained."


class Refund(BaseModel):
    id: str
    order_id: str
    kind: Literal["refund", "cancellation"] = "refund"
    amounts: RefundComponents
    total: Amount
    currency: str
    amount_currency: Literal["checkout", "display"] = "checkout"
    requested_amounts: dict[str, str] | None = Field(default=None, description="as sent, in amount_currency")
    reason: RefundReason
    note: str | None = None
    fee_returned: Amount = Decimal(0)
    created_at: datetime
    status: Literal["pending", "succeeded"] = Field(default="pending", exclude=True)
    # The order version the refund settled at: refunds issued within one clock tick keep their order.
    sequence: int | None = Field(default=None, exclude=True)
    request_hash: str | None = Field(default=None, exclude=True)
    lease_until: datetime | None = Field(default=None, exclude=True)

    def lease_expired(self) -> bool:
        return self.lease_until is None or self.lease_until <= clock.now()


class Ledger(BaseModel):
    """Per component what was paid and what is refunded *or being refunded* (`reserved`)."""

    paid: RefundComponents
    reserved: RefundComponents

    def remaining(self) -> RefundComponents:
        return RefundComponents(**{name: getattr(self.paid, name) - getattr(self.reserved, name)
                                   for name in COMPONENTS})


class IdempotencyRecord(BaseModel):
    """What an `Idempotency-Key` stands for: the request's hash, its refund, and once known the first
    answer (the refund's JSON). `status_code` is only read, from records written before it was
    implied (every stored answer is a created refund)."""

    request_hash: str
    refund_id: str
    state: Literal["pending", "done"] = "pending"
    status_code: int | None = None
    body: str | None = None
    expires_at: int


def new_record(refund_id: str, request_hash: str) -> IdempotencyRecord:
    return IdempotencyRecord(request_hash=request_hash, refund_id=refund_id,
                             expires_at=clock.epoch_seconds(clock.now() + IDEMPOTENCY_TTL))


def answered_record(refund: Refund) -> IdempotencyRecord:
    return IdempotencyRecord(request_hash=refund.request_hash or "", refund_id=refund.id, state="done",
                             body=refund.model_dump_json(),
                             expires_at=clock.epoch_seconds(clock.now() + IDEMPOTENCY_TTL))


def lease_from_now() -> datetime:
    return now_ms() + LEASE


# --- money rules ----------------------------------------------------------------------------------
def fee_returned(fee: OrderFee, order_total: Decimal, refunded_total_after: Decimal, currency: str) -> Decimal:
    """What this refund returns of the Colis fee: (fee - card part) x refunded / total, computed on
    the cumulative refunded total and minus what earlier refunds returned, so the returns never
    add up to more than fee - card part (and reach it exactly on a full refund)."""
    returnable = max(fee.amount - fee.card_part, zero(currency))
    if order_total <= 0:
        return zero(currency)
    share = min(refunded_total_after, order_total) / order_total
    cumulative = round_half_up(returnable * share, currency)
    return max(cumulative - fee.returned, zero(currency))


def apply_refund(order: Order, pending: Refund) -> tuple[Order, Refund]:
    """The order with the refund settled on it (the next version), and the refund with the fee it returns."""
    refunded = RefundedAmounts(**{name: getattr(order.refunded, name) + value
                                  for name, value in pending.amounts.items()})
    refunded.total = refunded.sum()
    returned = fee_returned(order.fee, order.total, refunded.total, order.currency)
    changed = order.revised()
    changed.refunded = refunded
    changed.refund_status = refund_status_of(refunded, order.paid())
    changed.fee.returned = order.fee.returned + returned
    return changed, pending.model_copy(update={"status": "succeeded", "fee_returned": returned,
                                               "sequence": changed.version})


def refund_issued(merchant_id: str, refund: Refund) -> RefundIssued:
    """Ids and amounts, no personal data (no note, no reason text)."""
    return RefundIssued(merchant_id=merchant_id, order_id=refund.order_id, refund_id=refund.id, total=refund.total,
                        currency=refund.currency, fee_returned=refund.fee_returned, kind=refund.kind,
                        created_at=refund.created_at)


def refunded_entry(refund: Refund) -> OrderActivity:
    return OrderActivity(type="refunded", at=now_ms(), text=refund.note, details={
        "refund_id": refund.id, "kind": refund.kind, "reason": refund.reason, "currency": refund.currency,
        "amounts": {n: format(v, "f") for n, v in refund.amounts.items()}, "total": format(refund.total, "f"),
        "fee_returned": format(refund.fee_returned, "f")})
