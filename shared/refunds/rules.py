"""`POST /v1/orders/{id}/refunds`: the request, and the money rules that turn its amounts into a
refund (display-currency conversion, the one-minor-unit clamp, what remains of each component).

Apart from `shared.refunds.model` because only the refund function takes refund requests: the other
functions that read refunds or write the ledger would build these models at cold start for nothing.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import Invalid
from shared.orders.model import COMPONENTS, Order, RefundComponents
from shared.refunds.model import RefundReason
from shared.values.models import Amount
from shared.values.money import has_valid_precision, minor_units, quantum, round_half_up, zero


class RequestedAmounts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subtotal: Amount | None = None
    shipping: Amount | None = None
    duties_taxes: Amount | None = None


class RefundRequest(BaseModel):
    """`POST /v1/orders/{id}/refunds`."""

    model_config = ConfigDict(extra="forbid")
    amounts: RequestedAmounts
    amount_currency: Literal["checkout", "display"] = "checkout"
    reason: RefundReason
    note: Annotated[str | None, Field(default=None, max_length=1000)] = None

    def fingerprint(self) -> str:
        """Hash of what the request asks: equal amounts written differently ("10" / "10.00") match."""
        canonical = self.model_dump(mode="json")
        canonical["amounts"] = {name: format(value.normalize(), "f") if value is not None else None
                                for name, value in self.amounts}
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode("utf-8")).hexdigest()


# --- money rules ----------------------------------------------------------------------------------
def _field_error(component: str, message: str) -> dict[str, str]:
    return {"field": f"amounts.{component}", "type": "value_error", "message": message}


def resolve_amounts(requested: RequestedAmounts, amount_currency: str, order: Order,
                    remaining: RefundComponents) -> RefundComponents:
    """The refund in the checkout currency, component by component (422 when impossible).

    Display amounts are converted at the rate recorded at checkout and rounded half-up to the
    checkout currency's minor unit; a converted component over what remains by one minor unit at
    most (rounding) is clamped to the remainder. Checkout amounts must fit exactly.
    """
    display = amount_currency == "display"
    if display and (order.display_currency is None or order.exchange_rate is None):
        raise Invalid("This order has no display currency; give the amounts in the checkout currency.")
    given_in = order.display_currency if display else order.currency
    assert given_in is not None
    errors = [_field_error(name, f"{value} has more decimals than {given_in} allows ({minor_units(given_in)})")
              for name, value in requested if value is not None and not has_valid_precision(value, given_in)]
    if errors:
        raise Invalid("An amount has more decimals than its currency allows.", errors=errors)
    resolved: dict[str, Decimal] = {}
    step = quantum(order.currency)
    for name in COMPONENTS:
        value = getattr(requested, name)
        if value is None or value == 0:
            resolved[name] = zero(order.currency)
            continue
        amount = round_half_up(value / order.exchange_rate, order.currency) if display else value.quantize(step)
        left = getattr(remaining, name)
        if amount > left and display and amount - left <= step:
            amount = left  # the conversion's rounding, not an over-refund
        if amount > left:
            errors.append(_field_error(name, f"{amount} {order.currency} is more than the {left} that remains"))
        resolved[name] = amount
    if errors:
        raise Invalid("A refund cannot exceed what remains of a component.", errors=errors)
    amounts = RefundComponents(**resolved)
    if amounts.sum() <= 0:
        raise Invalid("Give at least one amount above zero (subtotal, shipping or duties_taxes).",
                      errors=[{"field": "amounts", "type": "value_error",
                               "message": "at least one amount above zero is required"}])
    return amounts
