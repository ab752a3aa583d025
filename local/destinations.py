"""On-failure destinations and dead-letter queues: an SQS queue or an SNS topic, by ARN."""

from __future__ import annotations

import json
from typing import Any

from local.moto_server import Aws


def send_to_destination(aws: Aws, arn: str, message: Any) -> None:
    body = json.dumps(message)
    if arn.startswith("arn:aws:sns:"):
        aws.client("sns").publish(TopicArn=arn, Message=body)
    else:
        aws.client("sqs").send_message(QueueUrl=aws.queue_url(arn), MessageBody=body)
