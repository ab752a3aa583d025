"""DynamoDB stream event source mappings: one reader per stream fans records out to each consumer,
which keeps its own position and applies the mapping's filters, batching and retry rules."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.destinations import send_to_destination
from local.event_patterns import parse_patterns, passes_filters
from local.functions import EventSource, FunctionSpec
from local.invoker import Invoker
from local.moto_server import ENGINE, Aws
from local.pollers import Poller
from local.resources import truthy
from local.ttl import SERVICE_IDENTITY, ServiceDeletions, canonical_key, jsonable

log = logging.getLogger("local.streams")

_SHARD_REFRESH_POLLS = 25
_PAGE = 1000  # records per read, GetRecords' largest Limit


@dataclass(frozen=True)
class ShardRecord:
    shard_id: str
    record: dict[str, Any]

    @property
    def sequence_number(self) -> str:
        return self.record["dynamodb"]["SequenceNumber"]


class StreamConsumer(Poller):
    """One `Type: DynamoDB` event of one function."""

    def __init__(self, invoker: Invoker, aws: Aws, function: FunctionSpec, source: EventSource,
                 stop: threading.Event) -> None:
        super().__init__(f"stream:{function.logical_id}.{source.name}", stop)
        props = source.properties
        self.stream_arn: str = props["Stream"]
        self.enabled = truthy(props.get("Enabled", True))
        self._invoker, self._aws, self._function = invoker, aws, function
        self._batch_size = int(props.get("BatchSize", 100))
        self._patterns = parse_patterns(props.get("FilterCriteria"))
        self._report_failures = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        self._max_retries = int(props.get("MaximumRetryAttempts", -1))  # -1: until the record expires
        self._bisect = truthy(props.get("BisectBatchOnFunctionError", False))
        self._on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        self._pending: deque[ShardRecord] = deque()
        self._lock = threading.Lock()

    def offer(self, shard_id: str, record: dict[str, Any]) -> None:
        if passes_filters(self._patterns, record):
            with self._lock:
                self._pending.append(ShardRecord(shard_id, record))

    def poll_once(self) -> bool:
        batch = self._take_batch()
        if not batch:
            return False
        self._deliver(batch, attempts=0)
        return True

    def _take_batch(self) -> list[ShardRecord]:
        with self._lock:
            batch: list[ShardRecord] = []
            while self._pending and len(batch) < self._batch_size:
                if batch and self._pending[0].shard_id != batch[0].shard_id:
                    break  # a batch never spans shards
                batch.append(self._pending.popleft())
            return batch

    def _deliver(self, batch: list[ShardRecord], attempts: int) -> None:
        while batch and not self.stop_event.is_set():
            remaining, errored = self._attempt(batch)
            if not remaining:
                return
            attempts += 1
            if 0 <= self._max_retries < attempts:
                self._give_up(remaining, attempts, errored)
                return
            if errored and self._bisect and len(remaining) > 1:
                half = len(remaining) // 2
                self._deliver(remaining[:half], attempts)
                self._deliver(remaining[half:], attempts)
                return
            self.pause(min(0.2 * 2 ** (attempts - 1), 5.0))
            batch = remaining

    def _attempt(self, batch: list[ShardRecord]) -> tuple[list[ShardRecord], bool]:
        """(records still to process, whether the function raised)."""
        try:
            result = self._invoker.invoke(self._function, {"Records": [item.record for item in batch]})
        except Exception:
            log.exception("%s failed on a batch of %d record(s)", self.name, len(batch))
            return batch, True
        if not self._report_failures or not isinstance(result, dict) or not result.get("batchItemFailures"):
            return [], False
        sequence_numbers = [item.sequence_number for item in batch]
        failed = [failure.get("itemIdentifier") for failure in result["batchItemFailures"]]
        if not all(identifier in sequence_numbers for identifier in failed):
            return batch, False  # an unknown or empty identifier fails the whole batch, as on AWS
        return batch[min(sequence_numbers.index(identifier) for identifier in failed):], False

    def _give_up(self, batch: list[ShardRecord], attempts: int, errored: bool) -> None:
        log.error("%s: retries exhausted for %d record(s)", self.name, len(batch))
        if not self._on_failure:
            return
        first, last = batch[0].record["dynamodb"], batch[-1].record["dynamodb"]
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if errored:
            response["functionError"] = "Unhandled"
        message = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self._function.arn,
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
            "responseContext": response,
            "version": "1.0",
            "timestamp": _iso(datetime.now(UTC)),
            "DDBStreamBatchInfo": {
                "shardId": batch[0].shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(datetime.fromtimestamp(first["ApproximateCreationDateTime"], UTC)),
                "approximateArrivalOfLastRecord": _iso(datetime.fromtimestamp(last["ApproximateCreationDateTime"], UTC)),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        send_to_destination(self._aws, self._on_failure, message)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class StreamReader(Poller):
    """Reads a table's stream from TRIM_HORIZON once and hands every record to each consumer."""

    polls_the_engine = True

    def __init__(self, aws: Aws, stream_arn: str, table_name: str, consumers: list[StreamConsumer],
                 deletions: ServiceDeletions, stop: threading.Event) -> None:
        super().__init__(f"stream-reader:{table_name}", stop)
        self._aws, self._stream_arn, self._table_name = aws, stream_arn, table_name
        self._consumers = consumers
        self._deletions = deletions
        self._iterators: dict[str, str] = {}
        self._last_sequence: dict[str, str] = {}
        self._known_shards: set[str] = set()
        self._polls = 0

    def poll_once(self) -> bool:
        if self._polls % _SHARD_REFRESH_POLLS == 0:
            self._discover_shards()
        self._polls += 1
        busy = False
        for shard_id in list(self._iterators):
            busy |= self._read_shard(shard_id)
        return busy

    def _discover_shards(self) -> None:
        client = self._aws.client("dynamodbstreams")
        shards = client.describe_stream(StreamArn=self._stream_arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            if shard["ShardId"] not in self._known_shards:
                self._known_shards.add(shard["ShardId"])
                self._iterators[shard["ShardId"]] = client.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def _read_shard(self, shard_id: str) -> bool:
        page = self._engine_page(shard_id)
        records, closed = page if page is not None else self._requested_page(shard_id)
        if closed:
            del self._iterators[shard_id]  # closed shard, fully read
        for raw in records:
            record = self._lambda_record(raw)
            self._last_sequence[shard_id] = record["dynamodb"]["SequenceNumber"]
            for consumer in self._consumers:
                consumer.offer(shard_id, record)
        return bool(records)

    def _engine_page(self, shard_id: str) -> tuple[list[dict[str, Any]], bool] | None:
        """The records GetRecords would answer after the last one read, taken from the engine in
        this process (moto's own records, as its GetRecords reads them): every image serialised to
        JSON by the engine and parsed back by botocore was most of the stack's work under writes.
        None when the engine in this process does not hold the shard."""
        last = self._last_sequence.get(shard_id)
        with ENGINE:
            table = self._aws.dynamodb_backend().tables.get(self._table_name)
            shard = getattr(table, "stream_shard", None)
            if shard is None or shard.id != shard_id:
                return None
            start = 0 if last is None else max(0, int(last) + 1 - shard.starting_sequence_number)
            return [record.to_json() for record in shard.items[start:start + _PAGE]], False

    def _requested_page(self, shard_id: str) -> tuple[list[dict[str, Any]], bool]:
        client = self._aws.client("dynamodbstreams")
        # A fresh iterator on every poll: when a TransactWriteItems fails, moto restores the table
        # from a copy, shard included, and iterators on the old shard object go silently dry.
        last = self._last_sequence.get(shard_id)
        position = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last} if last
                    else {"ShardIteratorType": "TRIM_HORIZON"})
        iterator = client.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard_id, **position)["ShardIterator"]
        page = client.get_records(ShardIterator=iterator, Limit=_PAGE)
        return page.get("Records", []), not page.get("NextShardIterator")

    def _lambda_record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """moto's record, reshaped to what Lambda delivers (region, version, epoch time, source ARN)."""
        change = dict(raw["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            # moto keeps naive UTC times; botocore's are aware
            aware = created if created.tzinfo is not None else created.replace(tzinfo=UTC)
            change["ApproximateCreationDateTime"] = int(aware.timestamp())
        record: dict[str, Any] = {
            "eventID": raw["eventID"], "eventName": raw["eventName"], "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": self._aws.region, "dynamodb": jsonable(change),
        }
        if raw["eventName"] == "REMOVE" and self._deletions.claim(canonical_key(self._table_name, change["Keys"])):
            record["userIdentity"] = dict(SERVICE_IDENTITY)
        elif raw.get("userIdentity"):
            record["userIdentity"] = raw["userIdentity"]
        record["eventSourceARN"] = self._stream_arn
        return record


def stream_pollers(functions: dict[str, FunctionSpec], invoker: Invoker, aws: Aws, deletions: ServiceDeletions,
                   stop: threading.Event) -> list[Poller]:
    """One reader per stream that has consumers, and the consumers."""
    by_stream: dict[str, list[StreamConsumer]] = {}
    for function in functions.values():
        for source in function.events_of("DynamoDB"):
            consumer = StreamConsumer(invoker, aws, function, source, stop)
            if consumer.enabled:
                by_stream.setdefault(consumer.stream_arn, []).append(consumer)
    pollers: list[Poller] = []
    for stream_arn, consumers in by_stream.items():
        table_name = stream_arn.split(":table/", 1)[1].split("/stream/", 1)[0]
        pollers += [StreamReader(aws, stream_arn, table_name, consumers, deletions, stop), *consumers]
    return pollers
