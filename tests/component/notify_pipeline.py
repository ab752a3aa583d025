"""The asynchronous path of notifications, in process, for component tests: the table's stream
read as `functions/outbox` reads it, events shaped as EventBridge hands them to a rule's target,
the notify handler, and every email that reached (moto's) SES."""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from functions.notify import handler as notify_module
from functions.notify.rendering import RenderedEmail
from functions.notify.sender import SesEmailSender, build_ses_client
from functions.outbox import service as outbox_service
from shared.merchants.connections import ConnectionRepository
from shared.platform import aws, clock
from tests.apigw import ApiResponse, LambdaContext, api_event, call
from tests.carrier_signing import signed_headers
from tests.factories import body_bytes


@dataclass(frozen=True)
class BusEvent:
    detail_type: str
    detail: dict[str, Any]

    def as_delivered(self) -> dict[str, Any]:
        """What EventBridge gives a rule target (detail round-tripped through JSON, as published)."""
        detail = json.loads(json.dumps(self.detail, default=str))
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": self.detail_type, "source": "colis",
                "account": "123456789012", "time": clock.isoformat(clock.now()), "region": "eu-west-1",
                "resources": [], "detail": detail}


class TableStream:
    """Outbox entries as `functions/outbox` would publish them, read from the table's stream.

    A fresh iterator per read, after the last sequence number seen: moto replaces a table's
    stream shard when it rolls back a failed transaction, and an old iterator would read the
    abandoned shard."""

    def __init__(self, table_name: str) -> None:
        self._streams = aws.client("dynamodbstreams")
        self._arn = aws.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._last: dict[str, str | None] = {}

    def published(self, *detail_types: str) -> list[BusEvent]:
        """Events written since the last call, optionally of some types only."""
        events: list[BusEvent] = []
        for record in self._new_records():
            pending = outbox_service.pending_events(record)
            if pending is not None:
                events += [BusEvent(pending[0], detail) for detail in pending[1]]
        return [event for event in events if not detail_types or event.detail_type in detail_types]

    def _new_records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id, last = shard["ShardId"], self._last.get(shard["ShardId"])
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last} if last else {
                "ShardIteratorType": "TRIM_HORIZON"}
            iterator = self._streams.get_shard_iterator(StreamArn=self._arn, ShardId=shard_id,
                                                        **position)["ShardIterator"]
            while iterator:
                response = self._streams.get_records(ShardIterator=iterator)
                if not response["Records"]:
                    break
                records += response["Records"]
                self._last[shard_id] = response["Records"][-1]["dynamodb"]["SequenceNumber"]
                iterator = response.get("NextShardIterator")
        return records


@dataclass
class SentEmail:
    to: str
    from_name: str | None
    subject: str
    text: str
    html: str
    language: str
    message_id: str


@dataclass(frozen=True)
class Failure:
    """A scripted SES failure; `after_sending`: SES took the email, then the answer was lost."""

    error: BaseException
    after_sending: bool = False


class ScriptedSesClient:
    """moto's SES client, with failures injected where botocore would raise them."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.failures: list[Failure] = []
        self._lock = threading.Lock()

    def send_email(self, **request: Any) -> Any:
        with self._lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure is None:
            return self.real.send_email(**request)
        if failure.after_sending:
            self.real.send_email(**request)
        raise failure.error


@dataclass
class Outbox:
    """Every email the notify function handed to SES and SES accepted, in order."""

    client: ScriptedSesClient
    sent: list[SentEmail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sender(self) -> Any:
        # Built per invocation like the real one: SENDER_EMAIL is read at call time.
        return _RecordingSender(SesEmailSender(self.client, os.environ["SENDER_EMAIL"]), self)

    def record(self, email: SentEmail) -> None:
        with self._lock:
            self.sent.append(email)

    def subjects(self) -> list[str]:
        return [email.subject for email in self.sent]


@dataclass
class _RecordingSender:
    inner: SesEmailSender
    outbox: Outbox

    def send(self, to: str, email: RenderedEmail, *, from_name: str | None = None,
             tags: dict[str, str] | None = None) -> str:
        message_id = self.inner.send(to, email, from_name=from_name, tags=tags)
        self.outbox.record(SentEmail(to, from_name, email.subject, email.text, email.html, email.language,
                                     message_id))
        return message_id


def recording_outbox(monkeypatch: Any) -> Outbox:
    """Points the notify handler at moto's SES through a client that can be told to fail."""
    outbox = Outbox(ScriptedSesClient(build_ses_client(None, os.environ["AWS_DEFAULT_REGION"])))
    monkeypatch.setattr(notify_module, "ses_sender", outbox.sender)
    return outbox


def notify(event: BusEvent) -> dict[str, Any]:
    return notify_module.lambda_handler(event.as_delivered(), LambdaContext())


def ses_sent_count() -> int:
    """Messages moto's SES accepted: the ground truth, whatever the recording sender saw."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return len(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages)


def colis_connection(merchant_id: str) -> tuple[str, str]:
    connection, secret = ConnectionRepository().create(merchant_id, "colis", "secret-for-colis-0123456789")
    return connection.id, secret


def colis_delivery(connection: tuple[str, str], payload: Any) -> ApiResponse:
    from functions.webhook import handler as webhook_module

    connection_id, secret = connection
    raw = body_bytes(payload)
    event = api_event("POST", "/webhooks/{carrier}/{connection_id}",
                      path_params={"carrier": "colis", "connection_id": connection_id}, body=raw.decode("utf-8"),
                      headers=signed_headers("colis", secret, raw, clock.now()))
    return call(webhook_module.lambda_handler, event)


def atomic_dynamodb_requests(monkeypatch: Any) -> None:
    """DynamoDB applies each request atomically; moto's backend, called from several threads, does
    not (a transaction deep-copies tables another thread is writing). One lock per request gives
    moto DynamoDB's guarantee and keeps every interleaving *between* requests, which is what the
    concurrency tests are about."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)
