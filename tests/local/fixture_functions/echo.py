"""API handler: answers with the event it got and the environment it ran in; sends mail on /v1/mail."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

_ENV = ("FLAVOUR", "TABLE_NAME", "TRACKING_BASE_URL", "CURSOR_SECRET", "MODE", "EVENT_BUS_NAME", "AWS_ENDPOINT_URL")


def _send_mail() -> None:
    boto3.client("sesv2").send_email(
        FromEmailAddress=os.environ["SENDER_EMAIL"],
        Destination={"ToAddresses": ["ada@example.test"]},
        Content={"Simple": {"Subject": {"Data": "Your parcel"},
                            "Body": {"Text": {"Data": "It is on its way."}, "Html": {"Data": "<p>It is on its way.</p>"}}}})


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["path"] == "/v1/boom":
        raise RuntimeError("handler bug")
    if event["path"] == "/v1/mail":
        _send_mail()
    body = {"event": event, "env": {name: os.environ.get(name) for name in _ENV},
            "context": {"function_name": context.function_name, "remaining_ms": context.get_remaining_time_in_millis()}}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": json.dumps(body)}
