"""Retention function: two triggers, one door each.

- the table's stream, filtered to TTL removals of timer items: one record per expired timer,
  through BatchProcessor (a failed record is reported alone; the others go on);
- the `retention` schedule (EventBridge Scheduler): catches up, from the sparse due index, every
  timer TTL has not removed yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.retention import service
from functions.retention.actions import Repositories
from shared.platform import clock
from shared.platform.observability import entrypoint

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def expired_timer(record: DynamoDBRecord) -> None:
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
