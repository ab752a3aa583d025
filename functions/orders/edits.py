"""`PATCH /v1/orders/{id}`: what an edit may change, and the edited order it makes (pure).

Apart from `shared.orders.model` because only the orders function edits orders: every other function
reading orders would build the patch models at cold start for nothing.
"""


from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.errors import Invalid
from shared.orders.model import MAX_LINES, Order, OrderNumber, valid_hs_code
from shared.values.models import Address, Amount
from shared.values.money import has_valid_precision, quantum

Warning = Literal["landed_cost_may_differ", "fraud_protection_void", "guarantee_void"]
_WARNING_ORDER: tuple[str, ...] = ("landed_cost_may_differ", "fraud_protection_void", "guarantee_void")
NOT_EDITABLE = {
    "estimated_weight": "estimated_weight is not editable: it is the weight shipping costs were estimated with "
                        "(the larger of physical and dimensional weight). Adjust the weight on the label instead.",
}


class LinePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    sku: Annotated[str, Field(min_length=1, max_length=100)]
    hs_code: Annotated[str | None, Field(default=None, max_length=14)] = None
    unit_price: Amount | None = None

    @field_validator("hs_code")
    @classmethod
    def _hs_code(cls, value: str | None) -> str | None:
        return valid_hs_code(value)


class OrderPatch(BaseModel):
    """`PATCH /v1/orders/{id}`: order number, addresses (each replaced whole), lines by sku."""

    model_config = ConfigDict(extra="forbid")
    order_number: OrderNumber | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    lines: list[LinePatch] | None = Field(default=None, min_length=1, max_length=MAX_LINES)

    @model_validator(mode="before")
    @classmethod
    def _not_editable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field, why in NOT_EDITABLE.items():
                if field in data:
                    raise ValueError(why)
            for field in ("order_number", "billing_address", "shipping_address", "lines"):
                if field in data and data[field] is None:
                    raise ValueError(f"{field} cannot be removed, only changed")
        return data


@dataclass
class EditOutcome:
    order: Order
    changes: list[dict[str, Any]]
    warnings: list[str]
    number_changed_from: str | None = None
    shipping_address_changed: bool = False


def _address_fields_changed(old: Address, new: Address) -> list[str]:
    before, after = old.model_dump(), new.model_dump()
    return [name for name in after if before.get(name) != after.get(name)]


def apply_patch(order: Order, patch: OrderPatch) -> EditOutcome:
    """The edited order, what changed and the warnings the changes call for (pure)."""
    changed = order.model_copy(deep=True)
    changes: list[dict[str, Any]] = []
    warnings: set[str] = set()
    outcome = EditOutcome(changed, changes, [])
    if patch.order_number is not None and patch.order_number != order.order_number:
        changes.append({"field": "order_number", "from": order.order_number, "to": patch.order_number})
        outcome.number_changed_from = order.order_number or ""
        changed.order_number = patch.order_number
    for field in ("billing_address", "shipping_address"):
        new_address: Address | None = getattr(patch, field)
        if new_address is None:
            continue
        fields = _address_fields_changed(getattr(order, field), new_address)
        if fields:
            # Names only: the old values would be personal data the order no longer holds.
            changes.append({"field": field, "changed": fields})
            setattr(changed, field, new_address)
            warnings.add("landed_cost_may_differ")
            if order.payment_mode == "platform":
                warnings.add("fraud_protection_void")
            outcome.shipping_address_changed |= field == "shipping_address"
    by_sku = {line.sku: line for line in changed.lines}
    errors = []
    for index, line_patch in enumerate(patch.lines or []):
        line = by_sku.get(line_patch.sku)
        if line is None:
            errors.append({"field": f"lines.{index}.sku", "type": "value_error",
                           "message": f"the order has no line with sku {line_patch.sku!r}"})
            continue
        if line_patch.unit_price is not None and not has_valid_precision(line_patch.unit_price, order.currency):
            errors.append({"field": f"lines.{index}.unit_price", "type": "value_error",
                           "message": f"more decimals than {order.currency} allows"})
            continue
        for name in ("hs_code", "unit_price"):
            value = getattr(line_patch, name)
            if value is None:
                continue
            if name == "unit_price":
                value = value.quantize(quantum(order.currency))
            if value != getattr(line, name):
                changes.append({"field": f"lines.{name}", "sku": line.sku, "from": _plain(getattr(line, name)),
                                "to": _plain(value)})
                setattr(line, name, value)
                if order.guarantee:
                    warnings.add("guarantee_void")
    if errors:
        raise Invalid("Some lines cannot be edited.", errors=errors)
    outcome.warnings = [w for w in _WARNING_ORDER if w in warnings]
    return outcome


def _plain(value: Any) -> Any:
    return format(value, "f") if isinstance(value, Decimal) else value
