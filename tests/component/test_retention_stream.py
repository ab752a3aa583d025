"""The TTL path of retention against moto: timers DynamoDB TTL removed, handed to the retention
function as the table's stream delivers them (moto never expires items: the removal is done here
as AWS does it, old image and `userIdentity` of the TTL service included), the FilterCriteria of
template.yaml, partial batch failures, idempotency and poison records."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from local.event_patterns import parse_patterns, passes_filters
from shared.dynamo import keys
from shared.platform import aws, clock
from tests.component.retention_support import (
    create_shipment,
    deliver,
    due_timers,
    expire,
    get_shipment,
    new_merchant,
    run_schedule,
    timers,
    track,
    travel,
    ttl_removal,
)
from tests.template_resources import template


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


def stored_version(merchant: str, shipment_id: str) -> int:
    return int(aws.table().get_item(Key=keys.shipment(merchant, shipment_id))["Item"]["version"])


# --- the FilterCriteria: only TTL's deletions of timers reach the function -------------------------
def _retention_event(name: str) -> dict[str, Any]:
    events: dict[str, Any] = template()["Resources"]["RetentionFunction"]["Properties"]["Events"]
    return dict(events[name]["Properties"])


def test_the_stream_filter_passes_ttl_deletions_of_timers_only(merchant: str) -> None:
    patterns = parse_patterns(_retention_event("ExpiredTimers")["FilterCriteria"])
    shipment = create_shipment(merchant)
    timer = timers(merchant, shipment["id"])["REDACT"]
    by_ttl = ttl_removal(timer)
    by_someone = {**by_ttl, "userIdentity": None}
    del by_someone["userIdentity"]
    orphan = ttl_removal({"pk": "M#m#ORPHAN#1Z", "sk": "EVENT#2026-03-10#abc", "ttl": 1})
    inserted = {**by_ttl, "eventName": "INSERT"}
    assert passes_filters(patterns, by_ttl)
    assert not passes_filters(patterns, by_someone)  # the schedule deleting a timer it handled
    assert not passes_filters(patterns, orphan)  # other TTL'd items: orphans, export jobs, idempotency keys
    assert not passes_filters(patterns, inserted)


def test_the_stream_mapping_bounds_retries_bisects_and_has_a_failure_destination() -> None:
    source = _retention_event("ExpiredTimers")
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 0 < int(source["MaximumRetryAttempts"]) <= 10 and source["BisectBatchOnFunctionError"] is True
    assert source["DestinationConfig"]["OnFailure"]["Type"] == "SQS"


def test_the_schedule_runs_at_least_every_24_hours_and_is_named_retention() -> None:
    schedule = _retention_event("RetentionSchedule")
    assert schedule["Name"] == "retention" and schedule["ScheduleExpression"] == "rate(1 hour)"


# --- the consumer ---------------------------------------------------------------------------------
def test_a_timer_removed_by_ttl_runs_its_action(merchant: str) -> None:
    shipment = create_shipment(merchant)
    travel(days=90)
    answer = deliver(expire([timers(merchant, shipment["id"])["REDACT"]]))
    assert answer == {"batchItemFailures": []}
    assert get_shipment(merchant, shipment["id"]).json()["recipient"]["last_name"] == "redacted"


def test_the_consumer_ignores_what_is_not_a_ttl_removal_of_a_timer(merchant: str) -> None:
    shipment = create_shipment(merchant)
    travel(days=90)
    timer = timers(merchant, shipment["id"])["REDACT"]
    user_delete = ttl_removal(timer)
    user_delete["userIdentity"] = {"type": "User", "principalId": "someone"}
    assert deliver([user_delete, {**ttl_removal(timer), "eventName": "MODIFY"}]) == {"batchItemFailures": []}
    assert get_shipment(merchant, shipment["id"]).json()["recipient"]["last_name"] == "Dupont"


def test_the_same_removal_delivered_twice_changes_nothing_the_second_time(merchant: str) -> None:
    shipment = create_shipment(merchant)
    travel(days=90)
    record = expire([timers(merchant, shipment["id"])["REDACT"]])[0]
    deliver([record])
    version, after = stored_version(merchant, shipment["id"]), get_shipment(merchant, shipment["id"]).json()
    travel(days=90, hours=2)
    assert deliver([record]) == {"batchItemFailures": []}
    assert stored_version(merchant, shipment["id"]) == version
    assert get_shipment(merchant, shipment["id"]).json() == after


def test_the_stream_and_the_schedule_handling_the_same_timer_do_the_work_once(merchant: str) -> None:
    shipment = create_shipment(merchant)
    travel(days=91)
    records = [ttl_removal(t) for t in due_timers(merchant, shipment["id"])]  # seen by both paths
    run_schedule()
    version = stored_version(merchant, shipment["id"])
    assert deliver(records) == {"batchItemFailures": []}
    assert stored_version(merchant, shipment["id"]) == version


def test_ttl_lag_is_caught_up_by_the_schedule(merchant: str) -> None:
    shipments = [create_shipment(merchant) for _ in range(3)]
    travel(days=92)
    # TTL removed the first shipment's timers only; the others' are days late (TTL can lag).
    deliver(expire(due_timers(merchant, shipments[0]["id"])))
    assert get_shipment(merchant, shipments[1]["id"]).json()["status"] == "pre_transit"
    summary = run_schedule()
    assert summary["done"] == 4 and summary["failed"] == 0
    for shipment in shipments:
        after = get_shipment(merchant, shipment["id"]).json()
        assert (after["status"], after["recipient"]["last_name"]) == ("archived", "redacted")
        assert set(timers(merchant, shipment["id"])) == {"DELETE"}


def test_a_postponed_deletion_removed_by_ttl_is_armed_again(merchant: str) -> None:
    shipment = create_shipment(merchant)
    track(merchant, shipment, "in_transit")
    travel(days=470)
    timer = timers(merchant, shipment["id"])["DELETE"]  # archive not run: still in transit
    assert deliver(expire([timer])) == {"batchItemFailures": []}
    again = timers(merchant, shipment["id"])["DELETE"]
    assert int(again["ttl"]) == clock.epoch_seconds() + 55 * 60
    assert again["due_pk"] == f"DUE#{clock.now() + timedelta(minutes=55):%Y-%m}"
    assert get_shipment(merchant, shipment["id"]).status == 200


def test_a_poison_record_fails_alone_and_the_others_are_handled(merchant: str) -> None:
    first, second = create_shipment(merchant), create_shipment(merchant)
    travel(days=90)
    good = expire([timers(merchant, first["id"])["REDACT"], timers(merchant, second["id"])["REDACT"]])
    poison = ttl_removal({"pk": keys.shipment_partition(merchant, "shp_x"), "sk": "TIMER#REDACT", "ttl": 5})
    answer = deliver([good[0], poison, good[1]])
    assert answer == {"batchItemFailures": [{"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}
    for shipment in (first, second):
        assert get_shipment(merchant, shipment["id"]).json()["recipient"]["last_name"] == "redacted"


def test_a_failing_action_on_the_stream_is_reported_and_its_timer_rearmed(merchant: str,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    from functions.retention import service

    shipment, other = create_shipment(merchant), create_shipment(merchant)
    real = service.ACTIONS[service.TimerAction.redact]

    def broken(repos: Any, merchant_id: str, shipment_id: str, *rest: Any) -> Any:
        if shipment_id == shipment["id"]:
            raise RuntimeError("camille@example.fr could not be redacted")
        return real(repos, merchant_id, shipment_id, *rest)

    monkeypatch.setitem(service.ACTIONS, service.TimerAction.redact, broken)
    travel(days=90)
    record, fine = expire([timers(merchant, shipment["id"])["REDACT"], timers(merchant, other["id"])["REDACT"]])
    answer = deliver([record, fine])
    assert answer == {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
    assert get_shipment(merchant, other["id"]).json()["recipient"]["last_name"] == "redacted"
    rearmed = timers(merchant, shipment["id"])["REDACT"]
    assert int(rearmed["ttl"]) == clock.epoch_seconds() + 3600 and int(rearmed["attempts"]) == 1
    logged = " ".join(f"{r.getMessage()} {r.__dict__} {r.exc_text or ''}" for r in caplog.records)
    assert "camille@example.fr" not in logged and shipment["id"] in logged


def test_a_whole_batch_of_failures_raises_without_personal_data(merchant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from functions.retention import service

    shipment = create_shipment(merchant)

    def broken(*_: Any) -> Any:
        raise RuntimeError("Dupont, 12 rue des Lilas")

    monkeypatch.setitem(service.ACTIONS, service.TimerAction.redact, broken)
    travel(days=90)
    with pytest.raises(BatchProcessingError) as raised:
        deliver(expire([timers(merchant, shipment["id"])["REDACT"]]))
    assert "Dupont" not in str(raised.value) and "Lilas" not in json.dumps(str(raised.value.__dict__))
