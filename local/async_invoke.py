"""Asynchronous invocation (what EventBridge, S3 and schedules do): retries, then the function's
on-failure destination or dead-letter queue; and the SQS feeds that carry such events from moto."""

from __future__ import annotations

import json
import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from local.destinations import send_to_destination
from local.functions import FunctionSpec
from local.invoker import Invoker
from local.moto_server import Aws
from local.pollers import MESSAGING_ACTIVITY, Poller

log = logging.getLogger("local.async")

RETRY_DELAY_SECONDS = 0.5  # Lambda waits about a minute, then two; a dev stack need not


def invoke_async(invoker: Invoker, aws: Aws, function: FunctionSpec, event: Any, stop: threading.Event) -> bool:
    attempts = 1 + max(0, function.async_retries)
    error: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            invoker.invoke(function, event)
            return True
        except Exception as failure:
            error = failure
            log.exception("%s failed (attempt %d of %d)", function.logical_id, attempt, attempts)
        if attempt < attempts and stop.wait(RETRY_DELAY_SECONDS * attempt):
            return False
    assert error is not None
    _dead_letter(aws, function, event, error, attempts)
    return False


def _dead_letter(aws: Aws, function: FunctionSpec, event: Any, error: BaseException, attempts: int) -> None:
    if function.async_failure_destination:
        send_to_destination(aws, function.async_failure_destination, {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{function.arn}:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__,
                                "stackTrace": traceback.format_exception(error)[-3:]},
        })
    if function.dead_letter_queue:
        send_to_destination(aws, function.dead_letter_queue, event)


EventsFromMessage = Callable[[dict[str, Any]], list[Any]]


class AsyncQueueFeed(Poller):
    """Receives what moto delivered to a private queue and invokes the function with each event:
    up to the function's concurrency at once (Lambda's asynchronous queue takes the event at once
    and runs it when an execution environment is free)."""

    polls_the_engine = True
    activity = MESSAGING_ACTIVITY  # table writes give it no work

    def __init__(self, name: str, invoker: Invoker, aws: Aws, function: FunctionSpec, queue_url: str,
                 events_from: EventsFromMessage, stop: threading.Event) -> None:
        super().__init__(name, stop)
        self._invoker, self._aws, self._function = invoker, aws, function
        self._queue_url = queue_url
        self._events_from = events_from
        self._pool = (ThreadPoolExecutor(function.concurrency, thread_name_prefix=name)
                      if function.concurrency > 1 else None)

    def poll_once(self) -> bool:
        sqs = self._aws.client("sqs")
        messages = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
        for message in messages:
            for event in self._events_from(json.loads(message["Body"])):
                if self._pool is None:
                    invoke_async(self._invoker, self._aws, self._function, event, self.stop_event)
                else:
                    self._pool.submit(invoke_async, self._invoker, self._aws, self._function, event, self.stop_event)
            sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return bool(messages)

    def join(self, timeout: float) -> None:
        super().join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
