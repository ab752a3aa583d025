"""SQS event source mappings (`Type: SQS`): batches of messages, partial batch failures, filters."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from local.event_patterns import parse_patterns, passes_filters
from local.functions import EventSource, FunctionSpec
from local.invoker import Invoker
from local.moto_server import Aws
from local.pollers import MESSAGING_ACTIVITY, Poller
from local.resources import truthy

log = logging.getLogger("local.queues")


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {name: _attribute(value) for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    return {"stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []), "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value["DataType"]}


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    """Filters see a JSON body as an object, any other body as a string."""
    try:
        return {**record, "body": json.loads(record["body"])}
    except ValueError:
        return record


class QueueConsumer(Poller):
    polls_the_engine = True
    activity = MESSAGING_ACTIVITY  # table writes give it no work

    def __init__(self, invoker: Invoker, aws: Aws, function: FunctionSpec, source: EventSource,
                 stop: threading.Event) -> None:
        super().__init__(f"sqs:{function.logical_id}.{source.name}", stop)
        props = source.properties
        self.enabled = truthy(props.get("Enabled", True))
        self._invoker, self._aws, self._function = invoker, aws, function
        self._queue_arn: str = props["Queue"]
        self._queue_url = aws.queue_url(self._queue_arn)
        self._batch_size = min(int(props.get("BatchSize", 10)), 10)
        self._patterns = parse_patterns(props.get("FilterCriteria"))
        self._report_failures = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])

    def poll_once(self) -> bool:
        sqs = self._aws.client("sqs")
        messages = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=self._batch_size,
                                       WaitTimeSeconds=0, AttributeNames=["All"],
                                       MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return False
        records = [sqs_record(message, self._queue_arn, self._aws.region) for message in messages]
        wanted = [record for record in records if passes_filters(self._patterns, _filterable(record))]
        failed = self._invoke(wanted) if wanted else set()
        # Filtered-out messages are deleted, as Lambda does; failed ones reappear after the visibility timeout.
        done = [record for record in records if record["messageId"] not in failed]
        for record in done:
            sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=record["receiptHandle"])
        return True

    def _invoke(self, records: list[dict[str, Any]]) -> set[str]:
        """Message ids to leave on the queue."""
        every = {record["messageId"] for record in records}
        try:
            result = self._invoker.invoke(self._function, {"Records": records})
        except Exception:
            log.exception("%s failed on %d message(s)", self.name, len(records))
            return every
        if not self._report_failures or not isinstance(result, dict):
            return set()
        failed = {failure.get("itemIdentifier") for failure in result.get("batchItemFailures") or []}
        return failed if failed <= every else every


def queue_pollers(functions: dict[str, FunctionSpec], invoker: Invoker, aws: Aws,
                  stop: threading.Event) -> list[Poller]:
    consumers = [QueueConsumer(invoker, aws, function, source, stop)
                 for function in functions.values() for source in function.events_of("SQS")]
    return [consumer for consumer in consumers if consumer.enabled]
