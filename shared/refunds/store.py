"""The refund store: every write that moves a refund along, each one transaction with named rules.

Items in the order's partition:
- `LEDGER`: per component what was paid and what is refunded *or being refunded* (`reserved`).
  `reserve` adds a refund's amounts with a conditional update (`reserved + amount <= paid`,
  written `reserved <= paid - amount`), in the same transaction as its `pending` refund item, so
  concurrent refunds can never together exceed what was paid.
- `REFUND#<id>`: `pending` while the payment provider moves the money (with a lease, so a crashed
  attempt can be taken over: `take_over`), then `succeeded` (`settle`, with the order's refunded
  amounts in the same transaction); `undo` drops it and its reservation when no money moved.
The idempotency record (`keys.idempotency_record`, scoped to merchant and order) maps an
`Idempotency-Key` to the request's hash and, once known, the first answer; it lives 24 h.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.dynamo import keys, writes
from shared.dynamo.paging import query_all
from shared.dynamo.retry import retry_changed
from shared.dynamo.transactions import Transaction, TransactionRefused
from shared.dynamo.writes import ITEM_IS_NEW
from shared.errors import ChangedMeanwhile, Refused
from shared.events.outbox import outbox_entry
from shared.orders.model import COMPONENTS, Order, OrderActivity, RefundComponents, now_ms
from shared.orders.store import OrderRepository
from shared.platform import aws, clock
from shared.refunds.model import (
    ORDER_IS_CANCELLED,
    IdempotencyRecord,
    Ledger,
    Refund,
    answered_record,
    lease_from_now,
    new_record,
    refund_issued,
)
from shared.values.money import quantum

REFUND_EXISTS, KEY_TAKEN, EXCEEDS, ORDER_CANCELLED = "refund_exists", "key_taken", "exceeds_remaining", "order_cancelled"
LEDGER_CHANGED, ALREADY_SETTLED, LEASE_LOST = "ledger_changed", "already_settled", "lease_lost"
UNDO_TRIES = 5
Item = dict[str, Any]


def ledger_item(merchant_id: str, order: Order) -> Item:
    """The ledger an order is imported with: all paid, nothing reserved."""
    return {**keys.order_ledger(merchant_id, order.id), "paid": _numbers(order.paid()),
            "reserved": _numbers(RefundComponents())}


def _numbers(components: RefundComponents) -> dict[str, Decimal]:
    return dict(components.items())


def _components(raw: Mapping[str, Any], currency: str) -> RefundComponents:
    step = quantum(currency)
    return RefundComponents(**{name: Decimal(str(raw.get(name, 0))).quantize(step) for name in COMPONENTS})


def _refund_item(merchant_id: str, refund: Refund) -> Item:
    data = refund.model_dump(mode="json", exclude_none=True)
    data.update(status=refund.status, created_at=clock.isoformat(refund.created_at), merchant_id=merchant_id)
    if refund.request_hash:
        data["request_hash"] = refund.request_hash
    if refund.lease_until:
        data["lease_until"] = clock.isoformat(refund.lease_until)
    if refund.sequence is not None:
        data["sequence"] = refund.sequence
    return {**keys.order_refund(merchant_id, refund.order_id, refund.id), **data}


def _refund_from_item(item: Mapping[str, Any]) -> Refund:
    return Refund.model_validate(keys.strip_keys(dict(item)))


def _record_key(merchant_id: str, order_id: str, idempotency_key: str) -> dict[str, str]:
    return keys.idempotency_record(keys.refund_idempotency_scope(merchant_id, order_id), idempotency_key)


def _record_item(merchant_id: str, order_id: str, idempotency_key: str, record: IdempotencyRecord) -> Item:
    return {**_record_key(merchant_id, order_id, idempotency_key),
            **record.model_dump(exclude={"expires_at"}, exclude_none=True), keys.TTL: record.expires_at}


class RefundStore:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()
        self.orders = OrderRepository(self._table)

    @property
    def table(self) -> Any:
        return self._table

    # --- reads ------------------------------------------------------------------------------------
    def order(self, merchant_id: str, order_id: str) -> Order:
        """The order as it is now (a refund decides on it; its version guards the settlement)."""
        return self.orders.get(merchant_id, order_id, consistent=True)

    def ledger(self, merchant_id: str, order: Order) -> Ledger:
        item = self._table.get_item(Key=keys.order_ledger(merchant_id, order.id), ConsistentRead=True).get("Item")
        if not item:  # every imported order has one; a missing ledger means nothing was refunded
            return Ledger(paid=order.paid(), reserved=RefundComponents())
        return Ledger(paid=_components(item["paid"], order.currency),
                      reserved=_components(item["reserved"], order.currency))

    def find(self, merchant_id: str, order_id: str, refund_id: str) -> Refund | None:
        item = self._table.get_item(Key=keys.order_refund(merchant_id, order_id, refund_id),
                                    ConsistentRead=True).get("Item")
        return _refund_from_item(item) if item else None

    def list(self, merchant_id: str, order_id: str) -> list[Refund]:
        """The order's settled refunds, oldest first."""
        items = query_all(self._table, ConsistentRead=True, KeyConditionExpression=Key(keys.PK).eq(
            keys.order_partition(merchant_id, order_id)) & Key(keys.SK).begins_with(keys.REFUND_PREFIX))
        refunds = [_refund_from_item(i) for i in items if i.get("status") == "succeeded"]
        return sorted(refunds, key=lambda r: (r.sequence or 0, r.created_at, r.id))

    def idempotency_record(self, merchant_id: str, order_id: str, idempotency_key: str) -> IdempotencyRecord | None:
        item = self._table.get_item(Key=_record_key(merchant_id, order_id, idempotency_key),
                                    ConsistentRead=True).get("Item")
        if not item or int(item[keys.TTL]) <= clock.epoch_seconds():
            return None  # TTL deletion lags: an expired record is gone
        return IdempotencyRecord.model_validate({**keys.strip_keys(item), "expires_at": int(item[keys.TTL])})

    # --- the verbs --------------------------------------------------------------------------------
    def reserve(self, merchant_id: str, pending: Refund, ledger: Ledger, *, idempotency_key: str | None = None,
                cancelling: Order | None = None) -> bool:
        """Writes the `pending` refund and reserves its amounts on the ledger, with the key's record
        (a refund) or the cancelled order (`cancelling`, which reserves exactly what remains).

        False when a refund with this id or a live record of the key exists (another request with
        the same key reserved first). `ChangedMeanwhile` when the ledger or the order moved since
        they were read; `Refused(rule=ORDER_CANCELLED)` when the order is cancelled."""
        tx = Transaction(self._table)
        if cancelling is None:
            tx.check(keys.order(merchant_id, pending.order_id), "#s <> :cancelled", rule=ORDER_CANCELLED,
                     names={"#s": "status"}, values={":cancelled": "cancelled"})
            self._stage_reserve(tx, merchant_id, pending.order_id, ledger.paid, pending.amounts)
        else:
            self.orders.stage_save(tx, merchant_id, cancelling, [])
            self._stage_reserve_rest(tx, merchant_id, pending.order_id, ledger)
        tx.put(_refund_item(merchant_id, pending), condition=ITEM_IS_NEW, rule=REFUND_EXISTS)
        if idempotency_key is not None:
            tx.put(_record_item(merchant_id, pending.order_id, idempotency_key,
                                new_record(pending.id, pending.request_hash or "")),
                   condition="attribute_not_exists(pk) OR #ttl <= :now", rule=KEY_TAKEN,
                   values={":now": clock.epoch_seconds()}, names={"#ttl": keys.TTL})
        try:
            tx.commit()
        except TransactionRefused as refused:
            if ORDER_CANCELLED in refused.rules:
                raise Refused(ORDER_IS_CANCELLED, rule=ORDER_CANCELLED) from None
            if refused.rules & {REFUND_EXISTS, KEY_TAKEN}:
                return False
            # Another refund reserved meanwhile: read the ledger again (it may no longer fit).
            raise ChangedMeanwhile(rule=refused.rule) from None
        return True

    def settle(self, merchant_id: str, changed: Order, settled: Refund, entries: Iterable[OrderActivity], *,
               order_outbox: Mapping[str, Any] | None = None, idempotency_key: str | None = None) -> bool:
        """pending → succeeded with the order it settles on (`changed`, saved if the stored order is
        still at the version before it), its log entries and the key's first answer; the events leave
        from the table's stream. False when the refund was already settled (by another attempt);
        `ChangedMeanwhile` when the order moved since it was read."""
        tx = Transaction(self._table)
        self.orders.stage_save(tx, merchant_id, changed, entries, outbox=order_outbox)
        tx.update(keys.order_refund(merchant_id, settled.order_id, settled.id),
                  "SET #status = :succeeded, fee_returned = :fee, #sequence = :sequence, outbox = :outbox "
                  "REMOVE lease_until", condition="#status = :pending", rule=ALREADY_SETTLED,
                  names={"#status": "status", "#sequence": "sequence"},
                  values={":succeeded": "succeeded", ":pending": "pending", ":sequence": settled.sequence,
                          ":fee": format(settled.fee_returned, "f"),
                          ":outbox": outbox_entry(refund_issued(merchant_id, settled))})
        if idempotency_key is not None:
            tx.put(_record_item(merchant_id, settled.order_id, idempotency_key, answered_record(settled)))
        try:
            tx.commit()
        except TransactionRefused as refused:
            if ALREADY_SETTLED in refused.rules:
                return False
            raise
        return True

    def undo(self, merchant_id: str, pending: Refund, *, idempotency_key: str | None = None,
             restored: Order | None = None) -> bool:
        """No money moved: drop the pending refund, release its reservation, forget the key (so the
        same key can be retried) and put the order back (`restored`, for a cancellation), if this
        attempt still holds the refund. False when another attempt took it over meanwhile."""
        assert pending.lease_until is not None
        lease = clock.isoformat(pending.lease_until)
        ledger_key = keys.order_ledger(merchant_id, pending.order_id)
        reserved = [(name, amount) for name, amount in pending.amounts.items() if amount > 0]

        def undo_once() -> bool:
            tx = Transaction(self._table)
            if restored is not None:
                self.orders.stage_save(tx, merchant_id, restored, [])
            tx.update(ledger_key, "SET " + ", ".join(f"reserved.{n} = reserved.{n} - :a_{n}" for n, _ in reserved),
                      values={f":a_{n}": amount for n, amount in reserved})
            tx.delete(keys.order_refund(merchant_id, pending.order_id, pending.id),
                      condition="#status = :pending AND lease_until = :lease", rule=LEASE_LOST,
                      names={"#status": "status"},
                      values={":pending": "pending", ":lease": lease})
            if idempotency_key is not None:
                tx.delete(_record_key(merchant_id, pending.order_id, idempotency_key), rule=LEASE_LOST,
                          condition="attribute_not_exists(pk) OR (request_hash = :h AND #state = :pending)",
                          names={"#state": "state"}, values={":h": pending.request_hash or "", ":pending": "pending"})
            try:
                tx.commit()
            except TransactionRefused as refused:
                if LEASE_LOST in refused.rules:
                    return False
                raise
            return True

        if restored is not None:  # the caller re-reads the order when it changed meanwhile
            return undo_once()
        return retry_changed(undo_once, tries=UNDO_TRIES)

    def take_over(self, merchant_id: str, refund: Refund) -> Refund | None:
        """Claim a pending refund whose attempt died or whose payment's outcome is unknown (its lease
        ran out or was released): the refund with this attempt's lease, or None when another
        attempt claimed it first. The provider deduplicates on the refund id, so paying it again
        refunds the customer once."""
        lease = lease_from_now()
        return refund.model_copy(update={"lease_until": lease}) if self._move_lease(merchant_id, refund, lease) \
            else None

    def release(self, merchant_id: str, refund: Refund) -> bool:
        """End this attempt's lease now (its payment's outcome is unknown): the next retry takes the
        refund over at once instead of waiting for the lease to run out."""
        return self._move_lease(merchant_id, refund, now_ms())

    # --- the pieces -------------------------------------------------------------------------------
    def _move_lease(self, merchant_id: str, refund: Refund, lease_until: datetime) -> bool:
        assert refund.lease_until is not None
        try:
            writes.update(self._table, keys.order_refund(merchant_id, refund.order_id, refund.id),
                          "SET lease_until = :new", condition="#status = :pending AND lease_until = :old",
                          rule=LEASE_LOST, names={"#status": "status"},
                          values={":new": clock.isoformat(lease_until), ":pending": "pending",
                                  ":old": clock.isoformat(refund.lease_until)})
        except Refused:
            return False
        return True

    def _stage_reserve(self, tx: Transaction, merchant_id: str, order_id: str, paid: RefundComponents,
                       amounts: RefundComponents) -> None:
        """reserved.x + amount.x <= paid.x for each component refunded, atomically."""
        refunded = [(name, amount) for name, amount in amounts.items() if amount > 0]
        values: dict[str, Any] = {}
        for name, amount in refunded:
            values[f":a_{name}"] = amount
            values[f":max_{name}"] = getattr(paid, name) - amount
        tx.update(keys.order_ledger(merchant_id, order_id),
                  "SET " + ", ".join(f"reserved.{n} = reserved.{n} + :a_{n}" for n, _ in refunded),
                  condition=" AND ".join(f"reserved.{n} <= :max_{n}" for n, _ in refunded), rule=EXCEEDS,
                  values=values)

    def _stage_reserve_rest(self, tx: Transaction, merchant_id: str, order_id: str, ledger: Ledger) -> None:
        """Reserve exactly what remains (a cancellation), if nothing was reserved meanwhile."""
        values: dict[str, Any] = {}
        for name in COMPONENTS:
            values[f":seen_{name}"] = getattr(ledger.reserved, name)
            values[f":paid_{name}"] = getattr(ledger.paid, name)
        tx.update(keys.order_ledger(merchant_id, order_id),
                  "SET " + ", ".join(f"reserved.{n} = :paid_{n}" for n in COMPONENTS),
                  condition=" AND ".join(f"reserved.{n} = :seen_{n}" for n in COMPONENTS), rule=LEDGER_CHANGED,
                  values=values)
