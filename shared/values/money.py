"""Money as Decimal in the currency's minor-unit precision (ISO 4217)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from pydantic import ValidationInfo

# ISO 4217 list one (current currencies and funds) as published 2026-01-01, by minor units: every
# code that has a numeric minor unit. Codes whose minor unit is "N.A." (gold, silver, SDR, the
# test and no-currency codes) price nothing. tests/unit/test_money.py checks this table against
# the `iso4217` package, so a new publication is one package upgrade and one edit here.
_CURRENT_BY_MINOR_UNITS: dict[int, str] = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    2: "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF "
       "CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
       "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL "
       "MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR "
       "PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP "
       "TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XAD XCD XCG YER ZAR ZMW ZWG",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
}
CURRENT: dict[str, int] = {code: units for units, codes in _CURRENT_BY_MINOR_UNITS.items() for code in codes.split()}

# Codes this service accepted before ISO withdrew them (moved to list three): the Netherlands
# Antillean guilder (replaced by XCG) and the Bulgarian lev (Bulgaria joined the euro on 2026-01-01),
# both gone from the 2026-01-01 list one. No new amount is accepted in them, but an order, a
# shipment or a setting recorded in one keeps its precision and stays readable: see `recorded`.
WITHDRAWN: dict[str, int] = {"ANG": 2, "BGN": 2}

# The validation context under which stores read their items back: a currency withdrawn since the
# item was written is still its currency.
RECORDED: dict[str, bool] = {"recorded": True}


# What a decimal string may look like on the wire: ASCII digits, one optional point and sign.
# `Decimal()` alone (and pydantic, which calls it) also takes "1_000", " 12.50 " and digits of other scripts
# (full-width, Arabic-Indic), and reads them as numbers nobody typed.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def strict_decimal(value: object) -> object:
    """Pydantic `BeforeValidator` of every decimal input: a string must be plain ASCII decimal
    text (else ValueError, a 422); a JSON float is taken by its shortest repr, since its binary
    value has already lost the decimals that were sent; anything else is left to the type."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError("must be a decimal number written with ASCII digits and an optional '.', like \"12.50\"")
    return value


class UnknownCurrency(ValueError):
    pass


def minor_units(currency: str) -> int:
    """The currency's ISO 4217 exponent (a withdrawn currency keeps its own: recorded amounts)."""
    code = currency.upper()
    units = CURRENT.get(code, WITHDRAWN.get(code))
    if units is None:
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code")
    return units


def is_currency(code: str) -> bool:
    """A current ISO 4217 currency: one a new amount may be in."""
    return code.upper() in CURRENT


def is_known_currency(code: str) -> bool:
    """A current currency, or one withdrawn since an amount was recorded in it."""
    upper = code.upper()
    return upper in CURRENT or upper in WITHDRAWN


def recorded(info: ValidationInfo) -> bool:
    """Pydantic validators: the value is read back from a store (context `RECORDED`), not sent."""
    return bool(info.context and info.context.get("recorded"))


def currency_code(value: str, info: ValidationInfo) -> str:
    """Pydantic validator body of every currency field: a current code (upper-cased), or a
    withdrawn one on a record written before its withdrawal."""
    code = value.upper()
    if code in CURRENT or (code in WITHDRAWN and recorded(info)):
        return code
    if code in WITHDRAWN:
        raise ValueError(f"{code} is no longer an ISO 4217 currency")
    raise ValueError("must be an ISO 4217 currency code")


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def has_valid_precision(amount: Decimal, currency: str) -> bool:
    """True when `amount` has no more decimals than the currency allows."""
    # Written decimals count, as sent: "12.500" EUR has three even though its value fits.
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and (exponent >= 0 or -exponent <= minor_units(currency))


def in_precision(amount: Decimal, currency: str) -> Decimal:
    """An amount already within the currency's precision, written with all its decimals ("20" → "20.00")."""
    return amount.quantize(quantum(currency))


def parse_amount(value: str | int | Decimal, currency: str) -> Decimal:
    """Parse a decimal string into the currency's precision; refuse extra decimals."""
    try:
        amount = Decimal(str(strict_decimal(value)))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a decimal amount") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    if not has_valid_precision(amount, currency):
        raise ValueError(f"{value} has more decimals than {currency.upper()} allows ({minor_units(currency)})")
    return amount.quantize(quantum(currency))


def round_half_up(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, currency: str) -> str:
    """The JSON form: a plain decimal string in the currency's precision."""
    return f"{amount.quantize(quantum(currency)):f}"


def zero(currency: str) -> Decimal:
    return Decimal(0).quantize(quantum(currency))
