"""Orders (DESIGN.md §1.3): the imported order, its two status fields, the activity log, and the
pure rules on them (totals, the Colis fee, the estimated weight, the refund and shipping status).

No storage here: `shared.orders.store` keeps orders in the order's partition.
"""

import hashlib
import json
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.events.catalogue import OrderCreated
from shared.merchants.model import FeeSettings
from shared.platform import clock
from shared.platform.ids import new_id
from shared.values.models import Address, Amount, Measure, OptionalText, ShortText, empty_list
from shared.values.money import currency_code, has_valid_precision, quantum, round_half_up, strict_decimal, zero

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HS_CODE = re.compile(r"^\d{4}(?:\.?\d{2}){1,3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_ORDER_NUMBER = r"^[A-Za-z0-9#][A-Za-z0-9#\-_./ ]{0,63}$"
MAX_LINES = 250
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
    def _currency(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else currency_code(value, info)

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
    total: Amount = Decimal(0)


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

    def revised(self) -> "Order":
        """A copy to change: the next version, updated now (saved only if this one is still current)."""
        changed = self.model_copy(deep=True)
        changed.version, changed.updated_at = self.version + 1, now_ms()
        return changed


def order_created(merchant_id: str, order: Order) -> OrderCreated:
    """The order's `OrderCreated` event: ids, status and total only (no customer details)."""
    return OrderCreated(merchant_id=merchant_id, order_id=order.id, order_number=order.order_number,
                        customer_id=order.customer_id, status=order.status.value, payment_mode=order.payment_mode,
                        currency=order.currency, total=order.total, created_at=order.created_at)


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


def import_fingerprint(body: BaseModel) -> str:
    """What an import's `Idempotency-Key` is bound to: the same key with another body is refused."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def shipping_status(order: Order, any_active_shipment: bool) -> OrderStatus:
    """`shipped` while a linked shipment's label is not voided; cancelled is final."""
    if order.status is OrderStatus.cancelled:
        return OrderStatus.cancelled
    return OrderStatus.shipped if any_active_shipment else order.unshipped_status()
