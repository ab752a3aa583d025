"""The local engine's TransactWriteItems (local/transactions.py) ends in the same table and stream
as moto's own, without copying the table."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from local import transactions

MOTO_TRANSACT = DynamoDBBackend.transact_write_items
ACCOUNT, REGION = "123456789012", "eu-west-1"
CANCELLED = "TransactionCanceledException"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION,
                        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        for table in ("moto", "local"):
            client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "S"}],
                                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        yield client


def _local_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamodb_models, "copy", transactions.copy_module())
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transactions.item_level_rollback(MOTO_TRANSACT))


def _item(pk: str, sk: str, **values: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{name: {"S": value} for name, value in values.items()}}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _update(table: str, pk: str, status: str) -> dict[str, Any]:
    return {"Update": {"TableName": table, "Key": _key(pk, "SHIPMENT"), "UpdateExpression": "SET #s = :s",
                       "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": {":s": {"S": status}}}}


# Each: the transaction's items in a table, and the error DynamoDB answers (None: applied).
CASES: dict[str, tuple[Callable[[str], list[dict[str, Any]]], str | None]] = {
    "all applied": (lambda t: [_update(t, "S#1", "delivered"), {"Put": {"TableName": t, "Item": _item("S#3", "SHIPMENT")}},
                               {"Delete": {"TableName": t, "Key": _key("S#1", "TIMER#REDACT")}}], None),
    "last condition fails": (lambda t: [_update(t, "S#1", "delivered"), {"Put": {"TableName": t, "Item": _item("S#4", "A")}},
                                        {"Delete": {"TableName": t, "Key": _key("S#1", "TIMER#REDACT")}},
                                        {"Put": {"TableName": t, "Item": _item("S#2", "SHIPMENT"),
                                                 "ConditionExpression": "attribute_not_exists(pk)"}}], CANCELLED),
    "first condition fails": (lambda t: [{"ConditionCheck": {"TableName": t, "Key": _key("S#2", "SHIPMENT"),
                                                             "ConditionExpression": "attribute_not_exists(pk)"}},
                                         _update(t, "S#1", "delivered"),
                                         {"Put": {"TableName": t, "Item": _item("S#5", "A")}}], CANCELLED),
    "same item twice": (lambda t: [_update(t, "S#1", "delivered"), {"Put": {"TableName": t, "Item": _item("S#6", "A")}},
                                   _update(t, "S#1", "exception")], "ValidationException"),
}


def _run(client: Any, table: str, case: str) -> str | None:
    client.put_item(TableName=table, Item=_item("S#1", "SHIPMENT", status="pre_transit"))
    client.put_item(TableName=table, Item=_item("S#1", "TIMER#REDACT"))
    client.put_item(TableName=table, Item=_item("S#2", "SHIPMENT", status="in_transit"))
    try:
        client.transact_write_items(TransactItems=CASES[case][0](table))
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    finally:
        client.put_item(TableName=table, Item=_item("S#9", "AFTER"))  # the stream goes on after it
    return None


def _state(client: Any, table: str) -> tuple[list[Any], list[tuple[Any, ...]]]:
    items = sorted(client.scan(TableName=table)["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
    streams = boto3.client("dynamodbstreams")
    arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = [(r["eventName"], r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage"), r["dynamodb"]["SequenceNumber"])
               for r in streams.get_records(ShardIterator=iterator)["Records"]]
    return items, records


@pytest.mark.parametrize("case", list(CASES))
def test_the_table_and_its_stream_end_as_with_moto_own_transactions(aws: Any, monkeypatch: pytest.MonkeyPatch,
                                                                   case: str) -> None:
    moto_error = _run(aws, "moto", case)
    _local_engine(monkeypatch)
    local_error = _run(aws, "local", case)
    assert local_error == moto_error == CASES[case][1]
    assert _state(aws, "local") == _state(aws, "moto")


def test_a_cancelled_transaction_never_copies_the_table(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []
    real: Callable[..., Any] = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    _local_engine(monkeypatch)
    backend = dynamodb_models.dynamodb_backends[ACCOUNT][REGION]
    table = backend.tables["local"]
    assert _run(aws, "local", "last condition fails") == CANCELLED
    assert copied == [] and backend.tables["local"] is table  # readers of its stream keep their shard
