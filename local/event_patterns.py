"""EventBridge event patterns, as Lambda's FilterCriteria applies them to stream and queue records."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

_MISSING = object()


def parse_patterns(filter_criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    patterns = []
    for entry in (filter_criteria or {}).get("Filters") or []:
        pattern = entry.get("Pattern")
        patterns.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
    return patterns


def passes_filters(patterns: list[dict[str, Any]], record: Any) -> bool:
    """No filter lets everything through; otherwise one matching filter is enough."""
    return not patterns or any(matches(pattern, record) for pattern in patterns)


def matches(pattern: dict[str, Any], event: Any) -> bool:
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in rule):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(rule, dict):
            if not matches(rule, value if isinstance(value, dict) else {}):
                return False
        elif not _leaf_matches(rule, value):
            return False
    return True


def _leaf_matches(rules: list[Any], value: Any) -> bool:
    if isinstance(value, dict):
        return False
    if isinstance(value, list):
        if not value:
            return any(_is_exists(rule, expected=False) for rule in rules)
        return any(_matches_one(rule, item) for rule in rules for item in value)
    return any(_matches_one(rule, value) for rule in rules)


def _is_exists(rule: Any, *, expected: bool) -> bool:
    return isinstance(rule, dict) and rule.get("exists") is expected


def _matches_one(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        return _operator_matches(rule, value)
    if value is _MISSING:
        return False
    return _equal(rule, value)


def _equal(expected: Any, value: Any) -> bool:
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _operator_matches(rule: dict[str, Any], value: Any) -> bool:
    (operator, argument), = rule.items()
    if operator == "exists":
        return (value is not _MISSING) is bool(argument)
    if value is _MISSING:
        return False
    check = _OPERATORS.get(operator)
    if check is None:
        raise ValueError(f"unsupported event pattern operator: {operator}")
    return check(argument, value)


def _text_operator(argument: Any, value: Any, test: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, dict):
        return test(value.lower(), str(argument["equals-ignore-case"]).lower())
    return test(value, argument)


def _anything_but(argument: Any, value: Any) -> bool:
    if isinstance(argument, dict):
        return not _operator_matches(argument, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_equal(item, value) for item in excluded)


_COMPARISONS = {
    "=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _numeric(argument: list[Any], value: Any) -> bool:
    if not _is_number(value):
        return False
    pairs = zip(argument[0::2], argument[1::2], strict=True)
    return all(_COMPARISONS[operator](float(value), float(bound)) for operator, bound in pairs)


def _wildcard(argument: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    expression = ".*".join(re.escape(part) for part in argument.split("*"))
    return re.fullmatch(expression, value, flags=re.DOTALL) is not None


def _cidr(argument: str, value: Any) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(argument, strict=False)
    except ValueError:
        return False


_OPERATORS: dict[str, Any] = {
    "prefix": lambda a, v: _text_operator(a, v, str.startswith),
    "suffix": lambda a, v: _text_operator(a, v, str.endswith),
    "equals-ignore-case": lambda a, v: isinstance(v, str) and v.lower() == str(a).lower(),
    "anything-but": _anything_but,
    "numeric": _numeric,
    "wildcard": _wildcard,
    "cidr": _cidr,
}
