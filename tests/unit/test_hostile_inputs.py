"""Readers of untrusted input: JSON nesting and decimal text."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from shared.http.bodies import MAX_JSON_DEPTH, TooDeep, load_json
from shared.values.money import parse_amount, strict_decimal


@pytest.mark.parametrize("kind", ["[]", "{}"])
def test_json_exactly_as_deep_as_dynamodb_allows_is_read(kind: str) -> None:
    opening, closing = kind
    nested = ('{"a": ' if kind == "{}" else "[") * MAX_JSON_DEPTH
    text = nested + "1" + ("}" if kind == "{}" else "]") * MAX_JSON_DEPTH
    assert load_json(text) is not None
    assert load_json(text.encode()) is not None
    deeper = opening + text.replace("1", "") + closing if kind == "[]" else '{"a": ' + text + "}"
    with pytest.raises(TooDeep):
        load_json(deeper)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 999, 5_000, 200_000])
def test_deeper_json_is_refused_whatever_the_depth(depth: int) -> None:
    with pytest.raises(TooDeep):
        load_json("[" * depth + "]" * depth)


def test_brackets_inside_strings_are_not_nesting() -> None:
    assert load_json(json.dumps({"message": "[" * 500 + "{" * 500})) == {"message": "[" * 500 + "{" * 500}


def test_many_shallow_containers_are_fine() -> None:
    assert len(load_json(json.dumps([{"a": [1]} for _ in range(2_000)]))) == 2_000


def test_invalid_json_is_still_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        load_json("{oops")


@pytest.mark.parametrize("text", ["0", "12", "12.50", "-3.5", "+1", ".5", "5."])
def test_plain_decimal_text_is_accepted(text: str) -> None:
    assert strict_decimal(text) == text and Decimal(text) is not None


@pytest.mark.parametrize("text", ["1_000", " 12.50", "12.50 ", "12 .5", "\uff11\uff12", "\u0661\u0662",
                                  "\u0967", "1e3", "NaN", "Infinity", "", "12,50", "0x10"])
def test_decimal_text_that_decimal_would_misread_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        strict_decimal(text)
    with pytest.raises(ValueError):
        parse_amount(text, "EUR")


def test_json_floats_keep_the_decimals_that_were_sent() -> None:
    assert strict_decimal(0.1) == Decimal("0.1")
    assert parse_amount(Decimal("12.5"), "EUR") == Decimal("12.50")
