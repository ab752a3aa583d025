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
(the provider deduplicates on the refund id, so the customer is refunded once). Every write is a
verb of `RefundStore` (`reserve`, `settle`, `undo`, `take_over`); the happy path reads the order
once and settles on that read unless it changed meanwhile.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.dynamo.paging import list_scope, page_of_read_list
from shared.dynamo.retry import retry_changed
from shared.errors import ChangedMeanwhile, Malformed, Refused, Unavailable
from shared.events.catalogue import OrderCancelled, RefundIssued
from shared.events.outbox import outbox_entry
from shared.orders.model import (
    Order,
    OrderActivity,
    OrderCancellation,
    OrderStatus,
    RefundComponents,
    now_ms,
)
from shared.platform.ids import derived_id
from shared.platform.observability import count, logger
from shared.refunds.model import (
    ORDER_IS_CANCELLED,
    IdempotencyRecord,
    Refund,
    apply_refund,
    lease_from_now,
    refunded_entry,
)
from shared.refunds.payments import PaymentFailed, PaymentOutcomeUnknown, PaymentProvider, ProviderRefund
from shared.refunds.rules import RefundRequest, resolve_amounts
from shared.refunds.store import RefundStore
from shared.values.money import zero

T = TypeVar("T")
MAX_ATTEMPTS = 40
MAX_TURNS = 160  # turns of waiting for a concurrent request with the same key, at most
WAIT_FOR_CONCURRENT_SECONDS = 5.0  # a request with the same key in flight: wait for its answer this long
POLL_SECONDS = 0.1
IN_PROGRESS = "cancellation_in_progress"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class RefundAnswer:
    body: str  # the refund's JSON, exactly as first answered
    replayed: bool


@dataclass(frozen=True)
class PaymentSaid:
    """What the caller is told when the provider did not refund, or did not say whether it did."""
    failed: str
    unknown: str


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=1, max_length=500)
    notify_customer: bool = False
    source: Literal["merchant", "platform"] = "merchant"


def _with_order(store: RefundStore, merchant_id: str, order: Order, step: Callable[[Order], T]) -> T:
    """`step` on the order already read; each time it lost a race (`ChangedMeanwhile`), on the order
    read again (the kernel's retry policy)."""
    known = [order]

    def attempt() -> T:
        return step(known.pop() if known else store.order(merchant_id, order.id))

    return retry_changed(attempt, tries=MAX_ATTEMPTS)


# --- refunds --------------------------------------------------------------------------------------
def refund(store: RefundStore, provider: PaymentProvider, merchant_id: str, order_id: str, body: RefundRequest,
           idempotency_key: str | None) -> RefundAnswer:
    key = _valid_key(idempotency_key)
    fingerprint = body.fingerprint()
    refund_id = derived_id("ref", merchant_id, order_id, key)
    deadline = time.monotonic() + WAIT_FOR_CONCURRENT_SECONDS
    for _ in range(MAX_TURNS):
        record = store.idempotency_record(merchant_id, order_id, key)
        if record is not None:
            _same_request(record.request_hash, fingerprint)
            if record.state == "done":
                return _replay(record)
        existing = store.find(merchant_id, order_id, refund_id)
        if existing is not None:
            _same_request(existing.request_hash, fingerprint)
            if existing.status == "succeeded":  # its record expired; the derived id still holds the key
                return RefundAnswer(existing.model_dump_json(), True)
            taken = _take_over_once_stale(store, merchant_id, existing, deadline)
            if taken is not None:
                return _pay_and_settle(store, provider, merchant_id, store.order(merchant_id, order_id), taken, key)
            continue
        order = store.order(merchant_id, order_id)
        _check_refundable(order)
        pending = _reserve(store, merchant_id, order, body, key, refund_id, fingerprint)
        if pending is not None:
            return _pay_and_settle(store, provider, merchant_id, order, pending, key)
        # Another request with this key reserved first: its record answers on the next turn.
    raise Unavailable("The refund could not be completed now; retry with the same Idempotency-Key.")


def list_refunds(store: RefundStore, merchant_id: str, order_id: str, limit: int,
                 cursor: str | None) -> tuple[list[Refund], str | None]:
    """Oldest first; an order has few refunds, read whole and paged like every list."""
    store.orders.get(merchant_id, order_id)
    return page_of_read_list(merchant_id, store.list(merchant_id, order_id), _issued, limit=limit, cursor=cursor,
                             scope=list_scope("refunds", order_id))


