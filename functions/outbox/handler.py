"""Table stream consumer: publishes each new outbox entry to the event bus."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.outbox import service
from shared.aws import env
from shared.observability import entrypoint

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def publish_record(record: DynamoDBRecord) -> None:
    pending = service.pending_events(record.raw_event)
    if pending is not None:
        detail_type, events = pending
        service.publish(detail_type, events, env("EVENT_BUS_NAME"))


@entrypoint()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=publish_record, processor=processor, context=context)
