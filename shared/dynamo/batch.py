"""Batch reads and writes within DynamoDB's limits (25 writes, 100 reads per request), with the
unprocessed rest retried under the one retry policy (`shared.dynamo.retry`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from typing import Any

from shared.dynamo import keys
from shared.dynamo.retry import attempts
from shared.errors import Unavailable

WRITE_LIMIT, READ_LIMIT = 25, 100
TRIES = 10


def _unique(requests: Iterable[tuple[tuple[str, str], dict[str, Any]]]) -> list[dict[str, Any]]:
    # A batch may not name one key twice; the last request for a key wins, as a sequence of writes would.
    return list(dict(requests).values())


def write(table: Any, *, puts: Iterable[Mapping[str, Any]] = (), deletes: Iterable[Mapping[str, Any]] = ()) -> None:
    """Puts and deletes, unconditional, in batches of 25."""
    requests = _unique([((p[keys.PK], p[keys.SK]), {"PutRequest": {"Item": dict(p)}}) for p in puts]
                       + [((d[keys.PK], d[keys.SK]), {"DeleteRequest": {"Key": dict(d)}}) for d in deletes])
    for start in range(0, len(requests), WRITE_LIMIT):
        pending: dict[str, Any] = {table.name: requests[start:start + WRITE_LIMIT]}
        for _ in attempts(TRIES):
            pending = table.meta.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
        else:
            raise Unavailable("DynamoDB kept throttling writes; retry later.")


def put_all(table: Any, puts: Iterable[Mapping[str, Any]], *, chunk: int = 500) -> int:
    """Puts a stream of items (a backfill over a whole merchant) `chunk` at a time, so memory stays
    bounded whatever the stream's length; the number of items put."""
    written, pending = 0, []
    for item in puts:
        pending.append(item)
        if len(pending) >= chunk:
            write(table, puts=pending)
            written, pending = written + len(pending), []
    write(table, puts=pending)
    return written + len(pending)


def get(table: Any, item_keys: Iterable[Mapping[str, Any]], *, consistent: bool = False,
        executor: Executor | None = None) -> list[dict[str, Any]]:
    """The items that exist among `item_keys`, in no particular order; the requests of 100 keys run
    on `executor` when one is given (a bulk reader's own threads)."""
    unique = list({(k[keys.PK], k[keys.SK]): dict(k) for k in item_keys}.values())
    pages = [unique[start:start + READ_LIMIT] for start in range(0, len(unique), READ_LIMIT)]

    def read(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {table.name: {"Keys": page, "ConsistentRead": consistent}}
        for _ in attempts(TRIES):
            response = table.meta.client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(table.name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise Unavailable("DynamoDB kept throttling reads; retry later.")

    results = executor.map(read, pages) if executor is not None and len(pages) > 1 else map(read, pages)
    return [item for page in results for item in page]
