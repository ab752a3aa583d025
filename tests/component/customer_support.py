"""Helpers of the customer component tests: API calls, CSV files as spreadsheets write them, the
import worker run from its S3 notification, an in-memory order store for merges, and a moto whose
conditional writes are atomic (as DynamoDB's are) for the concurrency tests."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from functions.customers.handler import lambda_handler as customers_api
from functions.customers.import_handler import lambda_handler as import_worker
from shared.customers.imports import object_key
from shared.customers.model import CUSTOMER_CSV_HEADER
from shared.platform.settings import settings
from tests.apigw import ApiResponse, api_event, call

HEADER = list(CUSTOMER_CSV_HEADER)


def api(merchant: str, method: str, resource: str, *, body: Any = None, query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None, **path: str) -> ApiResponse:
    return call(customers_api, api_event(method, resource, path_params=path or None, body=body, query=query,
                                         headers=headers, merchant_id=merchant))


def create(merchant: str, **body: Any) -> ApiResponse:
    return api(merchant, "POST", "/v1/customers", body=body)


def get(merchant: str, customer_id: str) -> ApiResponse:
    return api(merchant, "GET", "/v1/customers/{customer_id}", customer_id=customer_id)


def listing(merchant: str, **query: str) -> ApiResponse:
    return api(merchant, "GET", "/v1/customers", query=query)


def address(**overrides: Any) -> dict[str, Any]:
    return {"address_1": "12 rue des Lilas", "city": "Lyon", "postal_code": "69003", "country": "FR", **overrides}


def row(**cells: str) -> dict[str, str]:
    """A CSV row by header name; absent cells are blank."""
    unknown = set(cells) - set(HEADER)
    assert not unknown, unknown
    return {name: cells.get(name, "") for name in HEADER}


def person(username: str = "", email: str = "", **cells: str) -> dict[str, str]:
    """A row that can create a record (name and full French address)."""
    defaults = {"First Name": "Camille", "Last Name": "Dupont", "Address Line 1": "12 rue des Lilas",
                "City": "Lyon", "Postal Code": "69003", "Country Code": "FR"}
    return row(**{"Username": username, "Email": email, **defaults, **cells})


def csv_bytes(rows: Sequence[dict[str, str] | Sequence[str]], *, header: Sequence[str] = HEADER, bom: bool = True,
              crlf: bool = True, delimiter: str = ",") -> bytes:
    """As Excel saves "CSV UTF-8": BOM, CRLF, quotes only where needed (delimiters, quotes, newlines)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n", delimiter=delimiter)
    writer.writerow(header)
    for values in rows:
        writer.writerow([values.get(name, "") for name in header] if isinstance(values, dict) else values)
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


@dataclass
class LongContext:
    """A worker invocation with most of its 15 minutes ahead."""

    function_name: str = "customer-import"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:customer-import"
    aws_request_id: str = "req"
    remaining_ms: int = 14 * 60 * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    """`sam local generate-event s3 put` shape (the key URL-encoded, as S3 sends it)."""
    from urllib.parse import quote_plus

    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
                         "eventTime": "2026-03-10T12:00:00.000Z", "eventName": "ObjectCreated:Put",
                         "s3": {"s3SchemaVersion": "1.0", "configurationId": "customer-imports",
                                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                                "object": {"key": quote_plus(key, safe="/"), "size": 1, "sequencer": "0"}}}]}


def start_import(merchant: str, data: bytes, blank_cells: str | None = None, tags: str | None = None) -> ApiResponse:
    query = {name: value for name, value in (("blank_cells", blank_cells), ("tags", tags)) if value}
    return api(merchant, "POST", "/v1/customer-imports", body=data.decode("utf-8"),
               headers={"Content-Type": "text/csv"}, query=query or None)


def run_worker(merchant: str, import_id: str, context: LongContext | None = None) -> None:
    """What the import bucket's notification does once the file is stored."""
    import_worker(s3_event(settings().import_bucket, object_key(merchant, import_id)), context or LongContext())


def import_file(merchant: str, data: bytes, blank_cells: str | None = None, tags: str | None = None) -> dict[str, Any]:
    """POST the file, run the worker, and answer the import's report."""
    started = start_import(merchant, data, blank_cells, tags)
    assert started.status == 202, started.body
    run_worker(merchant, started.json()["id"])
    return report(merchant, started.json()["id"])


def report(merchant: str, import_id: str) -> dict[str, Any]:
    response = api(merchant, "GET", "/v1/customer-imports/{import_id}", import_id=import_id)
    assert response.status == 200, response.body
    return response.json()


def all_customers(merchant: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = listing(merchant, limit="100", **({"cursor": cursor} if cursor else {})).json()
        found.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return found


class FakeOrders:
    """The orders' side of a merge (`order_ids_for_customer`, `relink_customer`), in memory,
    counting calls so tests see the batching."""

    def __init__(self) -> None:
        self.customer_of: dict[str, str] = {}
        self.relink_calls = 0
        self._lock = threading.Lock()

    def add(self, customer_id: str, count: int) -> list[str]:
        ids = [f"ord_{customer_id[-6:]}_{n:05d}" for n in range(count)]
        for order_id in ids:
            self.customer_of[order_id] = customer_id
        return ids

    def order_ids_for_customer(self, merchant_id: str, customer_id: str) -> Iterator[str]:
        yield from [o for o, c in sorted(self.customer_of.items()) if c == customer_id]

    def relink_customer(self, merchant_id: str, order_id: str, from_customer_id: str, to_customer_id: str) -> bool:
        with self._lock:
            self.relink_calls += 1
            current = self.customer_of.get(order_id)
            if current == to_customer_id:
                return True
            if current != from_customer_id:
                return False
            self.customer_of[order_id] = to_customer_id
            return True

    def orders_of(self, customer_id: str) -> list[str]:
        return sorted(o for o, c in self.customer_of.items() if c == customer_id)


@contextlib.contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """moto checks a condition and writes in two Python steps, so two threads can both pass a check
    DynamoDB would let only one pass. One lock around moto's item operations restores DynamoDB's
    per-request atomicity; the code under test keeps all its concurrency."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    names = ("put_item", "update_item", "delete_item", "get_item", "transact_write_items")
    originals = {name: getattr(DynamoDBBackend, name) for name in names}

    def locked(original: Any) -> Any:
        @functools.wraps(original)
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)

        return run

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, locked(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)
