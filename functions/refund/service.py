"""The routes that move money: refunds and cancellations (DESIGN.md §1.3).

A refund or a cancellation's refund goes through three steps:
1. reserve: one transaction writes the `pending` refund and reserves its amounts on the order's
   ledger (`reserved + amount <= paid`, per component), so concurrent refunds never overdo it;
2. pay: the `PaymentProvider` is called with the refund id as its idempotency key;
3. settle: one transaction marks the refund `succeeded`, updates the order (refunded amounts,
   refund status, fee returned, version), appends the activity log and stores the first answer
   under the `Idempotency-Key`; the events leave from the table's stream.
A provider failure undoes step 1 (the order is unchanged) and the same key can be retried. An
attempt that died between steps holds a lease; once it runs out, a retry takes the refund over
(the provider deduplicates on the refund id, so the customer is refunded once).
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import Malformed, Refused, Unavailable
from shared.events.outbox import outbox_entry
from shared.orders.store import (
    Order,
    OrderActivity,
    OrderCancellation,
    OrderRepository,
    OrderStatus,
    RefundComponents,
    RefundedAmounts,
    TransactionFailed,
    now_ms,
    refund_status_of,
)
from shared.platform import clock
from shared.platform.ids import derived_id
from shared.platform.observability import count, logger
from shared.refunds.payments import PaymentFailed, PaymentOutcomeUnknown, PaymentProvider, ProviderRefund
from shared.refunds.rules import RefundRequest, resolve_amounts
from shared.refunds.store import (
    ALREADY_SETTLED,
    KEY_TAKEN,
    LEASE_LOST,
    ORDER_CANCELLED,
    REFUND_EXISTS,
    IdempotencyRecord,
    Refund,
    RefundRepository,
    answer_record,
    fee_returned,
    lease_expired,
    lease_from_now,
    new_record,
)
from shared.values.money import zero

ORDER_CANCELLED_EVENT, REFUND_ISSUED_EVENT = "OrderCancelled", "RefundIssued"
MAX_ATTEMPTS = 40
WAIT_FOR_CONCURRENT_SECONDS = 5.0  # a request with the same key in flight: wait for its answer this long
POLL_SECONDS = 0.1
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class RefundAnswer:
    status: int
    body: str  # JSON, exactly as first answered
    replayed: bool


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=1, max_length=500)
    notify_customer: bool = False
    source: Literal["merchant", "platform"] = "merchant"


# --- refunds --------------------------------------------------------------------------------------
def refund(orders: OrderRepository, refunds: RefundRepository, provider: PaymentProvider, merchant_id: str,
           order_id: str, body: RefundRequest, idempotency_key: str | None) -> RefundAnswer:
    key = _valid_key(idempotency_key)
    fingerprint = body.fingerprint()
    refund_id = derived_id("ref", merchant_id, order_id, key)
    deadline = time.monotonic() + WAIT_FOR_CONCURRENT_SECONDS
    for _ in range(MAX_ATTEMPTS * 4):
        record = refunds.idempotency_record(merchant_id, order_id, key)
        if record is not None:
            _same_request(record.request_hash, fingerprint)
            if record.state == "done":
                return _replay(record)
        existing = refunds.find(merchant_id, order_id, refund_id)
        if existing is not None:
            _same_request(existing.request_hash, fingerprint)
            if existing.status == "succeeded":  # its record expired; the derived id still holds the key
                return RefundAnswer(201, existing.model_dump_json(), True)
            if not lease_expired(existing):
                _wait(deadline)
                continue
            if refunds.take_over(merchant_id, existing, lease := lease_from_now()):
                return _pay_and_settle(orders, refunds, provider, merchant_id,
                                       existing.model_copy(update={"lease_until": lease}), key)
            continue
        order = orders.get(merchant_id, order_id, consistent=True)
        _check_refundable(order)
        pending = _reserve(orders, refunds, merchant_id, order, body, key, refund_id, fingerprint)
        if pending is not None:
            return _pay_and_settle(orders, refunds, provider, merchant_id, pending, key)
        # Another request with this key reserved first: its record answers on the next turn.
    raise Unavailable("The refund could not be completed now; retry with the same Idempotency-Key.")


def list_refunds(orders: OrderRepository, refunds: RefundRepository, merchant_id: str, order_id: str) -> list[Refund]:
    orders.get(merchant_id, order_id)
    return refunds.list(merchant_id, order_id)


def _valid_key(idempotency_key: str | None) -> str:
    if not idempotency_key:
        raise Malformed("The Idempotency-Key header is required: send a unique value (e.g. a UUID) per refund, "
                         "and the same value when you retry it.")
    if not _KEY.match(idempotency_key):
        raise Malformed("The Idempotency-Key header must be 1 to 255 visible ASCII characters.")
    return idempotency_key


def _same_request(recorded_hash: str | None, fingerprint: str) -> None:
    if recorded_hash is not None and recorded_hash != fingerprint:
        raise Refused("This Idempotency-Key was already used with another request body. Use a new key for a "
                       "new refund, or resend the original body to get its answer.")


def _replay(record: IdempotencyRecord) -> RefundAnswer:
    assert record.status_code is not None and record.body is not None
    count("RefundReplayed")
    return RefundAnswer(record.status_code, record.body, True)


def _wait(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise Refused("A request with this Idempotency-Key is still being processed; retry in a few seconds.")
    time.sleep(POLL_SECONDS)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2 ** attempt)))  # noqa: S311 - jitter, not security


def _check_refundable(order: Order) -> None:
    if order.payment_mode == "external":
        raise Refused("This order was paid on your e-commerce platform, not through Colis checkout: refund it "
                       "on that platform.")
    if order.status is OrderStatus.cancelled:
        raise Refused("This order is cancelled; its cancellation already refunded what remained.")


def _reserve(orders: OrderRepository, refunds: RefundRepository, merchant_id: str, order: Order,
             body: RefundRequest, key: str, refund_id: str, fingerprint: str) -> Refund | None:
    """Step 1. None when another request with the same key got there first."""
    for attempt in range(MAX_ATTEMPTS):
        ledger = refunds.ledger(merchant_id, order)
        amounts = resolve_amounts(body.amounts, body.amount_currency, order, ledger.remaining())
        pending = Refund(
            id=refund_id, order_id=order.id, amounts=amounts, total=amounts.sum(), currency=order.currency,
            amount_currency=body.amount_currency, reason=body.reason, note=body.note,
            requested_amounts={n: format(v, "f") for n, v in body.amounts if v is not None},
            fee_returned=zero(order.currency), created_at=now_ms(), request_hash=fingerprint,
            lease_until=lease_from_now())
        try:
            orders.transact([refunds.order_open_check(merchant_id, order.id),
                             refunds.reserve_write(merchant_id, order.id, ledger.paid, amounts),
                             refunds.pending_write(merchant_id, pending),
                             refunds.record_write(merchant_id, order.id, key, new_record(refund_id, fingerprint))])
        except TransactionFailed as failure:
            if ORDER_CANCELLED in failure.failed:
                raise Refused("This order is cancelled; its cancellation already refunded what remained.") from None
            if REFUND_EXISTS in failure.failed or KEY_TAKEN in failure.failed:
                return None
            # Another refund reserved meanwhile: read the ledger again (422 if this one no longer fits).
            if failure.contended:
                _backoff(attempt)
            continue
        return pending
    raise Unavailable("The order is busy; retry with the same Idempotency-Key.")


def _pay(provider: PaymentProvider, merchant_id: str, order: Order, pending: Refund) -> None:
    provider.refund(ProviderRefund(refund_id=pending.id, merchant_id=merchant_id, order_id=order.id,
                                   amount=pending.total, currency=pending.currency,
                                   payment_reference=order.payment_reference))


def _pay_and_settle(orders: OrderRepository, refunds: RefundRepository, provider: PaymentProvider,
                    merchant_id: str, pending: Refund, key: str) -> RefundAnswer:
    """Steps 2 and 3."""
    order = orders.get(merchant_id, pending.order_id, consistent=True)
    try:
        _pay(provider, merchant_id, order, pending)
    except PaymentFailed:
        _undo_reservation(orders, refunds, merchant_id, pending, key)
        raise Unavailable("The payment provider did not refund, so nothing changed. Retry with the same "
                                 "Idempotency-Key.") from None
    except PaymentOutcomeUnknown:
        _release(refunds, merchant_id, pending)
        raise Unavailable("The payment provider did not confirm the refund, so its amount stays reserved. "
                                 "Retry with the same Idempotency-Key to finish it: it is never paid twice.") from None
    for attempt in range(MAX_ATTEMPTS):
        order = orders.get(merchant_id, pending.order_id, consistent=True)
        changed, settled = apply_refund(order, pending)
        body = settled.model_dump_json()
        answer = answer_record(settled.id, pending.request_hash or "", 201, body)
        writes = [orders.save_write(merchant_id, changed, order.version),
                  refunds.settle_write(merchant_id, settled, changed.version,
                                       outbox_entry(REFUND_ISSUED_EVENT, [refund_issued(merchant_id, settled)])),
                  refunds.answer_write(merchant_id, order.id, key, answer),
                  *orders.activity_writes(merchant_id, order.id, changed.version, [refunded_entry(settled)])]
        try:
            orders.transact(writes)
        except TransactionFailed as failure:
            if ALREADY_SETTLED in failure.failed:
                record = refunds.idempotency_record(merchant_id, order.id, key)
                if record is not None and record.state == "done":
                    return _replay(record)
                return RefundAnswer(201, body, True)
            _backoff(attempt)
            continue
        count("RefundIssued")
        logger.info("refund issued", extra={"order_id": order.id, "refund_id": settled.id})
        return RefundAnswer(201, body, False)
    # The money moved; the refund stays pending and a retry with the same key settles it.
    raise Unavailable("The refund was paid but could not be recorded yet; retry with the same "
                             "Idempotency-Key to finish it.")


def _release(refunds: RefundRepository, merchant_id: str, pending: Refund) -> None:
    """The money may have moved: keep the reservation (undoing it would let another refund take the
    same amount again) and let the next retry take the refund over now; the provider deduplicates
    on the refund id."""
    count("RefundProviderOutcomeUnknown")
    try:
        refunds.release(merchant_id, pending)
    except Exception as error:  # the lease runs out by itself; the retry then waits a little longer
        logger.warning("refund lease not released", extra={"refund_id": pending.id, "error": type(error).__name__})


def _undo_reservation(orders: OrderRepository, refunds: RefundRepository, merchant_id: str, pending: Refund,
                      key: str) -> None:
    count("RefundProviderFailed")
    try:
        orders.transact([refunds.unreserve_write(merchant_id, pending.order_id, pending.amounts),
                         refunds.discard_pending_write(merchant_id, pending),
                         refunds.forget_key_write(merchant_id, pending.order_id, key, pending.request_hash or "")])
    except TransactionFailed:
        logger.warning("refund taken over before its reservation was undone", extra={"refund_id": pending.id})


def apply_refund(order: Order, pending: Refund) -> tuple[Order, Refund]:
    """The order with the refund settled on it, and the refund with the fee it returns."""
    currency = order.currency
    refunded = RefundedAmounts(**{name: getattr(order.refunded, name) + value
                                  for name, value in pending.amounts.items()})
    refunded.total = refunded.sum()
    returned = fee_returned(order.fee, order.total, refunded.total, currency)
    changed = order.model_copy(deep=True)
    changed.refunded = refunded
    changed.refund_status = refund_status_of(refunded, order.paid())
    changed.fee.returned = order.fee.returned + returned
    changed.version = order.version + 1
    changed.updated_at = now_ms()
    return changed, pending.model_copy(update={"status": "succeeded", "fee_returned": returned,
                                               "sequence": changed.version})


def refund_issued(merchant_id: str, refund_: Refund) -> dict[str, object]:
    """The `RefundIssued` detail: ids and amounts, no personal data (no note, no reason text)."""
    return {"merchant_id": merchant_id, "order_id": refund_.order_id, "refund_id": refund_.id,
            "total": format(refund_.total, "f"), "currency": refund_.currency,
            "fee_returned": format(refund_.fee_returned, "f"), "kind": refund_.kind,
            "created_at": clock.isoformat(refund_.created_at)}


def refunded_entry(refund_: Refund) -> OrderActivity:
    return OrderActivity(type="refunded", at=now_ms(), text=refund_.note, details={
        "refund_id": refund_.id, "kind": refund_.kind, "reason": refund_.reason, "currency": refund_.currency,
        "amounts": {n: format(v, "f") for n, v in refund_.amounts.items()}, "total": format(refund_.total, "f"),
        "fee_returned": format(refund_.fee_returned, "f")})


# --- cancellation ---------------------------------------------------------------------------------
def cancel(orders: OrderRepository, refunds: RefundRepository, provider: PaymentProvider, merchant_id: str,
           order_id: str, body: CancelRequest) -> tuple[Order, Refund | None]:
    deadline = time.monotonic() + WAIT_FOR_CONCURRENT_SECONDS
    for attempt in range(MAX_ATTEMPTS):
        order = orders.get(merchant_id, order_id, consistent=True)
        if order.pending_refund_id:
            outcome = _resume_cancellation(orders, refunds, provider, merchant_id, order, deadline)
            if outcome is not None:
                return outcome
            _backoff(attempt)
            continue
        check_cancellable(order, body.source)
        cancellation = OrderCancellation(reason=body.reason, source=body.source,
                                         notify_customer=body.notify_customer and body.source == "merchant",
                                         at=now_ms())
        ledger = refunds.ledger(merchant_id, order) if order.payment_mode == "platform" else None
        remaining = ledger.remaining() if ledger else RefundComponents()
        if ledger is None or remaining.sum() <= 0:
            changed = _cancelled(order, cancellation)
            writes = [orders.save_write(merchant_id, changed, order.version, _order_cancelled(merchant_id, changed)),
                      *orders.activity_writes(merchant_id, order.id, changed.version, [_cancelled_entry(changed)])]
            try:
                orders.transact(writes)
            except TransactionFailed:
                _backoff(attempt)
                continue
            count("OrderCancelled")
            return changed, None
        pending = Refund(id=cancellation_refund_id(merchant_id, order.id), order_id=order.id,
                         kind="cancellation", amounts=remaining, total=remaining.sum(), currency=order.currency,
                         reason="other", note=body.reason, fee_returned=zero(order.currency),
                         created_at=now_ms(), lease_until=lease_from_now())
        changed = _cancelled(order, cancellation.model_copy(update={"refund_id": pending.id}))
        changed.pending_refund_id = pending.id
        try:
            orders.transact([orders.save_write(merchant_id, changed, order.version),
                             refunds.reserve_all_write(merchant_id, order.id, ledger),
                             refunds.pending_write(merchant_id, pending)])
        except TransactionFailed:
            _backoff(attempt)  # a refund or an edit landed meanwhile: look again
            continue
        return _pay_and_settle_cancellation(orders, refunds, provider, merchant_id, pending)
    raise Unavailable("The order kept changing; retry the cancellation.")


def cancellation_refund_id(merchant_id: str, order_id: str) -> str:
    """Stable, so a retried cancellation reaches the provider with the same key; the space keeps it
    apart from every refund id derived from an Idempotency-Key (visible ASCII, no spaces)."""
    return derived_id("ref", merchant_id, order_id, "order cancellation")


def check_cancellable(order: Order, source: str) -> None:
    """Every refusal of DESIGN.md §1.3, each saying what to do instead (409)."""
    if order.status is OrderStatus.cancelled:
        raise Refused("This order is already cancelled; a cancellation is final.")
    if order.status is OrderStatus.shipped:
        shipments = ", ".join(order.shipment_ids)
        raise Refused(f"This order has shipped: void the label of its shipment ({shipments}) first, then cancel it.")
    if order.refund_status.value == "full":
        raise Refused("This order was refunded in full, so it cannot be cancelled; nothing remains to refund.")
    if source == "platform" and order.payment_mode == "platform":
        raise Refused("This order was paid through Colis checkout: cancel it with source \"merchant\", which "
                       "refunds the customer.")
    if source == "merchant" and order.payment_mode == "external" and order.guarantee:
        raise Refused("This order has the landed-cost guarantee and was paid on your e-commerce platform: cancel "
                       "it on that platform; its integration then reports the cancellation here.")


def _cancelled(order: Order, cancellation: OrderCancellation) -> Order:
    changed = order.model_copy(deep=True)
    changed.status = OrderStatus.cancelled
    changed.cancellation = cancellation
    changed.version = order.version + 1
    changed.updated_at = now_ms()
    return changed


def _order_cancelled(merchant_id: str, order: Order, refund_: Refund | None = None) -> dict[str, object]:
    assert order.cancellation is not None
    detail: dict[str, object] = {
        "merchant_id": merchant_id, "order_id": order.id, "notify_customer": order.cancellation.notify_customer,
        "currency": order.currency, "source": order.cancellation.source,
        "cancelled_at": clock.isoformat(order.cancellation.at)}
    if refund_ is not None:
        detail.update(refund_id=refund_.id, refund_total=format(refund_.total, "f"))
    return outbox_entry(ORDER_CANCELLED_EVENT, [detail])


def _cancelled_entry(order: Order) -> OrderActivity:
    assert order.cancellation is not None
    return OrderActivity(type="cancelled", at=order.cancellation.at, text=order.cancellation.reason,
                         details={"source": order.cancellation.source,
                                  "notify_customer": order.cancellation.notify_customer})


def _pay_and_settle_cancellation(orders: OrderRepository, refunds: RefundRepository, provider: PaymentProvider,
                                 merchant_id: str, pending: Refund) -> tuple[Order, Refund]:
    order = orders.get(merchant_id, pending.order_id, consistent=True)
    try:
        _pay(provider, merchant_id, order, pending)
    except PaymentFailed:
        _undo_cancellation(orders, refunds, merchant_id, pending)
        raise Unavailable("The payment provider did not refund, so the order was not cancelled. Retry the "
                                 "cancellation.") from None
    except PaymentOutcomeUnknown:
        _release(refunds, merchant_id, pending)
        raise Unavailable("The payment provider did not confirm the refund; retry the cancellation to finish "
                                 "it: it is never paid twice.") from None
    for attempt in range(MAX_ATTEMPTS):
        order = orders.get(merchant_id, pending.order_id, consistent=True)
        if order.pending_refund_id != pending.id:  # another attempt settled it
            return order, refunds.find(merchant_id, order.id, pending.id)  # type: ignore[return-value]
        changed, settled = apply_refund(order, pending)
        changed.pending_refund_id = None
        writes = [orders.save_write(merchant_id, changed, order.version, _order_cancelled(merchant_id, changed, settled)),
                  refunds.settle_write(merchant_id, settled, changed.version,
                                       outbox_entry(REFUND_ISSUED_EVENT, [refund_issued(merchant_id, settled)])),
                  *orders.activity_writes(merchant_id, order.id, changed.version,
                                          [_cancelled_entry(changed), refunded_entry(settled)])]
        try:
            orders.transact(writes)
        except TransactionFailed:
            _backoff(attempt)
            continue
        count("OrderCancelled")
        return changed, settled
    raise Unavailable("The refund was paid but the cancellation could not be recorded yet; retry it.")


def _undo_cancellation(orders: OrderRepository, refunds: RefundRepository, merchant_id: str, pending: Refund) -> None:
    """The provider did not refund: the order goes back to what it was, the reservation is released."""
    count("RefundProviderFailed")
    for attempt in range(MAX_ATTEMPTS):
        order = orders.get(merchant_id, pending.order_id, consistent=True)
        if order.pending_refund_id != pending.id:
            return
        restored = order.model_copy(deep=True)
        restored.status = OrderStatus.shipped if order.shipment_ids else order.unshipped_status()
        restored.cancellation = None
        restored.pending_refund_id = None
        restored.version = order.version + 1
        try:
            orders.transact([orders.save_write(merchant_id, restored, order.version),
                             refunds.unreserve_write(merchant_id, order.id, pending.amounts),
                             refunds.discard_pending_write(merchant_id, pending)])
        except TransactionFailed as failure:
            if LEASE_LOST in failure.failed:
                return
            _backoff(attempt)
            continue
        return


def _resume_cancellation(orders: OrderRepository, refunds: RefundRepository, provider: PaymentProvider,
                         merchant_id: str, order: Order,
                         deadline: float) -> tuple[Order, Refund | None] | None:
    """A cancellation is moving money: wait for it, or take it over when its attempt died."""
    assert order.pending_refund_id is not None
    pending = refunds.find(merchant_id, order.id, order.pending_refund_id)
    if pending is None or pending.status == "succeeded":
        return None  # settling or undoing right now: read the order again
    if not lease_expired(pending):
        _wait(deadline)
        return None
    if not refunds.take_over(merchant_id, pending, lease := lease_from_now()):
        return None
    return _pay_and_settle_cancellation(orders, refunds, provider, merchant_id,
                                        pending.model_copy(update={"lease_until": lease}))
