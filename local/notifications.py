"""S3 event notifications to functions (`Type: S3`): moto notifies a private SQS queue per
function event; a feed invokes the function with each record, asynchronously as S3 does."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from local.async_invoke import AsyncQueueFeed
from local.functions import FunctionSpec
from local.invoker import Invoker
from local.moto_server import Aws
from local.resources import STACK_NAME


def lambda_s3_record(record: dict[str, Any]) -> dict[str, Any]:
    """moto's record completed with the fields S3 sends and keys encoded as S3 encodes them."""
    s3 = dict(record["s3"])
    bucket = {"ownerIdentity": {"principalId": "LOCAL"}, **s3["bucket"]}
    obj = dict(s3["object"])
    obj["key"] = quote_plus(unquote_plus(obj["key"]), safe="/")
    obj.setdefault("sequencer", "0")
    return {
        **record,
        "userIdentity": record.get("userIdentity", {"principalId": "LOCAL"}),
        "requestParameters": record.get("requestParameters", {"sourceIPAddress": "127.0.0.1"}),
        "responseElements": record.get("responseElements", {"x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL"}),
        "s3": {**s3, "bucket": bucket, "object": obj},
    }


def _events_from(message: dict[str, Any]) -> list[Any]:
    if message.get("Event") == "s3:TestEvent":
        return []
    return [{"Records": [lambda_s3_record(record)]} for record in message.get("Records", [])]


def _filter(props: dict[str, Any]) -> dict[str, Any] | None:
    rules = ((props.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
    if not rules:
        return None
    return {"Key": {"FilterRules": [{"Name": rule["Name"].lower(), "Value": rule["Value"]} for rule in rules]}}


def start_notification_feeds(functions: dict[str, FunctionSpec], invoker: Invoker, aws: Aws,
                             stop: threading.Event) -> list[AsyncQueueFeed]:
    sqs = aws.client("sqs")
    per_bucket: dict[str, list[dict[str, Any]]] = {}
    feeds = []
    for function in functions.values():
        for source in function.events_of("S3"):
            props = source.properties
            queue_name = f"{STACK_NAME}-s3-{function.logical_id}-{source.name}"[:80]
            queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
            events = props["Events"] if isinstance(props["Events"], list) else [props["Events"]]
            configuration: dict[str, Any] = {"Id": queue_name, "QueueArn": f"arn:aws:sqs:{aws.region}:{aws.account_id}:{queue_name}",
                                             "Events": events}
            key_filter = _filter(props)
            if key_filter:
                configuration["Filter"] = key_filter
            per_bucket.setdefault(props["Bucket"], []).append(configuration)
            feeds.append(AsyncQueueFeed(f"s3:{function.logical_id}.{source.name}", invoker, aws, function,
                                        queue_url, _events_from, stop))
    for bucket, configurations in per_bucket.items():
        aws.client("s3").put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": configurations})
    return feeds
