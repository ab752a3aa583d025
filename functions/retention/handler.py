"""Retention function: two triggers, one door each.

- the table's stream, filtered to TTL removals of timer items (one record per expired timer) and of
  orphan updates (their connection's live count goes down), through BatchProcessor (a failed record
  is reported alone; the others go on);
- the `retention` schedule (EventBridge Scheduler): catches up, from the sparse due index, every
  timer TTL has not removed yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer

from functions.retention import service
from functions.retention.actions import Repositories
from shared.platform import clock
from shared.platform.observability import entrypoint
from shared.shipments.orphans import CONNECTION_ATTRIBUTE, OrphanStore

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
_deserializer = TypeDeserializer()


def expired_timer(record: DynamoDBRecord) -> None:
    old_image = (record.raw_event.get("dynamodb") or {}).get("OldImage") or {}
    if CONNECTION_ATTRIBUTE in old_image:  # an orphan update TTL removed: uncount it
        OrphanStore().count_expired({name: _deserializer.deserialize(value) for name, value in old_image.items()})
        return
    service.handle_removed_timer(Repositories.default(), record.raw_event, clock.now())


def on_stream(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=expired_timer, processor=processor, context=context)


def on_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return service.run_schedule(Repositories.default(), clock.now(),
                                seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)


def _trigger(event: dict[str, Any]) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    # A stream batch carries `Records`; a scheduled event (aws.scheduler / aws.events) does not.
    return on_stream if "Records" in event else on_schedule


@entrypoint()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _trigger(event)(event, context)
