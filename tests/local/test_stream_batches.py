"""Stream consumers retry like Lambda's event source mapping: from the reported failure, bisecting
on errors, and sending what exhausts its retries to the on-failure destination."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from local.functions import EventSource, FunctionSpec
from local.streams import StreamConsumer

STREAM = "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/label"
DESTINATION = "arn:aws:sqs:eu-west-1:123456789012:failures"


class FakeInvoker:
    def __init__(self, behaviour: Callable[[list[str]], Any]) -> None:
        self.behaviour = behaviour
        self.batches: list[list[str]] = []

    def invoke(self, function: FunctionSpec, event: dict[str, Any]) -> Any:
        numbers = [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
        self.batches.append(numbers)
        return self.behaviour(numbers)


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:
        self.sent.append(json.loads(MessageBody))


class FakeAws:
    def __init__(self) -> None:
        self.sqs = FakeSqs()

    def client(self, service: str) -> FakeSqs:
        return self.sqs

    def queue_url(self, arn: str) -> str:
        return "http://queue"


def _consumer(invoker: FakeInvoker, aws: FakeAws, **properties: Any) -> StreamConsumer:
    function = FunctionSpec("Fn", "fn", "arn:aws:lambda:eu-west-1:123456789012:function:fn", "m", "h", 3, 128, {})
    source = EventSource("Changes", "DynamoDB", {
        "Stream": STREAM, "BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": DESTINATION}}, **properties})
    consumer = StreamConsumer(invoker, aws, function, source, threading.Event())  # type: ignore[arg-type]
    for number in ("1", "2", "3", "4"):
        consumer.offer("shard-1", {"eventName": "INSERT", "dynamodb": {
            "SequenceNumber": number, "ApproximateCreationDateTime": 1_700_000_000, "Keys": {}}})
    return consumer


def test_retry_starts_at_the_reported_failure() -> None:
    answers = iter([{"batchItemFailures": [{"itemIdentifier": "3"}]}, {"batchItemFailures": []}])
    invoker = FakeInvoker(lambda numbers: next(answers))
    assert _consumer(invoker, FakeAws(), MaximumRetryAttempts=2).poll_once()
    assert invoker.batches == [["1", "2", "3", "4"], ["3", "4"]]


def test_unknown_item_identifier_fails_the_whole_batch() -> None:
    answers = iter([{"batchItemFailures": [{"itemIdentifier": "nope"}]}, None])
    invoker = FakeInvoker(lambda numbers: next(answers))
    _consumer(invoker, FakeAws(), MaximumRetryAttempts=2).poll_once()
    assert invoker.batches == [["1", "2", "3", "4"], ["1", "2", "3", "4"]]


def test_errors_bisect_the_batch_until_the_bad_record_is_alone() -> None:
    def crash_on_three(numbers: list[str]) -> None:
        if "3" in numbers:
            raise RuntimeError("bad record")

    invoker, aws = FakeInvoker(crash_on_three), FakeAws()
    _consumer(invoker, aws, MaximumRetryAttempts=2, BisectBatchOnFunctionError=True).poll_once()
    assert invoker.batches == [["1", "2", "3", "4"], ["1", "2"], ["3", "4"], ["3"], ["4"]]
    (failure,) = aws.sqs.sent
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == "3"
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["responseContext"]["functionError"] == "Unhandled"


def test_without_retries_the_first_failure_goes_to_the_destination() -> None:
    invoker, aws = FakeInvoker(lambda numbers: {"batchItemFailures": [{"itemIdentifier": "2"}]}), FakeAws()
    _consumer(invoker, aws, MaximumRetryAttempts=0).poll_once()
    assert invoker.batches == [["1", "2", "3", "4"]]
    info = aws.sqs.sent[0]["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("2", "4", 3)
    assert info["streamArn"] == STREAM and info["shardId"] == "shard-1"


def test_records_not_matching_the_filter_are_never_delivered() -> None:
    invoker = FakeInvoker(lambda numbers: None)
    pattern = '{"eventName": ["REMOVE"]}'
    consumer = _consumer(invoker, FakeAws(), FilterCriteria={"Filters": [{"Pattern": pattern}]})
    assert not consumer.poll_once()
    assert invoker.batches == []
