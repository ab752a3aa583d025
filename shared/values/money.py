"""Money as Decimal in the currency's minor-unit precision (ISO 4217)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units for currencies whose exponent is not 2.
_MINOR_UNITS_OTHER_THAN_TWO: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}
# ISO 4217 active codes with two minor units (the common case).
_TWO_MINOR_UNITS: frozenset[str] = frozenset(
    ["AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "YER", "ZAR", "ZMW", "ZWG"]
)


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
    code = currency.upper()
    if code in _MINOR_UNITS_OTHER_THAN_TWO:
        return _MINOR_UNITS_OTHER_THAN_TWO[code]
    if code in _TWO_MINOR_UNITS:
        return 2
    raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code")


def is_currency(code: str) -> bool:
    try:
        minor_units(code)
    except UnknownCurrency:
        return False
    return True


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def has_valid_precision(amount: Decimal, currency: str) -> bool:
    """True when `amount` has no more decimals than the currency allows."""
    # Written decimals count, as sent: "12.500" EUR has three even though its value fits.
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and (exponent >= 0 or -exponent <= minor_units(currency))


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
