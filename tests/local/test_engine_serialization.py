"""The engine's direct writing of attribute values (local/serialization.py) gives clients the very
answers moto's generic serializer gives: items, stream images, every kind of value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.serialize import BaseJSONSerializer

from local import serialization

REGION, TABLE = "eu-west-1", "colis-serialization"
GENERIC = BaseJSONSerializer._serialize_type_structure
ITEMS = [
    {"pk": {"S": "P"}, "sk": {"S": "plain"}, "n": {"N": "12.50"}, "empty": {"S": ""}, "names": {"SS": ["a", "b"]},
     "numbers": {"NS": ["1", "2.5"]}, "doc": {"M": {"city": {"S": "Lyon"}, "lines": {"L": [{"S": "x"}, {"N": "3"}]},
                                                   "none": {"M": {}}, "list": {"L": []}}}},
    {"pk": {"S": "P"}, "sk": {"S": "other kinds"}, "yes": {"BOOL": True}, "no": {"BOOL": False}, "nothing": {"NULL": True},
     "blob": {"B": b"\x00\xffbytes"}, "blobs": {"BS": [b"a", b"b"]},
     "mixed": {"M": {"flag": {"BOOL": False}, "s": {"S": "é"}}}, "list": {"L": [{"NULL": True}, {"S": "s"}]}},
]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION,
                        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        for item in ITEMS:
            dynamodb.put_item(TableName=TABLE, Item=item)
        dynamodb.update_item(TableName=TABLE, Key={"pk": {"S": "P"}, "sk": {"S": "plain"}},
                             UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "13"}})
        yield dynamodb


def _answers(dynamodb: Any) -> list[Any]:
    streams = boto3.client("dynamodbstreams")
    arn = dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    answers = [dynamodb.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P"}}),
               dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "P"}, "sk": {"S": "plain"}}),
               dynamodb.scan(TableName=TABLE),
               streams.get_records(ShardIterator=iterator)["Records"]]
    for answer in answers[:3]:
        answer.pop("ResponseMetadata")
    return answers


def test_answers_are_those_of_the_generic_serializer(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    generic = _answers(client)
    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_structure", serialization._direct(GENERIC))
    written: list[Any] = []
    plain = serialization.plain_attribute_value
    monkeypatch.setattr(serialization, "plain_attribute_value", lambda value: written.append(value) or plain(value))
    direct = _answers(client)
    assert len(written) > 50  # the direct way was taken
    assert direct == generic
    assert direct[0]["Items"][1]["doc"]["M"]["lines"] == {"L": [{"S": "x"}, {"N": "3"}]}
    assert direct[3][1]["dynamodb"]["NewImage"]["blob"] == {"B": b"\x00\xffbytes"}


def test_only_plain_values_are_written_directly() -> None:
    assert serialization.plain_attribute_value({"M": {"a": {"L": [{"SS": ["x"]}]}}}) == {"M": {"a": {"L": [{"SS": ["x"]}]}}}
    for value in ({"BOOL": True}, {"NULL": True}, {"B": b"x"}, {"M": {"a": {"BOOL": False}}}, {"S": "x", "N": "1"},
                  {"S": None}, {"X": "1"}):
        with pytest.raises(serialization._NotPlain):
            serialization.plain_attribute_value(value)
