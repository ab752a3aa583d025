"""The outbox dispatcher (table stream → EventBridge) under PutEvents faults: a record whose
events were not all put on the bus is reported as a batch item failure, so the stream hands it
again; no event is lost; and events already put are not put again when that can be avoided.

What the stream does with a partial failure: Lambda restarts the shard from the lowest failed
sequence number, so every record after a failed one comes again. The dispatcher therefore stops
at the first failed record of a batch (the ones after it are reported failed without being
published), and retries refused entries of a PutEvents answer by themselves before giving up on
the record. What remains at-least-once, by design: a record whose events were partly put (more than
ten events in several PutEvents calls, or entries still refused after the retries) is handed again
whole, and its events already put are put again; consumers are idempotent (notify claims each
email, the export worker claims each run).

Faults are injected at the call layer (what the function sees once botocore's retries are spent).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from boto3.dynamodb.types import TypeSerializer

from functions.outbox.handler import lambda_handler as outbox_handler
from shared.dynamo import keys
from shared.events.catalogue import ExportRequested
from shared.events.outbox import outbox_entry
from tests.apigw import LambdaContext
from tests.faults import EVENTS_THROTTLED, FailedEntries, FaultInjector, LostAnswer

_serializer = TypeSerializer()


@pytest.fixture
def bus(aws_env: dict[str, Any]) -> Any:
    """An SQS queue behind a rule that takes every event of the bus: what was really put."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName=aws_env["EVENT_BUS_NAME"], EventPattern=json.dumps({"source": ["colis"]}))
    events.put_targets(Rule="tap", EventBusName=aws_env["EVENT_BUS_NAME"], Targets=[{"Id": "q", "Arn": arn}])

    def received() -> list[str]:
        seen: list[str] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return sorted(seen)
            for message in messages:
                seen.append(json.loads(message["Body"])["detail"]["export_id"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return received


def record(sequence: int, names: list[str]) -> dict[str, Any]:
    """The stream record of a write that added an outbox entry carrying one event per name."""
    events = [ExportRequested(merchant_id="mer_faults", export_id=n) for n in names]
    item = {**keys.key(f"FAULTS#{sequence}", "ITEM"), "outbox": outbox_entry(*events)}
    image = {name: _serializer.serialize(value) for name, value in item.items()}
    return {"eventID": str(sequence), "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/x",
            "dynamodb": {"Keys": {k: image[k] for k in (keys.PK, keys.SK)}, "NewImage": image,
                         "SequenceNumber": str(sequence), "StreamViewType": "NEW_AND_OLD_IMAGES"}}


def dispatch(records: list[dict[str, Any]]) -> list[str]:
    """The sequence numbers reported failed (every one when the whole batch failed: the
    invocation then fails and Lambda retries the batch)."""
    try:
        answer = outbox_handler({"Records": records}, LambdaContext())
    except BatchProcessingError:
        return [r["dynamodb"]["SequenceNumber"] for r in records]
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def redeliver_from(records: list[dict[str, Any]], failed: list[str]) -> list[dict[str, Any]]:
    """What Lambda hands next: the shard again from the lowest failed sequence number."""
    lowest = min(int(s) for s in failed)
    return [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= lowest]


@pytest.mark.parametrize("error", [EVENTS_THROTTLED, LostAnswer()], ids=["throttled", "timeout"])
def test_a_failed_put_stops_the_batch_there_and_the_retry_puts_the_rest_once(
        bus: Any, faults: FaultInjector, error: Any) -> None:
    records = [record(1, ["a"]), record(2, ["b"]), record(3, ["c"])]
    fault = faults.fail("eventbridge", "PutEvents", error, on_call=2)
    failed = dispatch(records)
    assert fault.hits == 1
    assert failed == ["2", "3"]  # the one that failed, and the one not tried after it
    assert dispatch(redeliver_from(records, failed)) == []
    expected = ["a", "b", "c"] if isinstance(error, type(EVENTS_THROTTLED)) else ["a", "b", "b", "c"]
    # A lost answer means the put happened: that one record's event is put again (at least once).
    assert bus() == expected


def test_refused_entries_are_put_again_by_themselves(bus: Any, faults: FaultInjector) -> None:
    fault = faults.fail("eventbridge", "PutEvents", FailedEntries((1,)))
    assert dispatch([record(1, ["a", "b", "c"])]) == []
    assert fault.hits == 1
    assert bus() == ["a", "b", "c"]  # b once, a and c not put twice


def test_entries_refused_every_time_fail_the_record_and_its_retry_loses_nothing(
        bus: Any, faults: FaultInjector) -> None:
    records = [record(1, ["a", "b"]), record(2, ["c"])]
    first = faults.fail("eventbridge", "PutEvents", FailedEntries((1,)))
    again = faults.fail("eventbridge", "PutEvents", FailedEntries(), on_call=2, times=None)
    failed = dispatch(records)
    assert failed == ["1", "2"] and (first.hits, again.hits) == (1, 2)
    faults.clear()
    assert dispatch(redeliver_from(records, failed)) == []
    assert bus() == ["a", "a", "b", "c"]  # a went out with the failed attempt: at least once


def test_a_record_of_more_than_ten_events_cut_after_its_first_put_loses_nothing(
        bus: Any, faults: FaultInjector) -> None:
    names = [f"e{n:02d}" for n in range(12)]
    faults.fail("eventbridge", "PutEvents", EVENTS_THROTTLED, on_call=2)
    assert dispatch([record(1, names)]) == ["1"]
    assert dispatch([record(1, names)]) == []
    received = bus()
    assert sorted(set(received)) == names and len(received) == 22  # the first ten twice
