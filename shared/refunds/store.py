"""Refunds (DESIGN.md §1.3): the refund, the fee it returns, and the items that make refunds safe
to retry and impossible to overdo. The request and its amounts are in `shared.refund_requests`.

Items in the order's partition:
- `LEDGER`: per component what was paid and what is refunded *or being refunded* (`reserved`).
  A refund first reserves its amounts with a conditional update (`reserved + amount <= paid`,
  written `reserved <= paid - amount`), in the same transaction as its `pending` refund item, so
  concurrent refunds can never together exceed what was paid.
- `REFUND#<id>`: `pending` while the payment provider moves the money (with a lease, so a
  crashed attempt can be taken over), then `succeeded`.
The idempotency record (`keys.idempotency_record`, scoped to merchant and order) maps an
`Idempotency-Key` to the request's hash and, once known, the first answer; it lives 24 h.
"""


from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from shared.dynamo import keys
from shared.orders.store import COMPONENTS, Order, OrderFee, RefundComponents, Write, now_ms, put_write
from shared.platform import aws, clock
from shared.values.models import Amount
from shared.values.money import quantum, round_half_up, zero

IDEMPOTENCY_TTL = timedelta(hours=24)
LEASE = timedelta(seconds=30)  # longer than the refund function's timeout: a live attempt is never taken over
RefundReason = Literal["customer_request", "damaged", "not_received", "wrong_item", "fraud", "other"]
REFUND_EXISTS, KEY_TAKEN, EXCEEDS, ORDER_CANCELLED = "refund_exists", "key_taken", "exceeds_remaining", "order_cancelled"
LEDGER_CHANGED, ALREADY_SETTLED, LEASE_LOST = "ledger_changed", "already_settled", "lease_lost"


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


class Ledger(BaseModel):
    paid: RefundComponents
    reserved: RefundComponents

    def remaining(self) -> RefundComponents:
        return RefundComponents(**{name: getattr(self.paid, name) - getattr(self.reserved, name)
                                   for name in COMPONENTS})


class IdempotencyRecord(BaseModel):
    request_hash: str
    refund_id: str
    state: Literal["pending", "done"] = "pending"
    status_code: int | None = None
    body: str | None = None
    expires_at: int


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


# --- items ----------------------------------------------------------------------------------------
def _numbers(components: RefundComponents) -> dict[str, Decimal]:
    return {name: value for name, value in components.items()}


def _components(raw: dict[str, Any], currency: str) -> RefundComponents:
    step = quantum(currency)
    return RefundComponents(**{name: Decimal(str(raw.get(name, 0))).quantize(step) for name in COMPONENTS})


def _refund_item(merchant_id: str, refund: Refund) -> dict[str, Any]:
    data = refund.model_dump(mode="json", exclude_none=True)
    data.update(status=refund.status, created_at=clock.isoformat(refund.created_at), merchant_id=merchant_id)
    if refund.request_hash:
        data["request_hash"] = refund.request_hash
    if refund.lease_until:
        data["lease_until"] = clock.isoformat(refund.lease_until)
    if refund.sequence is not None:
        data["sequence"] = refund.sequence
    return {**keys.order_refund(merchant_id, refund.order_id, refund.id), **data}


def _refund_from_item(item: dict[str, Any]) -> Refund:
    return Refund.model_validate(keys.strip_keys(item))


class RefundRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    # --- reads ------------------------------------------------------------------------------------
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
        request: dict[str, Any] = {
            "KeyConditionExpression": Key(keys.PK).eq(keys.order_partition(merchant_id, order_id))
            & Key(keys.SK).begins_with(keys.REFUND_PREFIX), "ConsistentRead": True}
        refunds = []
        while True:
            response = self._table.query(**request)
            refunds += [_refund_from_item(i) for i in response.get("Items", []) if i.get("status") == "succeeded"]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return sorted(refunds, key=lambda r: (r.sequence or 0, r.created_at, r.id))

    def idempotency_record(self, merchant_id: str, order_id: str, idempotency_key: str) -> IdempotencyRecord | None:
        item = self._table.get_item(Key=self._record_key(merchant_id, order_id, idempotency_key),
                                    ConsistentRead=True).get("Item")
        if not item or int(item[keys.TTL]) <= clock.epoch_seconds():
            return None  # TTL deletion lags: an expired record is gone
        return IdempotencyRecord.model_validate({**keys.strip_keys(item), "expires_at": int(item[keys.TTL])})

    @staticmethod
    def _record_key(merchant_id: str, order_id: str, idempotency_key: str) -> dict[str, str]:
        return keys.idempotency_record(keys.refund_idempotency_scope(merchant_id, order_id), idempotency_key)

    # --- writes -----------------------------------------------------------------------------------
    def ledger_write(self, merchant_id: str, order: Order) -> Write:
        item = {**keys.order_ledger(merchant_id, order.id), "paid": _numbers(order.paid()),
                "reserved": _numbers(RefundComponents())}
        return put_write(self._table, item, "ledger_exists", "attribute_not_exists(pk)")

    def order_open_check(self, merchant_id: str, order_id: str) -> Write:
        return Write({"ConditionCheck": {
            "TableName": self._table.name, "Key": keys.order(merchant_id, order_id),
            "ConditionExpression": "#s <> :cancelled", "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":cancelled": "cancelled"}}}, ORDER_CANCELLED)

    def reserve_write(self, merchant_id: str, order_id: str, paid: RefundComponents,
                      amounts: RefundComponents) -> Write:
        """reserved.x + amount.x <= paid.x for each component refunded, atomically."""
        sets, conditions, values = [], [], {}
        for name, amount in amounts.items():
            if amount > 0:
                sets.append(f"reserved.{name} = reserved.{name} + :a_{name}")
                conditions.append(f"reserved.{name} <= :max_{name}")
                values[f":a_{name}"] = amount
                values[f":max_{name}"] = getattr(paid, name) - amount
        return Write({"Update": {
            "TableName": self._table.name, "Key": keys.order_ledger(merchant_id, order_id),
            "UpdateExpression": "SET " + ", ".join(sets), "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeValues": values}}, EXCEEDS)

    def reserve_all_write(self, merchant_id: str, order_id: str, ledger: Ledger) -> Write:
        """Reserve exactly what remains (a cancellation), if nothing was reserved meanwhile."""
        values: dict[str, Any] = {}
        for name in COMPONENTS:
            values[f":seen_{name}"] = getattr(ledger.reserved, name)
            values[f":paid_{name}"] = getattr(ledger.paid, name)
        return Write({"Update": {
            "TableName": self._table.name, "Key": keys.order_ledger(merchant_id, order_id),
            "UpdateExpression": "SET " + ", ".join(f"reserved.{n} = :paid_{n}" for n in COMPONENTS),
            "ConditionExpression": " AND ".join(f"reserved.{n} = :seen_{n}" for n in COMPONENTS),
            "ExpressionAttributeValues": values}}, LEDGER_CHANGED)

    def unreserve_write(self, merchant_id: str, order_id: str, amounts: RefundComponents) -> Write:
        sets = [f"reserved.{name} = reserved.{name} - :a_{name}" for name, amount in amounts.items() if amount > 0]
        return Write({"Update": {
            "TableName": self._table.name, "Key": keys.order_ledger(merchant_id, order_id),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ExpressionAttributeValues": {f":a_{name}": a for name, a in amounts.items() if a > 0}}})

    def pending_write(self, merchant_id: str, refund: Refund) -> Write:
        return put_write(self._table, _refund_item(merchant_id, refund), REFUND_EXISTS, "attribute_not_exists(pk)")

    def record_write(self, merchant_id: str, order_id: str, idempotency_key: str, record: IdempotencyRecord) -> Write:
        """The key's record, unless a live one exists (an expired one is replaced)."""
        item = {**self._record_key(merchant_id, order_id, idempotency_key),
                **record.model_dump(exclude={"expires_at"}, exclude_none=True), keys.TTL: record.expires_at}
        return put_write(self._table, item, KEY_TAKEN, "attribute_not_exists(pk) OR #ttl <= :now",
                         {":now": clock.epoch_seconds()}, {"#ttl": keys.TTL})

    def answer_write(self, merchant_id: str, order_id: str, idempotency_key: str, record: IdempotencyRecord) -> Write:
        """The first answer, stored on the key's record."""
        item = {**self._record_key(merchant_id, order_id, idempotency_key),
                **record.model_dump(exclude={"expires_at"}, exclude_none=True), keys.TTL: record.expires_at}
        return put_write(self._table, item)

    def forget_key_write(self, merchant_id: str, order_id: str, idempotency_key: str, request_hash: str) -> Write:
        return Write({"Delete": {
            "TableName": self._table.name, "Key": self._record_key(merchant_id, order_id, idempotency_key),
            "ConditionExpression": "attribute_not_exists(pk) OR (request_hash = :h AND #state = :pending)",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":h": request_hash, ":pending": "pending"}}}, LEASE_LOST)

    def settle_write(self, merchant_id: str, refund: Refund, sequence: int, outbox: dict[str, Any]) -> Write:
        """pending → succeeded, with the event published from the stream."""
        return Write({"Update": {
            "TableName": self._table.name, "Key": keys.order_refund(merchant_id, refund.order_id, refund.id),
            "UpdateExpression": "SET #status = :succeeded, fee_returned = :fee, #sequence = :sequence, "
                                "outbox = :outbox REMOVE lease_until",
            "ConditionExpression": "#status = :pending",
            "ExpressionAttributeNames": {"#status": "status", "#sequence": "sequence"},
            "ExpressionAttributeValues": {":succeeded": "succeeded", ":pending": "pending", ":sequence": sequence,
                                          ":fee": format(refund.fee_returned, "f"), ":outbox": outbox}}},
            ALREADY_SETTLED)

    def discard_pending_write(self, merchant_id: str, refund: Refund) -> Write:
        """Drop a pending refund whose money did not move, if this attempt still holds it."""
        assert refund.lease_until is not None
        return Write({"Delete": {
            "TableName": self._table.name, "Key": keys.order_refund(merchant_id, refund.order_id, refund.id),
            "ConditionExpression": "#status = :pending AND lease_until = :lease",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":pending": "pending", ":lease": clock.isoformat(refund.lease_until)}}},
            LEASE_LOST)

    def take_over(self, merchant_id: str, refund: Refund, lease_until: datetime) -> bool:
        """Claim a pending refund whose attempt died (its lease ran out)."""
        assert refund.lease_until is not None
        try:
            self._table.update_item(
                Key=keys.order_refund(merchant_id, refund.order_id, refund.id),
                UpdateExpression="SET lease_until = :new",
                ConditionExpression="#status = :pending AND lease_until = :old",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":new": clock.isoformat(lease_until), ":pending": "pending",
                                           ":old": clock.isoformat(refund.lease_until)})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, merchant_id: str, refund: Refund) -> bool:
        """End this attempt's lease now (its payment's outcome is unknown): the next retry takes the
        refund over at once instead of waiting for the lease to run out."""
        return self.take_over(merchant_id, refund, now_ms())


def new_record(refund_id: str, request_hash: str) -> IdempotencyRecord:
    return IdempotencyRecord(request_hash=request_hash, refund_id=refund_id,
                             expires_at=clock.epoch_seconds(clock.now() + IDEMPOTENCY_TTL))


def answer_record(refund_id: str, request_hash: str, status_code: int, body: str) -> IdempotencyRecord:
    return IdempotencyRecord(request_hash=request_hash, refund_id=refund_id, state="done", status_code=status_code,
                             body=body, expires_at=clock.epoch_seconds(clock.now() + IDEMPOTENCY_TTL))


def lease_from_now() -> datetime:
    return now_ms() + LEASE


def lease_expired(refund: Refund) -> bool:
    return refund.lease_until is None or refund.lease_until <= clock.now()
