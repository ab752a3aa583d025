"""Reading untrusted JSON bodies (API requests and carrier webhooks) without letting their shape
turn into a 500.

Python's parser recurses once per nesting level: about 1,000 levels raise RecursionError, and
depths below that still overflow later recursive code (pydantic, boto3's serialiser, json.dumps).
DynamoDB itself stores at most 32 levels, so nothing we keep ever needs deeper input.
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import Malformed

MAX_JSON_DEPTH = 32


class TooDeep(Malformed):
    """A JSON body nested deeper than MAX_JSON_DEPTH (400)."""

    def __init__(self) -> None:
        super().__init__(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")


def load_json(data: str | bytes) -> Any:
    """`json.loads`, refusing bodies nested deeper than MAX_JSON_DEPTH with `TooDeep`. Invalid
    JSON raises json.JSONDecodeError (or UnicodeDecodeError for bytes), as json.loads does."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise TooDeep() from None
    if _containers_at_most(data, MAX_JSON_DEPTH):
        return value  # fewer brackets than levels allowed: it cannot be too deep, skip the walk
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise TooDeep()
    return value


def _containers_at_most(data: str | bytes, limit: int) -> bool:
    if isinstance(data, bytes):
        return data.count(b"[") + data.count(b"{") <= limit
    return data.count("[") + data.count("{") <= limit


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Iterative (a recursive walk would overflow on the very input it guards against)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
