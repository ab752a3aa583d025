"""Customer CSV imports under DynamoDB faults mid-import: the worker invocation fails, and its
re-run (Lambda's retry of the S3 notification, or a redelivered notification) ends with every row
applied exactly once: no duplicate customer, one record per username and email, the import's
counters right.

The walk fails, for each kind of DynamoDB request the import makes, its middle occurrence, at the
call layer (what the worker sees once botocore's retries are spent), as a refusal and as a lost
answer (the request applied, the worker not knowing it).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from functions.customers import importer
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from tests.component.customer_support import all_customers, csv_bytes, person, report, run_worker, start_import
from tests.faults import DYNAMODB_THROTTLED, Error, FaultInjector, LostAnswer

ROWS = 60
ERRORS: dict[str, Error] = {"throttled": DYNAMODB_THROTTLED, "timeout": LostAnswer()}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "CHUNK_ROWS", 25)  # three chunks


def the_file() -> bytes:
    return csv_bytes([person(f"user{n}", f"user{n}@example.com") for n in range(ROWS)] + [person("", "bad")])


def points(faults: FaultInjector) -> list[tuple[str, int]]:
    """A clean import, traced: for each DynamoDB operation it uses, its middle occurrence."""
    merchant = MerchantRepository().create("Rehearsal").id
    job = start_import(merchant, the_file()).json()
    faults.clear()
    run_worker(merchant, job["id"])
    seen = Counter(c.operation for c in faults.calls if c.service == "dynamodb")
    return [(operation, n // 2 + 1) for operation, n in sorted(seen.items())]


@pytest.mark.parametrize("error", list(ERRORS), ids=list(ERRORS))
def test_a_fault_mid_import_then_a_rerun_applies_each_row_exactly_once(
        aws_env: dict[str, Any], faults: FaultInjector, error: str) -> None:
    walk = points(faults)
    assert {"BatchWriteItem", "BatchGetItem", "UpdateItem"} <= {op for op, _ in walk}
    for operation, nth in walk:
        where = f"fault at {operation} #{nth}"
        merchant = MerchantRepository().create(f"Atelier {operation}").id
        job = start_import(merchant, the_file()).json()
        faults.clear()
        fault = faults.fail("dynamodb", operation, ERRORS[error], on_call=nth)
        try:
            run_worker(merchant, job["id"])
        except Exception:
            failed = True
        else:
            failed = False
        assert fault.hits == 1, where
        assert failed, where
        # Lambda retries an asynchronous invocation after about a minute, then two more: by then a
        # claim fence the failed run could not release (its lease is 180 s) is free again.
        clock.advance(timedelta(minutes=3))
        run_worker(merchant, job["id"])  # Lambda's retry
        run_worker(merchant, job["id"])  # and a duplicate notification, for good measure
        result = report(merchant, job["id"])
        assert (result["status"], result["rows_processed"], result["created"], result["updated"],
                result["skipped"]) == ("done", ROWS + 1, ROWS, 0, 1), (where, result)
        customers = all_customers(merchant)
        assert len(customers) == ROWS, where
        assert sorted(c["username"] for c in customers) == sorted(f"user{n}" for n in range(ROWS)), where
        assert len({c["email"] for c in customers}) == ROWS, where
