"""Retention under DynamoDB faults mid-sweep: the schedule's run records the failure (the timer is
re-armed with back-off) or stops, and the next run resumes and finishes; nothing is left
unredacted, and what was redacted is never redacted again in a way that loses data (the first name
stays, `redacted_at` keeps its first time).

Faults are injected at the call layer (what the function sees once botocore's retries are spent),
on the n-th request of a kind in a sweep over three shipments whose redaction and automatic
archive are both due.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.platform import clock
from tests.component.retention_support import create_shipment, get_shipment, new_merchant, run_schedule, timers, travel
from tests.faults import DYNAMODB_THROTTLED, Error, FaultInjector, LostAnswer

# (request, which one, error): reads refused, writes refused or applied with their answer lost.
POINTS = [("GetItem", 3, "throttled"), ("Query", 3, "throttled"), ("PutItem", 2, "timeout"),
          ("PutItem", 4, "throttled"), ("DeleteItem", 2, "timeout"), ("DeleteItem", 3, "throttled")]
ERRORS: dict[str, Error] = {"throttled": DYNAMODB_THROTTLED, "timeout": LostAnswer()}
REDACTED_RECIPIENT = {"first_name": "Camille", "last_name": "redacted", "address_1": "redacted",
                      "postal_code": "redacted", "phone": "redacted", "email": "redacted", "city": "Lyon"}


def assert_done(merchant: str, shipments: list[dict[str, Any]]) -> None:
    for made in shipments:
        shown = get_shipment(merchant, made["id"]).json()
        assert {k: shown["recipient"][k] for k in REDACTED_RECIPIENT} == REDACTED_RECIPIENT, made["id"]
        assert shown["status"] == "archived", made["id"]
        assert not {"REDACT", "ARCHIVE"} & set(timers(merchant, made["id"])), made["id"]


@pytest.mark.parametrize(("operation", "nth", "error"), POINTS, ids=[f"{op}-{n}-{e}" for op, n, e in POINTS])
def test_a_fault_mid_sweep_is_finished_by_a_later_run(aws_env: dict[str, Any], faults: FaultInjector,
                                                      operation: str, nth: int, error: str) -> None:
    merchant = new_merchant()
    shipments = [create_shipment(merchant) for _ in range(3)]
    travel(days=91)
    faults.clear()
    fault = faults.fail("dynamodb", operation, ERRORS[error], on_call=nth)
    try:
        first = run_schedule()
    except Exception:
        first = None
    assert fault.hits == 1
    redacted_at = {s["id"]: get_shipment(merchant, s["id"]).json()["redacted_at"] for s in shipments}
    clock.advance(timedelta(hours=2))  # the back-off: due again an hour later, and the hourly schedule
    second = run_schedule()
    assert second["failed"] == 0 and second["complete"], (first, second)
    assert_done(merchant, shipments)
    for made in shipments:  # a redaction done by the first run keeps its time
        if redacted_at[made["id"]] is not None:
            assert get_shipment(merchant, made["id"]).json()["redacted_at"] == redacted_at[made["id"]]
