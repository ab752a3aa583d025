"""The currency table of shared/values/money.py is ISO 4217 as published, and every amount is kept in
its currency's minor units."""

from decimal import Decimal

import iso4217
import pytest
from pydantic import ValidationError

from shared.merchants.model import Settings
from shared.orders.model import OrderIn
from shared.shipments.model import Package
from shared.values.money import (
    CURRENT,
    RECORDED,
    WITHDRAWN,
    is_currency,
    minor_units,
    parse_amount,
    quantum,
    round_half_up,
)
from tests.factories import address

# The rule: our current table is every code of the package's list one that has a numeric minor
# unit (those with "N.A." are metals, the SDR and the test and no-currency codes: they price nothing).
PUBLISHED = {currency.code: currency.exponent for currency in iso4217.Currency if currency.exponent is not None}


def test_the_current_table_is_iso_4217_as_published():
    assert iso4217.__published__.isoformat() == "2026-01-01"
    assert CURRENT == PUBLISHED


def test_the_currencies_added_by_recent_publications_are_known():
    assert {code: CURRENT[code] for code in ("XCG", "VED", "XAD")} == {"XCG": 2, "VED": 2, "XAD": 2}


def test_withdrawn_currencies_are_no_longer_published_nor_current():
    assert set(WITHDRAWN) == {"ANG", "BGN"}
    assert not set(WITHDRAWN) & set(PUBLISHED)
    assert not any(is_currency(code) for code in WITHDRAWN)


@pytest.mark.parametrize(
    ("currency", "units"),
    [("EUR", 2), ("usd", 2), ("JPY", 0), ("KRW", 0), ("IQD", 3), ("KWD", 3), ("TND", 3), ("RSD", 2), ("CLF", 4),
     ("UYW", 4), ("XCG", 2), ("BGN", 2), ("ANG", 2)],
)
def test_minor_units(currency, units):
    assert minor_units(currency) == units
    assert quantum(currency) == Decimal(1).scaleb(-units)


@pytest.mark.parametrize("code", ["XAU", "XTS", "XXX", "XDR", "EURO", "", "eu"])
def test_codes_without_minor_units_are_not_currencies(code):
    assert not is_currency(code)
    with pytest.raises(ValueError):
        minor_units(code)


@pytest.mark.parametrize(
    ("amount", "currency", "kept"),
    [("12.345", "IQD", "12.345"), ("1500.5", "RSD", "1500.50"), ("1500", "JPY", "1500"), ("0.1", "KWD", "0.100"),
     ("1.2345", "CLF", "1.2345")],
)
def test_amounts_keep_their_currency_precision(amount, currency, kept):
    assert str(parse_amount(amount, currency)) == kept


def test_an_amount_with_more_decimals_than_its_currency_is_refused():
    with pytest.raises(ValueError):
        parse_amount("12.3456", "IQD")
    with pytest.raises(ValueError):
        parse_amount("1.5", "JPY")


def test_rounding_is_to_the_minor_unit():
    assert round_half_up(Decimal("12.3455"), "IQD") == Decimal("12.346")
    assert round_half_up(Decimal("1500.005"), "RSD") == Decimal("1500.01")
    assert round_half_up(Decimal("1500.5"), "JPY") == Decimal("1501")


# --- a withdrawn currency: refused as new input, still readable on a record ------------------


def test_a_new_amount_in_a_withdrawn_currency_is_refused():
    with pytest.raises(ValidationError, match="no longer an ISO 4217 currency"):
        Settings.model_validate({"display_currency": "BGN"})


@pytest.mark.parametrize("code", ["", "XXQ", "XAU", "EURO"])
def test_a_display_currency_that_is_no_currency_is_refused(code):
    with pytest.raises(ValidationError):
        Settings.model_validate({"display_currency": code})
    with pytest.raises(ValidationError):
        Settings.model_validate({"display_currency": code}, context=RECORDED)


def test_a_record_in_a_withdrawn_currency_stays_readable():
    assert Settings.model_validate({"display_currency": "bgn"}, context=RECORDED).display_currency == "BGN"


def test_a_package_value_in_a_withdrawn_currency_is_refused_on_input_only():
    package = {"type": "box", "size_unit": "cm", "length": 1, "width": 1, "height": 1, "weight_unit": "kg",
               "weight": 1, "contents": "merchandise", "value": "10.00", "currency": "ANG"}
    with pytest.raises(ValidationError):
        Package.model_validate(package)
    assert Package.model_validate(package, context=RECORDED).currency == "ANG"


def _order(currency: str) -> dict[str, object]:
    return {"customer": {"email": "lea@example.fr"}, "currency": currency,
            "lines": [{"sku": "LAMP-01", "name": "Lamp", "quantity": 1, "unit_price": "40.00"}],
            "amounts": {"subtotal": "40.00", "shipping": "0", "duties": "0", "taxes": "0"},
            "payment_mode": "external", "billing_address": address(), "shipping_address": address()}


def test_an_order_in_a_withdrawn_currency_is_refused_on_input_only():
    with pytest.raises(ValidationError, match="no longer an ISO 4217 currency"):
        OrderIn.model_validate(_order("BGN"))
    recorded = OrderIn.model_validate(_order("BGN"), context=RECORDED)
    assert (recorded.currency, recorded.amounts.shipping) == ("BGN", Decimal("0.00"))


def test_an_order_in_a_three_decimal_currency_keeps_three_decimals():
    order = OrderIn.model_validate({**_order("IQD"), "amounts": {"subtotal": "12.345", "shipping": "1", "duties": "0",
                                                                 "taxes": "0"},
                                    "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": "12.345"}]})
    assert (str(order.amounts.subtotal), str(order.amounts.shipping)) == ("12.345", "1.000")
