"""Table access: the one table every store reads and writes (the stage's, unless a test or a
benchmark hands another)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.dynamo import keys
from shared.dynamo.paging import query_all
from shared.errors import NotFound
from shared.platform import aws


class TableStore:
    """Base of a domain's store: holds the table resource."""

    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    @property
    def table(self) -> Any:
        return self._table

    def required_item(self, key: Mapping[str, str], missing: str) -> dict[str, Any]:
        """The item at `key`; `NotFound(missing)` when there is none."""
        item = self._table.get_item(Key=dict(key)).get("Item")
        if not item:
            raise NotFound(missing)
        return dict(item)

    def items_under(self, pk: str, sk_prefix: str) -> list[dict[str, Any]]:
        """Every item of partition `pk` whose sort key starts with `sk_prefix`."""
        return list(query_all(self._table, KeyConditionExpression=Key(keys.PK).eq(pk) & Key(keys.SK).begins_with(sk_prefix)))
