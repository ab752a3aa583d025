"""Webhook delivery: the outbound queue's consumer (bus events through the rule; pings and
replays the API asked for) and, on its schedule, the retries that are due."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.outbound.delivery import Deliverer
from shared.platform.observability import entrypoint
from shared.webhooks.store import WebhookEndpointStore

processor = BatchProcessor(event_type=EventType.SQS)


def deliver_record(record: SQSRecord) -> None:
    Deliverer(WebhookEndpointStore()).handle_message(json.loads(record.body))


@entrypoint()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return process_partial_response(event=event, record_handler=deliver_record, processor=processor,
                                        context=context)
    return {"attempted": Deliverer(WebhookEndpointStore()).run_due()}
