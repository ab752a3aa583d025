"""FilterCriteria patterns match stream and queue records as EventBridge patterns do."""

from __future__ import annotations

import pytest

from local.event_patterns import matches, parse_patterns, passes_filters

REMOVE_BY_TTL = {
    "eventName": "REMOVE",
    "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
    "dynamodb": {"Keys": {"pk": {"S": "M#1#S#2"}, "sk": {"S": "TIMER#REDACT"}}, "OldImage": {"n": 5, "tags": ["a", "b"]}},
}


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"eventName": ["REMOVE"]}, True),
    ({"eventName": ["INSERT", "MODIFY"]}, False),
    ({"userIdentity": {"principalId": ["dynamodb.amazonaws.com"]}}, True),
    ({"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "TIMER#"}]}}}}, True),
    ({"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "EVENT#"}]}}}}, False),
    ({"dynamodb": {"Keys": {"sk": {"S": [{"suffix": "REDACT"}]}}}}, True),
    ({"eventName": [{"anything-but": "REMOVE"}]}, False),
    ({"eventName": [{"anything-but": ["INSERT"]}]}, True),
    ({"eventName": [{"anything-but": {"prefix": "REM"}}]}, False),
    ({"dynamodb": {"NewImage": [{"exists": False}]}}, True),
    ({"dynamodb": {"OldImage": {"n": [{"exists": True}]}}}, True),
    ({"dynamodb": {"OldImage": {"missing": [{"exists": True}]}}}, False),
    ({"dynamodb": {"OldImage": {"n": [{"numeric": [">", 3, "<=", 5]}]}}}, True),
    ({"dynamodb": {"OldImage": {"n": [{"numeric": ["<", 3]}]}}}, False),
    ({"dynamodb": {"OldImage": {"tags": ["b"]}}}, True),
    ({"eventName": [{"equals-ignore-case": "remove"}]}, True),
    ({"eventName": [{"wildcard": "RE*E"}]}, True),
    ({"$or": [{"eventName": ["INSERT"]}, {"userIdentity": {"type": ["Service"]}}]}, True),
    ({"eventName": ["REMOVE"], "userIdentity": {"principalId": ["someone"]}}, False),
])
def test_pattern_matching(pattern: dict, expected: bool) -> None:
    assert matches(pattern, REMOVE_BY_TTL) is expected


def test_a_user_delete_does_not_pass_the_ttl_filter() -> None:
    patterns = parse_patterns({"Filters": [
        {"Pattern": '{"userIdentity": {"principalId": ["dynamodb.amazonaws.com"]}}'}]})
    assert not passes_filters(patterns, {"eventName": "REMOVE", "dynamodb": {}})
    assert passes_filters(patterns, REMOVE_BY_TTL)


def test_one_matching_filter_is_enough_and_no_filter_passes_all() -> None:
    patterns = parse_patterns({"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'},
                                           {"Pattern": '{"eventName": ["REMOVE"]}'}]})
    assert passes_filters(patterns, REMOVE_BY_TTL)
    assert passes_filters([], {"anything": 1})


def test_numbers_and_strings_never_equal_each_other() -> None:
    assert not matches({"n": ["5"]}, {"n": 5})
    assert matches({"n": [5]}, {"n": 5.0})
