"""Single-item conditional writes: the one place that turns DynamoDB's
`ConditionalCheckFailedException` into a domain failure (`Refused` with the condition's name,
or `ChangedMeanwhile` for a version check)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from shared.errors import ChangedMeanwhile, Refused

CONDITION_FAILED = "ConditionalCheckFailedException"
ITEM_IS_NEW = "attribute_not_exists(pk)"
ITEM_EXISTS = "attribute_exists(pk)"
VERSION_CHANGED = "changed_meanwhile"


def condition_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == CONDITION_FAILED)


def refusal(rule: str, detail: str | None = None) -> Refused:
    """The failure a named condition stands for: `ChangedMeanwhile` for the version check."""
    if rule == VERSION_CHANGED:
        return ChangedMeanwhile(detail or "The object changed while this request ran; retry it.", rule=rule)
    return Refused(detail or f"Refused: {rule.replace('_', ' ')}.", rule=rule)


def conditioned(table: Any, condition: str | None, values: Mapping[str, Any] | None,
                names: Mapping[str, str] | None) -> dict[str, Any]:
    """The table and the condition part of a write (single or in a transaction)."""
    request: dict[str, Any] = {"TableName": table.name}
    if condition:
        request["ConditionExpression"] = condition
    if values:
        request["ExpressionAttributeValues"] = dict(values)
    if names:
        request["ExpressionAttributeNames"] = dict(names)
    return request


def put(table: Any, item: Mapping[str, Any], *, condition: str | None = None, rule: str = "condition",
        values: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None,
        detail: str | None = None) -> None:
    """PutItem; a failed condition raises `refusal(rule)`. Plain values (the resource's client)."""
    request = conditioned(table, condition, values, names)
    request["Item"] = dict(item)
    _send(table.meta.client.put_item, request, rule, detail)


def put_new(table: Any, item: Mapping[str, Any], *, rule: str = "exists") -> bool:
    """Writes `item` unless its key is taken: True when written, False when it was already there."""
    try:
        put(table, item, condition=ITEM_IS_NEW, rule=rule)
    except Refused:
        return False
    return True


def update(table: Any, key: Mapping[str, Any], expression: str, *, condition: str | None = None,
           rule: str = "condition", values: Mapping[str, Any] | None = None,
           names: Mapping[str, str] | None = None, returns: str = "NONE",
           detail: str | None = None) -> dict[str, Any]:
    """UpdateItem; the attributes asked for by `returns`; a failed condition raises `refusal(rule)`."""
    request = conditioned(table, condition, values, names)
    request.update(Key=dict(key), UpdateExpression=expression, ReturnValues=returns)
    response = _send(table.meta.client.update_item, request, rule, detail)
    return dict(response.get("Attributes") or {})


def delete(table: Any, key: Mapping[str, Any], *, condition: str | None = None, rule: str = "condition",
           values: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None,
           detail: str | None = None) -> None:
    request = conditioned(table, condition, values, names)
    request["Key"] = dict(key)
    _send(table.meta.client.delete_item, request, rule, detail)


def _send(call: Any, request: dict[str, Any], rule: str, detail: str | None) -> dict[str, Any]:
    try:
        return dict(call(**request))
    except ClientError as error:
        if condition_failed(error):
            raise refusal(rule, detail) from error
        raise


def applied(write: Callable[[], object]) -> bool:
    """Runs a conditional write: True when it landed, False when its condition refused it (the
    caller's "already done" or "not mine any more"; any other failure is raised)."""
    try:
        write()
    except Refused:
        return False
    return True


def update_or_current(table: Any, key: Mapping[str, Any], expression: str, *, condition: str,
                      values: Mapping[str, Any] | None = None,
                      names: Mapping[str, str] | None = None) -> tuple[bool, dict[str, Any] | None]:
    """UpdateItem under `condition`: (True, the item as written), or (False, the item that refused
    it, as it was then; None when there was none), in one request."""
    request = conditioned(table, condition, values, names)
    request.update(Key=dict(key), UpdateExpression=expression, ReturnValues="ALL_NEW",
                   ReturnValuesOnConditionCheckFailure="ALL_OLD")
    try:
        response = table.meta.client.update_item(**request)
    except ClientError as error:
        if not condition_failed(error):
            raise
        return False, _plain(error.response.get("Item"))
    return True, dict(response.get("Attributes") or {})


def _plain(low_level_item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    # The item handed back with a failed condition is in DynamoDB's typed JSON: the resource's
    # client does not translate error bodies.
    if not low_level_item:
        return None
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in low_level_item.items()}
