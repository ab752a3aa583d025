"""Orders (DESIGN.md §1.3): the imported order, its two status fields, the activity log, and the
repository that keeps them in the order's partition.

Every change of an order is a write conditioned on the order's `version`; the activity entries of
that change are keyed by the version it creates, so the log is in the order the changes happened.
"""


import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from shared.dynamo import keys
from shared.dynamo.paging import Page, decode_cursor, query_page
from shared.errors import Malformed, NotFound
from shared.merchants.store import FeeSettings
from shared.platform import aws, clock
from shared.platform.ids import new_id
from shared.values.models import Address, Amount, Measure, OptionalText, ShortText, empty_list, without_nulls
from shared.values.money import has_valid_precision, is_currency, quantum, round_half_up, strict_decimal, zero

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HS_CODE = re.compile(r"^\d{4}(?:\.?\d{2}){1,3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_ORDER_NUMBER = r"^[A-Za-z0-9#][A-Za-z0-9#\-_./ ]{0,63}$"
MAX_LINES = 250
MAX_TAGS_IN_IMPORT = 60  # above this, tag entries are written right after the import transaction
DIMENSIONAL_DIVISOR_CM3_PER_KG = Decimal(5000)
_KG_PER_UNIT = {"kg": Decimal(1), "g": Decimal("0.001"), "lb": Decimal("0.45359237"), "oz": Decimal("0.028349523125")}
_CM_PER_UNIT = {"cm": Decimal(1), "in": Decimal("2.54")}
WEIGHT_QUANTUM = Decimal("0.001")


ExchangeRate = Annotated[
    Decimal,
    BeforeValidator(strict_decimal),
    Field(gt=0, le=Decimal("1000000000"), max_digits=24, decimal_places=12),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
OrderNumber = Annotated[str, Field(min_length=1, max_length=64, pattern=_ORDER_NUMBER)]


def now_ms() -> datetime:
    """The product clock to the millisecond, the precision times are stored with: an answer shows
    the same time a later read does."""
    moment = clock.now()
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def valid_hs_code(value: str | None) -> str | None:
    if value is not None and not _HS_CODE.match(value):
        raise ValueError("hs_code must be 6 to 10 digits (dots allowed between pairs)")
    return value


class OrderStatus(StrEnum):
    open = "open"  # external payment, not shipped
    paid = "paid"  # paid through Colis checkout, not shipped
    shipped = "shipped"
    cancelled = "cancelled"


class RefundStatus(StrEnum):
    none = "none"
    partial = "partial"
    full = "full"


class OrderCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: Annotated[str | None, Field(default=None, min_length=1, max_length=100)] = None
    email: Annotated[str, Field(max_length=254)]
    first_name: OptionalText = None
    last_name: OptionalText = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value != "redacted" and not _EMAIL.match(value):
            raise ValueError("email is not a valid address")
        return value


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    sku: Annotated[str, Field(min_length=1, max_length=100)]
    name: ShortText
    quantity: Annotated[int, Field(ge=1, le=100_000)]
    unit_price: Amount
    hs_code: Annotated[str | None, Field(default=None, max_length=14)] = None
    origin_country: str | None = None
    weight: Measure | None = None
    weight_unit: Literal["kg", "lb", "g", "oz"] = "kg"

    @field_validator("hs_code")
    @classmethod
    def _hs_code(cls, value: str | None) -> str | None:
        return valid_hs_code(value)

    @field_validator("origin_country", mode="before")
    @classmethod
    def _origin(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper()
            if not _COUNTRY.match(value):
                raise ValueError("origin_country must be an ISO 3166-1 alpha-2 code")
        return value


class OrderAmounts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subtotal: Amount
    shipping: Amount = Decimal(0)
    duties: Amount = Decimal(0)
    taxes: Amount = Decimal(0)


class PackageDimensions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    length: Measure
    width: Measure
    height: Measure
    size_unit: Literal["cm", "in"]


class OrderIn(BaseModel):
    """`POST /v1/orders`: what a storefront imports."""

    model_config = ConfigDict(extra="forbid")
    order_number: OrderNumber | None = None
    store: OptionalText = None
    customer: OrderCustomer
    currency: str
    display_currency: str | None = None
    exchange_rate: ExchangeRate | None = Field(default=None, description="display units per 1 checkout unit")
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES)
    amounts: OrderAmounts
    payment_mode: Literal["platform", "external"]
    payment_reference: Annotated[str | None, Field(default=None, max_length=255,
                                                   description="the payment provider's id of the charge")] = None
    guarantee: bool = False
    billing_address: Address
    shipping_address: Address
    package_dimensions: PackageDimensions | None = None

    @field_validator("currency", "display_currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not is_currency(value):
            raise ValueError("must be an ISO 4217 currency code")
        return value.upper() if value else value

    @model_validator(mode="after")
    def _consistent(self) -> "OrderIn":
        if self.display_currency is None and self.exchange_rate is not None:
            raise ValueError("exchange_rate needs a display_currency")
        if self.display_currency is not None and self.exchange_rate is None:
            if self.display_currency != self.currency:
                raise ValueError("display_currency needs the exchange_rate recorded at checkout")
            self.exchange_rate = Decimal(1)
        skus = [line.sku for line in self.lines]
        if len(set(skus)) != len(skus):
            raise ValueError("each line needs its own sku (edits address lines by sku)")
        self._check_precision()
        return self

    def _check_precision(self) -> None:
        amounts = {f"amounts.{name}": value for name, value in self.amounts}
        amounts.update({f"lines[{i}].unit_price": line.unit_price for i, line in enumerate(self.lines)})
        for field, amount in amounts.items():
            if not has_valid_precision(amount, self.currency):
                raise ValueError(f"{field} has more decimals than {self.currency} allows")
        # Amounts are kept in the currency's precision: "12.5" EUR is stored and shown as "12.50".
        step = quantum(self.currency)
        self.amounts = OrderAmounts(**{name: value.quantize(step) for name, value in self.amounts})
        for line in self.lines:
            line.unit_price = line.unit_price.quantize(step)


class RefundComponents(BaseModel):
    """The refundable parts of an order: subtotal, shipping, and duties plus taxes."""

    model_config = ConfigDict(extra="forbid")
    subtotal: Amount = Decimal(0)
    shipping: Amount = Decimal(0)
    duties_taxes: Amount = Decimal(0)

    def sum(self) -> Decimal:
        return self.subtotal + self.shipping + self.duties_taxes

    def items(self) -> list[tuple[str, Decimal]]:
        return [("subtotal", self.subtotal), ("shipping", self.shipping), ("duties_taxes", self.duties_taxes)]


COMPONENTS = ("subtotal", "shipping", "duties_taxes")


class RefundedAmounts(RefundComponents):
    total: Amount = Decimal(0)  # type: ignore[assignment]


class OrderFee(BaseModel):
    amount: Amount
    card_part: Amount
    returned: Amount = Decimal(0)


class EstimatedWeight(BaseModel):
    """The larger of the physical and the dimensional weight; fixed at import (not editable)."""

    value: Amount
    unit: Literal["kg"] = "kg"


class OrderCancellation(BaseModel):
    reason: str
    source: Literal["merchant", "platform"]
    notify_customer: bool
    at: datetime
    refund_id: str | None = None


class Order(OrderIn):
    model_config = ConfigDict(extra="ignore")
    id: str
    customer_id: str
    tags: list[str] = Field(default_factory=empty_list)
    status: OrderStatus
    refund_status: RefundStatus = RefundStatus.none
    total: Amount
    refunded: RefundedAmounts = Field(default_factory=RefundedAmounts)
    estimated_weight: EstimatedWeight | None = None
    fee_terms: FeeSettings
    fee: OrderFee
    shipment_ids: list[str] = Field(default_factory=empty_list)
    cancellation: OrderCancellation | None = None
    created_at: datetime
    updated_at: datetime
    redacted_at: datetime | None = None
    version: int = Field(default=1, exclude=True)
    # The refund a cancellation is moving money for, until it settles (internal).
    pending_refund_id: str | None = Field(default=None, exclude=True)

    def paid(self) -> RefundComponents:
        """What the customer paid per refundable component (platform orders)."""
        return RefundComponents(subtotal=self.amounts.subtotal, shipping=self.amounts.shipping,
                                duties_taxes=self.amounts.duties + self.amounts.taxes)

    def unshipped_status(self) -> OrderStatus:
        return OrderStatus.paid if self.payment_mode == "platform" else OrderStatus.open


def order_total(amounts: OrderAmounts) -> Decimal:
    return amounts.subtotal + amounts.shipping + amounts.duties + amounts.taxes


def order_fee(total: Decimal, terms: FeeSettings, currency: str) -> OrderFee:
    """Colis fee = rate % of the total + fixed; its card-processing part = card % of the total."""
    amount = round_half_up(total * terms.rate_percent / 100 + terms.fixed, currency)
    card_part = round_half_up(total * terms.card_percent / 100, currency)
    return OrderFee(amount=amount, card_part=card_part, returned=zero(currency))


def estimated_weight(lines: list[OrderLine], dimensions: PackageDimensions | None) -> EstimatedWeight | None:
    """max(physical, dimensional) in kg, rounded half-up to the gram; None when neither is known."""
    weights = [line.weight * _KG_PER_UNIT[line.weight_unit] * line.quantity for line in lines if line.weight]
    physical = sum(weights, Decimal(0)) if weights else None
    dimensional = None
    if dimensions is not None:
        per_cm = _CM_PER_UNIT[dimensions.size_unit]
        volume = dimensions.length * dimensions.width * dimensions.height * per_cm ** 3
        dimensional = volume / DIMENSIONAL_DIVISOR_CM3_PER_KG
    known = [w for w in (physical, dimensional) if w is not None]
    if not known:
        return None
    return EstimatedWeight(value=max(known).quantize(WEIGHT_QUANTUM, rounding=ROUND_HALF_UP))


def refund_status_of(refunded: RefundComponents, paid: RefundComponents) -> RefundStatus:
    if refunded.sum() <= 0:
        return RefundStatus.none
    return RefundStatus.full if refunded.sum() >= paid.sum() else RefundStatus.partial


# --- activity log ---------------------------------------------------------------------------------
ActivityType = Literal["created", "edited", "note", "shipped", "shipment_linked", "shipment_voided", "cancelled",
                       "refunded", "customer_relinked"]


class OrderActivity(BaseModel):
    """One entry of the activity log. Address changes name the fields that changed, never their
    values: the log holds no more personal data than the order itself."""

    id: str = Field(default_factory=lambda: new_id("act"))
    type: ActivityType
    at: datetime
    text: str | None = None
    changes: list[dict[str, Any]] | None = None
    details: dict[str, Any] | None = None


# --- transactions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Write:
    """One operation of a DynamoDB transaction, and the name of its condition when that fails."""

    operation: dict[str, Any]
    condition: str = "unconditional"


class TransactionFailed(Exception):
    """Some conditions failed (`failed` names them), or another transaction got there first."""

    def __init__(self, failed: frozenset[str], contended: bool) -> None:
        super().__init__(f"transaction cancelled: failed={sorted(failed)} contended={contended}")
        self.failed = failed
        self.contended = contended


def transact(table: Any, writes: list[Write]) -> None:
    try:
        table.meta.client.transact_write_items(TransactItems=[w.operation for w in writes])
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        codes = [str(r.get("Code") or "None") for r in error.response.get("CancellationReasons") or []]
        if any(code not in ("None", "ConditionalCheckFailed", "TransactionConflict") for code in codes):
            raise  # a malformed transaction is a bug, not a race: never retry it
        failed = frozenset(writes[i].condition for i, code in enumerate(codes)
                           if code == "ConditionalCheckFailed" and i < len(writes))
        contended = "TransactionConflict" in codes
        raise TransactionFailed(failed, contended or not failed) from error


def put_write(table: Any, item: dict[str, Any], condition: str = "unconditional", expression: str | None = None,
              values: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> Write:
    operation: dict[str, Any] = {"TableName": table.name, "Item": item}
    if expression:
        operation["ConditionExpression"] = expression
    if values:
        operation["ExpressionAttributeValues"] = values
    if names:
        operation["ExpressionAttributeNames"] = names
    return Write({"Put": operation}, condition)


# --- items ----------------------------------------------------------------------------------------
ORDER_CHANGED = "order_changed"
NUMBER_TAKEN = "order_number_taken"
IMPORT_KEY_TAKEN = "import_key_taken"
IMPORT_KEY_HOURS = 24  # a storefront's retries of one import come within hours, not days


@dataclass(frozen=True)
class ImportKeyRecord:
    """What an `Idempotency-Key` of an order import stands for: the order it created, and the
    fingerprint of the body that created it (the same key with another body is refused)."""
    order_id: str
    fingerprint: str


def import_fingerprint(body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()




def order_to_item(merchant_id: str, order: Order, outbox: dict[str, Any] | None = None) -> dict[str, Any]:
    data = without_nulls(order.model_dump(mode="json"))
    created = clock.isoformat(order.created_at)
    data.update(merchant_id=merchant_id, created_at=created, updated_at=clock.isoformat(order.updated_at),
                version=order.version)
    if order.pending_refund_id:
        data["pending_refund_id"] = order.pending_refund_id
    position = keys.sortable(created, order.id)
    item = {**keys.order(merchant_id, order.id), **data,
            **keys.index_entry(keys.GSI1, keys.orders_of_merchant(merchant_id), position),
            **keys.index_entry(keys.GSI2, keys.orders_by_status(merchant_id, order.status.value), position),
            **keys.index_entry(keys.GSI3, keys.orders_by_customer(merchant_id, order.customer_id), position)}
    if outbox:
        item["outbox"] = outbox
    return item


def order_from_item(item: dict[str, Any]) -> Order:
    data = keys.strip_keys(item)
    data.pop("outbox", None)
    data["version"] = int(data.get("version", 1))
    return Order.model_validate(data)


def _activity_from_item(item: dict[str, Any]) -> OrderActivity:
    return OrderActivity.model_validate(keys.strip_keys(item))


class OrderRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    @property
    def table(self) -> Any:
        return self._table

    # --- reads ------------------------------------------------------------------------------------
    def find(self, merchant_id: str, order_id: str, *, consistent: bool = False) -> Order | None:
        item = self._table.get_item(Key=keys.order(merchant_id, order_id), ConsistentRead=consistent).get("Item")
        return order_from_item(item) if item else None

    def get(self, merchant_id: str, order_id: str, *, consistent: bool = False) -> Order:
        order = self.find(merchant_id, order_id, consistent=consistent)
        if order is None:
            raise NotFound(f"Order {order_id} does not exist.")
        return order

    def id_for_number(self, merchant_id: str, number: str) -> str | None:
        item = self._table.get_item(Key=keys.order_number(merchant_id, number), ConsistentRead=True).get("Item")
        return str(item["order_id"]) if item else None

    def order_ids_for_customer(self, merchant_id: str, customer_id: str) -> Iterator[str]:
        """Every order linked to the customer (customer merges relink them in batches)."""
        request: dict[str, Any] = {
            "IndexName": keys.GSI3.name,
            "KeyConditionExpression": Key(keys.GSI3.pk).eq(keys.orders_by_customer(merchant_id, customer_id)),
            "ProjectionExpression": "id",
        }
        while True:
            response = self._table.query(**request)
            for item in response.get("Items", []):
                yield str(item["id"])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def activity_page(self, merchant_id: str, order_id: str, *, limit: int,
                      cursor: str | None) -> tuple[list[OrderActivity], str | None]:
        condition = (Key(keys.PK).eq(keys.order_partition(merchant_id, order_id))
                     & Key(keys.SK).begins_with(keys.ACTIVITY_PREFIX))
        if cursor:
            _check_cursor(merchant_id, cursor, keys.PK, keys.order_partition(merchant_id, order_id))
        page = query_page(self._table, merchant_id, key_condition=condition, limit=limit, cursor=cursor,
                          newest_first=False)
        return [_activity_from_item(i) for i in page.items], page.next_cursor

    def activity(self, merchant_id: str, order_id: str) -> Iterator[OrderActivity]:
        """The whole log, oldest first (privacy export, retention)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": Key(keys.PK).eq(keys.order_partition(merchant_id, order_id))
            & Key(keys.SK).begins_with(keys.ACTIVITY_PREFIX)}
        while True:
            response = self._table.query(**request)
            yield from (_activity_from_item(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def notes(self, merchant_id: str, order_id: str) -> list[OrderActivity]:
        return [entry for entry in self.activity(merchant_id, order_id) if entry.type == "note"]

    # --- lists ------------------------------------------------------------------------------------
    def page(self, merchant_id: str, *, index: keys.Index, partition: str, limit: int, cursor: str | None,
             filter_expression: Any = None) -> tuple[list[Order], str | None]:
        """Newest first within one index partition of order items."""
        if cursor:
            _check_cursor(merchant_id, cursor, index.pk, partition)
        page = query_page(self._table, merchant_id, key_condition=Key(index.pk).eq(partition), index=index,
                          limit=limit, cursor=cursor, filter_expression=filter_expression)
        return [order_from_item(i) for i in page.items], page.next_cursor

    def page_by_tag(self, merchant_id: str, tag: str, *, limit: int,
                    cursor: str | None) -> tuple[list[Order], str | None]:
        """Tag entries (one item per order and tag) newest first, then their orders."""
        partition = keys.orders_by_tag(merchant_id, tag)
        if cursor:
            _check_cursor(merchant_id, cursor, keys.GSI1.pk, partition)
        page: Page = query_page(self._table, merchant_id, key_condition=Key(keys.GSI1.pk).eq(partition),
                                index=keys.GSI1, limit=limit, cursor=cursor)
        return self._batch_get(merchant_id, [str(i["order_id"]) for i in page.items]), page.next_cursor

    def _batch_get(self, merchant_id: str, order_ids: list[str]) -> list[Order]:
        found: dict[str, Order] = {}
        pending = [keys.order(merchant_id, order_id) for order_id in order_ids]
        client = self._table.meta.client
        for _ in range(10):
            if not pending:
                break
            response = client.batch_get_item(RequestItems={self._table.name: {"Keys": pending}})
            for item in response.get("Responses", {}).get(self._table.name, []):
                order = order_from_item(item)
                found[order.id] = order
            pending = response.get("UnprocessedKeys", {}).get(self._table.name, {}).get("Keys", [])
        return [found[order_id] for order_id in order_ids if order_id in found]

    # --- writes -----------------------------------------------------------------------------------
    def transact(self, writes: list[Write]) -> None:
        transact(self._table, writes)

    def create_writes(self, merchant_id: str, order: Order, created: OrderActivity) -> list[Write]:
        """The order, its number's unique-key item and its first log entry (tags: `tag_writes`)."""
        writes = [put_write(self._table, order_to_item(merchant_id, order), "order_exists",
                            "attribute_not_exists(pk)")]
        if order.order_number:
            writes.append(self._number_write(merchant_id, order.order_number, order.id))
        writes.extend(self.activity_writes(merchant_id, order.id, order.version, [created]))
        return writes

    def tag_writes(self, merchant_id: str, order: Order) -> list[Write]:
        position = keys.sortable(clock.isoformat(order.created_at), order.id)
        return [put_write(self._table, {**keys.order_tag(merchant_id, order.id, tag),
                                        **keys.index_entry(keys.GSI1, keys.orders_by_tag(merchant_id, tag), position),
                                        "order_id": order.id, "tag": tag})
                for tag in order.tags]

    def save_write(self, merchant_id: str, order: Order, expected_version: int,
                   outbox: dict[str, Any] | None = None) -> Write:
        """Replace the order if it is still at `expected_version` (`order.version` is the new one)."""
        return put_write(self._table, order_to_item(merchant_id, order, outbox), ORDER_CHANGED,
                         "version = :expected", {":expected": expected_version})

    def activity_writes(self, merchant_id: str, order_id: str, version: int,
                        entries: Iterable[OrderActivity]) -> list[Write]:
        return [put_write(self._table, {**keys.order_activity(merchant_id, order_id, version, position),
                                        **without_nulls(entry.model_dump(mode="json")),
                                        "at": clock.isoformat(entry.at)})
                for position, entry in enumerate(entries)]

    def number_change_writes(self, merchant_id: str, order_id: str, old: str | None, new: str) -> list[Write]:
        writes = [self._number_write(merchant_id, new, order_id)]
        if old:
            writes.append(Write({"Delete": {"TableName": self._table.name, "Key": keys.order_number(merchant_id, old),
                                            "ConditionExpression": "order_id = :id",
                                            "ExpressionAttributeValues": {":id": order_id}}}, ORDER_CHANGED))
        return writes

    def import_key_record(self, merchant_id: str, idempotency_key: str) -> ImportKeyRecord | None:
        item = self._table.get_item(Key=self._import_key(merchant_id, idempotency_key), ConsistentRead=True).get("Item")
        if not item or int(item.get(keys.TTL, 0)) <= clock.epoch_seconds():
            return None  # never used, or expired (TTL deletes it later)
        return ImportKeyRecord(order_id=str(item["order_id"]), fingerprint=str(item["fingerprint"]))

    def import_key_write(self, merchant_id: str, idempotency_key: str, record: ImportKeyRecord) -> Write:
        """The key's record, written with the order; a live record of the key refuses it."""
        expires = clock.epoch_seconds() + IMPORT_KEY_HOURS * 3600
        item = {**self._import_key(merchant_id, idempotency_key), "order_id": record.order_id,
                "fingerprint": record.fingerprint, keys.TTL: expires}
        return put_write(self._table, item, IMPORT_KEY_TAKEN, "attribute_not_exists(pk) OR #ttl <= :now",
                         {":now": clock.epoch_seconds()}, {"#ttl": keys.TTL})

    @staticmethod
    def _import_key(merchant_id: str, idempotency_key: str) -> dict[str, str]:
        return keys.idempotency_record(keys.order_import_idempotency_scope(merchant_id), idempotency_key)

    def _number_write(self, merchant_id: str, number: str, order_id: str) -> Write:
        return put_write(self._table, {**keys.order_number(merchant_id, number), "order_id": order_id,
                                       "order_number": number}, NUMBER_TAKEN, "attribute_not_exists(pk)")

    def item_write(self, item: dict[str, Any]) -> Write:
        """A ready-made item of another domain written with the order (e.g. an address entry)."""
        return put_write(self._table, item)

    def put_tags_after(self, writes: list[Write]) -> None:
        """Tag entries that did not fit in the import transaction: idempotent plain puts."""
        with self._table.batch_writer() as batch:
            for write in writes:
                batch.put_item(Item=write.operation["Put"]["Item"])

    def relink_customer(self, merchant_id: str, order_id: str, from_customer_id: str, to_customer_id: str) -> bool:
        """Point the order at `to` if it still points at `from` (customer merge). Idempotent: True
        when the order now points at `to`, False when it points at someone else or does not exist."""
        for _ in range(10):
            order = self.find(merchant_id, order_id, consistent=True)
            if order is None:
                return False
            if order.customer_id == to_customer_id:
                return True
            if order.customer_id != from_customer_id:
                return False
            changed = order.model_copy(deep=True)
            changed.customer_id = to_customer_id
            changed.version = order.version + 1
            entry = OrderActivity(type="customer_relinked", at=now_ms(),
                                  details={"from_customer_id": from_customer_id, "to_customer_id": to_customer_id})
            try:
                self.transact([self.save_write(merchant_id, changed, order.version),
                               *self.activity_writes(merchant_id, order_id, changed.version, [entry])])
            except TransactionFailed:
                continue
            return True
        raise TransactionFailed(frozenset({ORDER_CHANGED}), True)


def _check_cursor(merchant_id: str, cursor: str, attribute: str, partition: str) -> None:
    """A cursor of another list (or another order) would make DynamoDB fail: 400 instead."""
    position = decode_cursor(merchant_id, cursor)
    if position.get(attribute) != partition:
        raise Malformed("The cursor does not belong to this list.")


def status_is(status: str) -> Any:
    return Attr("status").eq(status)


def has_tag(tag: str) -> Any:
    return Attr("tags").contains(tag)


def bump_write(table: Any, merchant_id: str, order_id: str, expected_version: int) -> Write:
    """A change that lives beside the order (a note): only the version moves, to order the log."""
    return Write({"Update": {
        "TableName": table.name, "Key": keys.order(merchant_id, order_id),
        "UpdateExpression": "SET version = :next", "ConditionExpression": "version = :expected",
        "ExpressionAttributeValues": {":next": expected_version + 1, ":expected": expected_version}}}, ORDER_CHANGED)


def shipping_status(order: Order, any_active_shipment: bool) -> OrderStatus:
    """`shipped` while a linked shipment's label is not voided; cancelled is final."""
    if order.status is OrderStatus.cancelled:
        return OrderStatus.cancelled
    return OrderStatus.shipped if any_active_shipment else order.unshipped_status()
