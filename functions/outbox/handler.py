"""Table stream consumer: publishes each new outbox entry to the event bus.

A batch stops at its first failed record: Lambda restarts the shard from the lowest failed
sequence number, so records after it come again anyway, and publishing them now would put their
events on the bus twice. They are reported failed without being published.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.outbox import service
from shared.platform.observability import entrypoint
from shared.platform.settings import settings

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class AfterAFailedRecord(Exception):
    """Not published: an earlier record of the batch failed, and the stream hands both again."""


def publish_record(record: DynamoDBRecord) -> None:
    pending = service.pending_events(record.raw_event)
    if pending is not None:
        detail_type, events = pending
        service.publish(detail_type, events, settings().event_bus_name)


@entrypoint()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed: list[bool] = []

    def publish_in_order(record: DynamoDBRecord) -> None:
        if failed:
            raise AfterAFailedRecord
        try:
            publish_record(record)
        except Exception:
            failed.append(True)
            raise

    return process_partial_response(event=event, record_handler=publish_in_order, processor=processor,
                                    context=context)