def _issued(refund: Refund) -> str:
    """The order `store.list` gives, as sortable text (refund ids derive from idempotency keys: not time-ordered)."""
    return f"{refund.sequence or 0:012d} {refund.created_at.isoformat()} {refund.id}"


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
                      "new refund, or resend the original body to get its answer.", rule="key_reused")


def _replay(record: IdempotencyRecord) -> RefundAnswer:
    assert record.body is not None
    count("RefundReplayed")
    return RefundAnswer(record.body, True)


def _wait(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise Refused("A request with this Idempotency-Key is still being processed; retry in a few seconds.",
                      rule="in_progress")
    time.sleep(POLL_SECONDS)


def _take_over_once_stale(store: RefundStore, merchant_id: str, pending: Refund, deadline: float) -> Refund | None:
    """The pending refund, taken over, when its attempt died or did not learn the payment's outcome;
    None when that attempt is still alive (after waiting a moment) or another one took it over."""
    if not pending.lease_expired():
        _wait(deadline)
        return None
    return store.take_over(merchant_id, pending)


def _check_refundable(order: Order) -> None:
    if order.payment_mode == "external":
        raise Refused("This order was paid on your e-commerce platform, not through Colis checkout: refund it "
                      "on that platform.", rule="paid_elsewhere")
    if order.status is OrderStatus.cancelled:
        raise Refused(ORDER_IS_CANCELLED, rule="order_cancelled")


def _reserve(store: RefundStore, merchant_id: str, order: Order, body: RefundRequest, key: str, refund_id: str,
             fingerprint: str) -> Refund | None:
    """Step 1, on the ledger as it is now (422 once the refund no longer fits). None when another
    request with the same key got there first."""
    def reserve_once() -> Refund | None:
        ledger = store.ledger(merchant_id, order)
        amounts = resolve_amounts(body.amounts, body.amount_currency, order, ledger.remaining())
        pending = Refund(
            id=refund_id, order_id=order.id, amounts=amounts, total=amounts.sum(), currency=order.currency,
            amount_currency=body.amount_currency, reason=body.reason, note=body.note,
            requested_amounts={n: format(v, "f") for n, v in body.amounts if v is not None},
            fee_returned=zero(order.currency), created_at=now_ms(), request_hash=fingerprint,
            lease_until=lease_from_now())
        return pending if store.reserve(merchant_id, pending, ledger, idempotency_key=key) else None

    try:
        return retry_changed(reserve_once, tries=MAX_ATTEMPTS)
    except ChangedMeanwhile:
        raise Unavailable("The order is busy; retry with the same Idempotency-Key.") from None


def _pay(store: RefundStore, provider: PaymentProvider, merchant_id: str, order: Order, pending: Refund,
         undo: Callable[[], object], said: PaymentSaid) -> None:
    """Step 2. A provider that did not refund undoes step 1; one that did not say keeps the
    reservation (undoing it would let another refund take the same amount again) and lets the next
    retry take the refund over now: the provider deduplicates on the refund id."""
    try:
        provider.refund(ProviderRefund(refund_id=pending.id, merchant_id=merchant_id, order_id=order.id,
                                       amount=pending.total, currency=pending.currency,
                                       payment_reference=order.payment_reference))
    except PaymentFailed:
        count("RefundProviderFailed")
        try:
            undo()
        except ChangedMeanwhile:  # a retry takes the refund over once its lease runs out
            logger.warning("refund reservation not undone", extra={"refund_id": pending.id})
        raise Unavailable(said.failed) from None
    except PaymentOutcomeUnknown:
        count("RefundProviderOutcomeUnknown")
        try:
            store.release(merchant_id, pending)
        except Exception as error:  # the lease runs out by itself; the retry then waits a little longer
            logger.warning("refund lease not released", extra={"refund_id": pending.id,
                                                                "error": type(error).__name__})
        raise Unavailable(said.unknown) from None


REFUND_SAID = PaymentSaid(
    failed="The payment provider did not refund, so nothing changed. Retry with the same Idempotency-Key.",
    unknown="The payment provider did not confirm the refund, so its amount stays reserved. Retry with the same "
            "Idempotency-Key to finish it: it is never paid twice.")


def _pay_and_settle(store: RefundStore, provider: PaymentProvider, merchant_id: str, order: Order,
                    pending: Refund, key: str) -> RefundAnswer:
    """Steps 2 and 3, on the order as read before step 1."""
    def undo() -> None:
        if not store.undo(merchant_id, pending, idempotency_key=key):
            logger.warning("refund taken over before its reservation was undone", extra={"refund_id": pending.id})

    _pay(store, provider, merchant_id, order, pending, undo, REFUND_SAID)

    def settle_on(current: Order) -> RefundAnswer:
        changed, settled = apply_refund(current, pending)
        answer = RefundAnswer(settled.model_dump_json(), False)
        if not store.settle(merchant_id, changed, settled, [refunded_entry(settled)], idempotency_key=key):
            record = store.idempotency_record(merchant_id, current.id, key)
            return _replay(record) if record is not None and record.state == "done" \
                else RefundAnswer(answer.body, True)
        count(RefundIssued.name)
        logger.info("refund issued", extra={"order_id": current.id, "refund_id": settled.id})
        return answer

    try:
        return _with_order(store, merchant_id, order, settle_on)
    except ChangedMeanwhile:  # the money moved; the refund stays pending and a retry settles it
        raise Unavailable("The refund was paid but could not be recorded yet; retry with the same "
                          "Idempotency-Key to finish it.") from None


# --- cancellation ---------------------------------------------------------------------------------
CANCELLATION_SAID = PaymentSaid(
    failed="The payment provider did not refund, so the order was not cancelled. Retry the cancellation.",
    unknown="The payment provider did not confirm the refund; retry the cancellation to finish it: it is never "
            "paid twice.")


def cancel(store: RefundStore, provider: PaymentProvider, merchant_id: str, order_id: str,
           body: CancelRequest) -> tuple[Order, Refund | None]:
    deadline = time.monotonic() + WAIT_FOR_CONCURRENT_SECONDS

    def cancel_on(order: Order) -> tuple[Order, Refund | None]:
        if order.pending_refund_id:
            return _resume_cancellation(store, provider, merchant_id, order, deadline)
        check_cancellable(order, body.source)
        cancellation = OrderCancellation(reason=body.reason, source=body.source,
                                         notify_customer=body.notify_customer and body.source == "merchant",
                                         at=now_ms())
        ledger = store.ledger(merchant_id, order) if order.payment_mode == "platform" else None
        remaining = ledger.remaining() if ledger else RefundComponents()
        if ledger is None or remaining.sum() <= 0:
            changed = _cancelled(order, cancellation)
            store.orders.save(merchant_id, changed, [_cancelled_entry(changed)],
                              outbox=_order_cancelled(merchant_id, changed))
            count(OrderCancelled.name)
            return changed, None
        pending = Refund(id=cancellation_refund_id(merchant_id, order.id), order_id=order.id,
                         kind="cancellation", amounts=remaining, total=remaining.sum(), currency=order.currency,
                         reason="other", note=body.reason, fee_returned=zero(order.currency),
                         created_at=now_ms(), lease_until=lease_from_now())
        changed = _cancelled(order, cancellation.model_copy(update={"refund_id": pending.id}))
        changed.pending_refund_id = pending.id
        if not store.reserve(merchant_id, pending, ledger, cancelling=changed):
            raise ChangedMeanwhile(rule=IN_PROGRESS)  # a refund or an edit landed meanwhile: look again
        return _pay_and_settle_cancellation(store, provider, merchant_id, changed, pending)

    try:
        return _with_order(store, merchant_id, store.order(merchant_id, order_id), cancel_on)
    except ChangedMeanwhile:
        raise Unavailable("The order kept changing; retry the cancellation.") from None


def cancellation_refund_id(merchant_id: str, order_id: str) -> str:
    """Stable, so a retried cancellation reaches the provider with the same key; the space keeps it
    apart from every refund id derived from an Idempotency-Key (visible ASCII, no spaces)."""
    return derived_id("ref", merchant_id, order_id, "order cancellation")


def check_cancellable(order: Order, source: str) -> None:
    """Every refusal of DESIGN.md §1.3, each saying what to do instead."""
    if order.status is OrderStatus.cancelled:
        raise Refused("This order is already cancelled; a cancellation is final.", rule="already_cancelled")
    if order.status is OrderStatus.shipped:
        shipments = ", ".join(order.shipment_ids)
        raise Refused(f"This order has shipped: void the label of its shipment ({shipments}) first, then cancel it.",
                      rule="shipped")
    if order.refund_status.value == "full":
        raise Refused("This order was refunded in full, so it cannot be cancelled; nothing remains to refund.",
                      rule="refunded_in_full")
    if source == "platform" and order.payment_mode == "platform":
        raise Refused("This order was paid through Colis checkout: cancel it with source \"merchant\", which "
                      "refunds the customer.", rule="paid_through_colis")
    if source == "merchant" and order.payment_mode == "external" and order.guarantee:
        raise Refused("This order has the landed-cost guarantee and was paid on your e-commerce platform: cancel "
                      "it on that platform; its integration then reports the cancellation here.",
                      rule="guaranteed_elsewhere")


def _cancelled(order: Order, cancellation: OrderCancellation) -> Order:
    changed = order.revised()
    changed.status = OrderStatus.cancelled
    changed.cancellation = cancellation
    return changed


def _order_cancelled(merchant_id: str, order: Order, refund_: Refund | None = None) -> dict[str, object]:
    assert order.cancellation is not None
    return outbox_entry(OrderCancelled(
        merchant_id=merchant_id, order_id=order.id, notify_customer=order.cancellation.notify_customer,
        currency=order.currency, source=order.cancellation.source, cancelled_at=order.cancellation.at,
        refund_id=refund_.id if refund_ else None, refund_total=refund_.total if refund_ else None))


def _cancelled_entry(order: Order) -> OrderActivity:
    assert order.cancellation is not None
    return OrderActivity(type="cancelled", at=order.cancellation.at, text=order.cancellation.reason,
                         details={"source": order.cancellation.source,
                                  "notify_customer": order.cancellation.notify_customer})


def _pay_and_settle_cancellation(store: RefundStore, provider: PaymentProvider, merchant_id: str, order: Order,
                                 pending: Refund) -> tuple[Order, Refund]:
    """Steps 2 and 3 of a cancellation's refund, on the cancelled order as reserved (or read)."""
    _pay(store, provider, merchant_id, order, pending, lambda: _undo_cancellation(store, merchant_id, order, pending),
         CANCELLATION_SAID)

    def settle_on(current: Order) -> tuple[Order, Refund]:
        if current.pending_refund_id != pending.id:  # another attempt settled it
            settled = store.find(merchant_id, current.id, pending.id)
            assert settled is not None
            return current, settled
        changed, settled = apply_refund(current, pending)
        changed.pending_refund_id = None
        if not store.settle(merchant_id, changed, settled, [_cancelled_entry(changed), refunded_entry(settled)],
                            order_outbox=_order_cancelled(merchant_id, changed, settled)):
            raise ChangedMeanwhile(rule=IN_PROGRESS)  # settled by another attempt: read the order again
        count(OrderCancelled.name)
        return changed, settled

    try:
        return _with_order(store, merchant_id, order, settle_on)
    except ChangedMeanwhile:
        raise Unavailable("The refund was paid but the cancellation could not be recorded yet; retry it.") from None


def _undo_cancellation(store: RefundStore, merchant_id: str, order: Order, pending: Refund) -> None:
    """The provider did not refund: the order goes back to what it was, the reservation is released."""
    def undo_on(current: Order) -> None:
        if current.pending_refund_id != pending.id:
            return
        restored = current.revised()
        restored.updated_at = current.updated_at
        restored.status = OrderStatus.shipped if current.shipment_ids else current.unshipped_status()
        restored.cancellation = None
        restored.pending_refund_id = None
        store.undo(merchant_id, pending, restored=restored)

    _with_order(store, merchant_id, order, undo_on)


def _resume_cancellation(store: RefundStore, provider: PaymentProvider, merchant_id: str, order: Order,
                         deadline: float) -> tuple[Order, Refund | None]:
    """A cancellation is moving money: wait for it, or take it over when its attempt died."""
    assert order.pending_refund_id is not None
    pending = store.find(merchant_id, order.id, order.pending_refund_id)
    taken = _take_over_once_stale(store, merchant_id, pending, deadline) \
        if pending is not None and pending.status == "pending" else None
    if taken is None:  # still moving money, settling or undoing right now: read the order again
        raise ChangedMeanwhile(rule=IN_PROGRESS)
    return _pay_and_settle_cancellation(store, provider, merchant_id, order, taken)
