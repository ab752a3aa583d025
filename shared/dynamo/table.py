"""Table access: the one table every store reads and writes (the stage's, unless a test or a
benchmark hands another)."""

from __future__ import annotations

from typing import Any

from shared.platform import aws


class TableStore:
    """Base of a domain's store: holds the table resource."""

    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    @property
    def table(self) -> Any:
        return self._table
