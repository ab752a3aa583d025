"""Opaque list cursors: the DynamoDB position, signed and bound to the merchant and to the list
that gave it, so a cursor that was tampered with, belongs to another merchant, or comes from
another list is refused (400) before DynamoDB sees it (it would answer a ValidationException: a
start key outside the query's partition or range, or without the index's attributes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from boto3.dynamodb.conditions import ConditionBase, ConditionExpressionBuilder

from shared.dynamo import keys
from shared.errors import Malformed
from shared.platform.settings import settings

DEFAULT_LIMIT, MAX_LIMIT = 50, 100
T = TypeVar("T")


def _secret() -> bytes:
    """The HMAC key, from Secrets Manager (template: CursorSecret, `CURSOR_SECRET_ARN`): never in
    code, never in the function's configuration. Read at the first cursor, then kept for the process."""
    return _stored_secret(settings().cursor_secret_arn)


@cache
def _stored_secret(arn: str) -> bytes:
    from shared.platform import aws

    return str(aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]).encode("utf-8")


def _signature(merchant_id: str, payload: bytes) -> str:
    mac = hmac.new(_secret(), merchant_id.encode("utf-8") + b"\x00" + payload, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode("ascii")


# The list a cursor belongs to travels in the signed payload, beside the position.
_SCOPE = "~list"


def list_scope(*parts: Any) -> str:
    """A short, stable name of a list from what defines it (index, key condition, or a name)."""
    text = json.dumps(parts, separators=(",", ":"), sort_keys=True, default=str)
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode("utf-8")).digest()[:9]).decode("ascii")


def query_scope(key_condition: ConditionBase, index: keys.Index | None) -> str:
    """The scope of a Query's list: its index and its whole key condition (partition and range)."""
    built = ConditionExpressionBuilder().build_expression(key_condition, is_key_condition=True)
    return list_scope(index.name if index else None, built.condition_expression,
                      built.attribute_name_placeholders, built.attribute_value_placeholders)


def encode_cursor(merchant_id: str, position: Mapping[str, Any], *, scope: str = "") -> str:
    """`scope`: the list's name (`list_scope`, `query_scope`); a cursor decodes only with it."""
    signed = {**position, _SCOPE: scope} if scope else dict(position)
    payload = json.dumps(signed, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")
    body = base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")
    return f"{body}.{_signature(merchant_id, payload)}"


def decode_cursor(merchant_id: str, cursor: str, *, scope: str | None = None) -> dict[str, Any]:
    """The position of a cursor signed for this merchant; given `scope`, only of that list.
    Without `scope` the position is read whatever list gave it (callers then check it, or hand it
    to `query_page`, which checks its own scope)."""
    try:
        body, signature = cursor.rsplit(".", 1)
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError) as exc:
        raise Malformed("The cursor is not valid.") from exc
    # compare_digest refuses non-ASCII str (TypeError, a 500): compare bytes so garbage simply fails.
    expected = _signature(merchant_id, payload).encode("ascii")
    if not hmac.compare_digest(signature.encode("utf-8", "replace"), expected):
        raise Malformed("The cursor is not valid.")
    position = json.loads(payload)
    if not isinstance(position, dict):
        raise Malformed("The cursor is not valid.")
    given_scope = position.pop(_SCOPE, "")
    if scope is not None and given_scope != scope:
        raise Malformed("The cursor belongs to another list.")
    return position


def query_all(table: Any, **request: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query matches, following DynamoDB's pages."""
    while True:
        response = table.query(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _position_of(item: Mapping[str, Any], index: keys.Index | None) -> dict[str, Any]:
    attributes = [keys.PK, keys.SK] + ([index.pk, index.sk] if index else [])
    return {name: item[name] for name in attributes if name in item}


Select = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def query_limited(table: Any, *, key_condition: ConditionBase, limit: int, start: Mapping[str, Any] | None = None,
                  index: keys.Index | None = None, newest_first: bool = True,
                  filter_expression: ConditionBase | None = None,
                  keep: Callable[[dict[str, Any]], bool] | None = None, select: Select | None = None,
                  read_budget: int | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """At most `limit` items after the position `start`, following DynamoDB pages when a filter
    (or `keep`, or `select`) thins them out; with the position of the last one when more follow
    (else None). `select` sees each page of items at once and answers those kept, in order (one
    batch read per page instead of one per item). After `read_budget` items read the page ends
    early, with the position of the last item read: a rare match costs many pages, never one
    unbounded request."""
    request: dict[str, Any] = {"KeyConditionExpression": key_condition, "ScanIndexForward": not newest_first}
    if index:
        request["IndexName"] = index.name
    if filter_expression is not None:
        request["FilterExpression"] = filter_expression
    position = dict(start) if start else None
    items: list[dict[str, Any]] = []
    read = 0
    while True:
        request["Limit"] = limit + 1 - len(items)
        if position:
            request["ExclusiveStartKey"] = position
        response = table.query(**request)
        page = [item for item in response.get("Items", []) if keep is None or keep(item)]
        read += len(response.get("Items", []))
        items.extend(select(page) if select is not None and page else page)
        position = response.get("LastEvaluatedKey")
        if len(items) > limit or not position:
            break
        if read_budget is not None and read >= read_budget:
            return items, dict(position)
    if len(items) > limit:
        return items[:limit], _position_of(items[limit - 1], index)
    return items, None


def query_page(table: Any, merchant_id: str, *, key_condition: ConditionBase, index: keys.Index | None = None,
               limit: int = DEFAULT_LIMIT, cursor: str | None = None, newest_first: bool = True,
               filter_expression: ConditionBase | None = None,
               keep: Callable[[dict[str, Any]], bool] | None = None, select: Select | None = None,
               read_budget: int | None = None) -> Page:
    """One page of at most `limit` items, with a cursor (signed, bound to this list) to the next."""
    scope = query_scope(key_condition, index)
    start = decode_cursor(merchant_id, cursor, scope=scope) if cursor else None
    items, position = query_limited(table, key_condition=key_condition, limit=limit, start=start, index=index,
                                    newest_first=newest_first, filter_expression=filter_expression, keep=keep,
                                    select=select, read_budget=read_budget)
    return Page(items, encode_cursor(merchant_id, position, scope=scope) if position is not None else None)


def page_of_read_list(merchant_id: str, items: Sequence[T], position_of: Callable[[T], str], *, limit: int,
                      cursor: str | None, scope: str) -> tuple[list[T], str | None]:
    """One page of a short list read whole (a merchant's API keys, an order's refunds), so that
    every list takes `limit` and `cursor` alike. `items` come sorted by `position_of` (text, each
    unique): the cursor, signed and bound to `scope`, names the last item given, and the next page
    starts after it even when that item has gone meanwhile."""
    start = 0
    if cursor:
        after = decode_cursor(merchant_id, cursor, scope=scope).get("after")
        if not isinstance(after, str):
            raise Malformed("The cursor is not valid.")
        start = next((n for n, item in enumerate(items) if position_of(item) > after), len(items))
    page = list(items[start:start + limit])
    more = start + limit < len(items)
    return page, encode_cursor(merchant_id, {"after": position_of(page[-1])}, scope=scope) if more else None
