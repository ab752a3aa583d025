"""The money rules of orders and refunds (DESIGN.md §1.3), without AWS."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from functions.orders.edits import OrderPatch, apply_patch
from shared.errors import Invalid
from shared.merchants.model import FeeSettings
from shared.orders.model import (
    Order,
    OrderFee,
    OrderIn,
    OrderLine,
    OrderStatus,
    PackageDimensions,
    RefundComponents,
    estimated_weight,
    order_fee,
    refund_status_of,
    shipping_status,
)
from shared.refunds.model import fee_returned
from shared.refunds.payments import stripe_amount
from shared.refunds.rules import RefundRequest, RequestedAmounts, resolve_amounts
from tests.factories import address

D = Decimal


def order(currency: str = "EUR", display: str | None = None, rate: str | None = None, *,
          subtotal: str = "100.00", shipping: str = "10.00", duties: str = "3.00", taxes: str = "7.00",
          payment_mode: str = "platform", guarantee: bool = False) -> Order:
    body = OrderIn.model_validate({
        "customer": {"email": "lea@example.fr"}, "currency": currency, "display_currency": display,
        "exchange_rate": rate, "payment_mode": payment_mode, "guarantee": guarantee,
        "lines": [{"sku": "LAMP", "name": "Lamp", "quantity": 1, "unit_price": subtotal, "hs_code": "940520"}],
        "amounts": {"subtotal": subtotal, "shipping": shipping, "duties": duties, "taxes": taxes},
        "billing_address": address(), "shipping_address": address()})
    now = datetime(2026, 3, 10, tzinfo=UTC)
    total = body.amounts.subtotal + body.amounts.shipping + body.amounts.duties + body.amounts.taxes
    return Order(**body.model_dump(), id="ord_1", customer_id="cus_1", total=total, created_at=now, updated_at=now,
                 status=OrderStatus.paid if payment_mode == "platform" else OrderStatus.open,
                 fee_terms=FeeSettings(), fee=order_fee(total, FeeSettings(), currency))


def requested(**amounts: str) -> RequestedAmounts:
    return RequestedAmounts.model_validate(amounts)


def resolve(o: Order, amount_currency: str = "checkout", remaining: RefundComponents | None = None,
            **amounts: str) -> RefundComponents:
    return resolve_amounts(requested(**amounts), amount_currency, o, remaining or o.paid())


# --- components and conversion ----------------------------------------------------------------------
def test_duties_and_taxes_are_one_refundable_component() -> None:
    assert order().paid() == RefundComponents(subtotal=D("100.00"), shipping=D("10.00"), duties_taxes=D("10.00"))


def test_checkout_amounts_are_taken_as_given() -> None:
    assert resolve(order(), subtotal="12.5", duties_taxes="10") == RefundComponents(
        subtotal=D("12.50"), shipping=D("0.00"), duties_taxes=D("10.00"))


@pytest.mark.parametrize(("display", "rate", "given", "expected"), [
    ("USD", "1.0850", "10.85", "10.00"),  # exact
    ("USD", "1.0850", "10.00", "9.22"),  # 9.2165... → 9.22
    ("USD", "3", "0.05", "0.02"),  # 0.01666... → 0.02
    ("USD", "2", "0.05", "0.03"),  # 0.025 → 0.03: half-up, not banker's
    ("JPY", "160", "1601", "10.01"),  # 10.00625 → 10.01
])
def test_display_amounts_are_converted_at_the_recorded_rate_and_rounded_half_up(
        display: str, rate: str, given: str, expected: str) -> None:
    assert resolve(order(display=display, rate=rate), "display", subtotal=given).subtotal == D(expected)


def test_each_component_is_converted_and_rounded_on_its_own() -> None:
    amounts = resolve(order(display="USD", rate="2"), "display", subtotal="0.05", shipping="0.05")
    assert (amounts.subtotal, amounts.shipping) == (D("0.03"), D("0.03"))


@pytest.mark.parametrize(("currency", "given"), [("JPY", "100.5"), ("EUR", "1.001"), ("KWD", "1.0001")])
def test_more_decimals_than_the_checkout_currency_allows_is_422(currency: str, given: str) -> None:
    with pytest.raises(Invalid) as raised:
        resolve(order(currency, subtotal="500", shipping="0", duties="0", taxes="0"), subtotal=given)
    assert raised.value.errors and raised.value.errors[0]["field"] == "amounts.subtotal"


def test_three_decimals_are_fine_in_kwd() -> None:
    assert resolve(order("KWD", subtotal="50.000", shipping="0", duties="0", taxes="0"),
                   subtotal="1.125").subtotal == D("1.125")


def test_display_amounts_are_checked_against_the_display_currency_precision() -> None:
    jpy_display = order(display="JPY", rate="160")
    with pytest.raises(Invalid):
        resolve(jpy_display, "display", subtotal="160.5")
    eur_display = order("JPY", display="EUR", rate="0.00625", subtotal="16000", shipping="0", duties="0", taxes="0")
    assert resolve(eur_display, "display", subtotal="10.50").subtotal == D("1680")


def test_a_conversion_over_the_remainder_by_one_minor_unit_is_clamped() -> None:
    o = order(display="USD", rate="3", subtotal="10.00")
    # 30.02 USD / 3 = 10.0066... → 10.01, one cent over the 10.00 paid: the rounding, clamped.
    assert resolve(o, "display", subtotal="30.02").subtotal == D("10.00")


def test_a_conversion_over_the_remainder_by_more_than_one_minor_unit_is_422() -> None:
    o = order(display="USD", rate="3", subtotal="10.00")
    with pytest.raises(Invalid) as raised:
        resolve(o, "display", subtotal="30.05")  # 10.0166... → 10.02
    assert "10.00" in raised.value.errors[0]["message"]


def test_the_clamp_uses_what_remains_after_earlier_refunds() -> None:
    o = order(display="USD", rate="3", subtotal="10.00")
    remaining = RefundComponents(subtotal=D("4.00"), shipping=D("10.00"), duties_taxes=D("10.00"))
    assert resolve(o, "display", remaining, subtotal="12.02").subtotal == D("4.00")  # 4.0066 → 4.01 → 4.00


def test_checkout_amounts_are_never_clamped() -> None:
    with pytest.raises(Invalid):
        resolve(order(subtotal="10.00"), subtotal="10.01")


def test_a_display_refund_needs_a_display_currency() -> None:
    with pytest.raises(Invalid, match="no display currency"):
        resolve(order(), "display", subtotal="1.00")


@pytest.mark.parametrize("amounts", [{}, {"subtotal": "0"}, {"subtotal": "0.00", "shipping": "0"}])
def test_at_least_one_amount_above_zero_is_required(amounts: dict[str, str]) -> None:
    with pytest.raises(Invalid, match="at least one amount"):
        resolve(order(), **amounts)


def test_each_component_is_checked_against_its_own_remainder() -> None:
    with pytest.raises(Invalid) as raised:
        resolve(order(), shipping="10.01", duties_taxes="10.01")
    assert [e["field"] for e in raised.value.errors] == ["amounts.shipping", "amounts.duties_taxes"]


def test_a_rate_that_converts_to_zero_minor_units_is_no_amount() -> None:
    with pytest.raises(Invalid, match="at least one amount"):
        resolve(order(display="USD", rate="1000"), "display", subtotal="4.00")  # 0.004 EUR → 0.00


# --- fees -------------------------------------------------------------------------------------------
def test_the_fee_is_a_rate_of_the_total_plus_fixed_and_its_card_part_a_rate_of_the_total() -> None:
    terms = FeeSettings(rate_percent=D("5.0"), fixed=D("0.30"), card_percent=D("2.9"))
    assert order_fee(D("120.00"), terms, "EUR") == OrderFee(amount=D("6.30"), card_part=D("3.48"), returned=D("0.00"))
    assert order_fee(D("0.10"), terms, "EUR").card_part == D("0.00")  # 0.0029 → 0.00
    assert order_fee(D("0.50"), terms, "EUR").card_part == D("0.01")  # 0.0145 → 0.01
    assert order_fee(D("1000"), terms, "JPY") == OrderFee(amount=D("50"), card_part=D("29"), returned=D("0"))


def test_the_fee_returned_is_proportional_to_the_refunded_share_of_the_non_card_part() -> None:
    fee = OrderFee(amount=D("6.30"), card_part=D("3.48"), returned=D("0"))  # 2.82 returnable
    assert fee_returned(fee, D("120.00"), D("30.00"), "EUR") == D("0.71")  # 0.705 → 0.71 (half-up)
    assert fee_returned(fee, D("120.00"), D("120.00"), "EUR") == D("2.82")


def test_the_returns_of_many_refunds_never_exceed_the_non_card_part_and_reach_it_on_a_full_refund() -> None:
    fee = OrderFee(amount=D("6.30"), card_part=D("3.48"), returned=D("0"))
    total, refunded = D("120.00"), D("0")
    for _ in range(7):  # seven refunds of 17.14, then the rest
        refunded += D("17.14")
        fee = fee.model_copy(update={"returned": fee.returned + fee_returned(fee, total, refunded, "EUR")})
        assert fee.returned <= D("2.82")
    fee = fee.model_copy(update={"returned": fee.returned + fee_returned(fee, total, total, "EUR")})
    assert fee.returned == D("2.82")


def test_no_fee_is_returned_when_the_card_part_is_the_whole_fee() -> None:
    fee = OrderFee(amount=D("1.00"), card_part=D("1.20"), returned=D("0"))
    assert fee_returned(fee, D("10.00"), D("10.00"), "EUR") == D("0.00")


# --- statuses ---------------------------------------------------------------------------------------
def test_refund_status_is_none_then_partial_then_full() -> None:
    paid = order().paid()
    assert refund_status_of(RefundComponents(), paid).value == "none"
    assert refund_status_of(RefundComponents(subtotal=D("100.00")), paid).value == "partial"
    assert refund_status_of(paid, paid).value == "full"


@pytest.mark.parametrize(("payment_mode", "status", "active", "expected"), [
    ("platform", OrderStatus.paid, True, OrderStatus.shipped),
    ("external", OrderStatus.open, True, OrderStatus.shipped),
    ("platform", OrderStatus.shipped, False, OrderStatus.paid),
    ("external", OrderStatus.shipped, False, OrderStatus.open),
    ("platform", OrderStatus.cancelled, True, OrderStatus.cancelled),
])
def test_an_order_is_shipped_while_a_linked_label_is_not_voided(payment_mode: str, status: OrderStatus,
                                                                 active: bool, expected: OrderStatus) -> None:
    o = order(payment_mode=payment_mode).model_copy(update={"status": status})
    assert shipping_status(o, active) is expected


# --- estimated weight -------------------------------------------------------------------------------
def test_estimated_weight_is_the_larger_of_physical_and_dimensional_weight() -> None:
    lines = [OrderLine(sku="A", name="A", quantity=2, unit_price=D(1), weight=D("500"), weight_unit="g"),
             OrderLine(sku="B", name="B", quantity=1, unit_price=D(1), weight=D("1"), weight_unit="lb")]
    assert estimated_weight(lines, None).value == D("1.454")  # 1 kg + 0.45359237 kg
    box = PackageDimensions(length=D(40), width=D(30), height=D(20), size_unit="cm")  # 24000 cm3 / 5000
    assert estimated_weight(lines, box).value == D("4.800")
    inches = PackageDimensions(length=D(10), width=D(10), height=D(10), size_unit="in")  # 16387.064 cm3
    assert estimated_weight([], inches).value == D("3.277")
    assert estimated_weight([lines[0].model_copy(update={"weight": None})], None) is None


# --- edits ------------------------------------------------------------------------------------------
def patch(**fields: Any) -> OrderPatch:
    return OrderPatch.model_validate(fields)


@pytest.mark.parametrize(("payment_mode", "warnings"), [
    ("platform", ["landed_cost_may_differ", "fraud_protection_void"]),
    ("external", ["landed_cost_may_differ"]),
])
def test_address_edits_warn_of_landed_cost_and_of_fraud_protection_on_platform_orders(
        payment_mode: str, warnings: list[str]) -> None:
    outcome = apply_patch(order(payment_mode=payment_mode), patch(shipping_address=address(postal_code="69007")))
    assert outcome.warnings == warnings
    assert outcome.changes == [{"field": "shipping_address", "changed": ["postal_code"]}]


def test_an_address_edit_that_changes_nothing_is_no_change() -> None:
    outcome = apply_patch(order(), patch(billing_address=address()))
    assert outcome.changes == [] and outcome.warnings == []


@pytest.mark.parametrize(("guarantee", "warnings"), [(True, ["guarantee_void"]), (False, [])])
def test_hs_code_or_price_edits_warn_only_orders_with_the_guarantee(guarantee: bool, warnings: list[str]) -> None:
    outcome = apply_patch(order(guarantee=guarantee), patch(lines=[{"sku": "LAMP", "hs_code": "9405.11"}]))
    assert outcome.warnings == warnings
    assert outcome.changes == [{"field": "lines.hs_code", "sku": "LAMP", "from": "940520", "to": "9405.11"}]


def test_a_price_edit_is_recorded_in_the_currency_precision() -> None:
    outcome = apply_patch(order(), patch(lines=[{"sku": "LAMP", "unit_price": "99.5"}]))
    assert outcome.changes == [{"field": "lines.unit_price", "sku": "LAMP", "from": "100.00", "to": "99.50"}]
    assert outcome.order.lines[0].unit_price == D("99.50")


def test_an_unknown_sku_or_a_price_with_too_many_decimals_is_422() -> None:
    with pytest.raises(Invalid):
        apply_patch(order(), patch(lines=[{"sku": "NOPE", "unit_price": "1.00"}]))
    with pytest.raises(Invalid):
        apply_patch(order(), patch(lines=[{"sku": "LAMP", "unit_price": "1.001"}]))


@pytest.mark.parametrize("fields", [{"estimated_weight": "2.5"}, {"order_number": None}, {"currency": "USD"},
                                    {"amounts": {"subtotal": "1"}}])
def test_fields_that_cannot_be_edited_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        OrderPatch.model_validate(fields)


# --- idempotency fingerprint and provider amounts ---------------------------------------------------
def test_a_request_fingerprint_ignores_how_an_amount_is_written_but_not_what_it_is() -> None:
    def fingerprint(**body: Any) -> str:
        return RefundRequest.model_validate({"reason": "damaged", **body}).fingerprint()

    assert fingerprint(amounts={"subtotal": "10"}) == fingerprint(amounts={"subtotal": "10.00"},
                                                                  amount_currency="checkout")
    assert fingerprint(amounts={"subtotal": "10"}) != fingerprint(amounts={"subtotal": "10.01"})
    assert fingerprint(amounts={"subtotal": "10"}) != fingerprint(amounts={"shipping": "10"})
    assert fingerprint(amounts={"subtotal": "10"}) != fingerprint(amounts={"subtotal": "10"}, note="x")


@pytest.mark.parametrize(("amount", "currency", "minor"), [("12.34", "EUR", 1234), ("500", "JPY", 500),
                                                            ("1.250", "KWD", 1250), ("12.345", "IQD", 12345),
                                                            ("1500.50", "RSD", 150050), ("10.00", "XCG", 1000),
                                                            ("7.5", "CLF", 75000), ("3.20", "BGN", 320)])
def test_provider_amounts_are_in_minor_units(amount: str, currency: str, minor: int) -> None:
    assert stripe_amount(D(amount), currency) == minor
