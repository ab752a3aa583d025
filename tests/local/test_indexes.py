"""The local engine's own indexes (local/indexes.py) answer every Query exactly as moto does alone:
same items in the same order, same `LastEvaluatedKey`, `Count` and `ScannedCount`, page after page,
after puts, updates that move an item between index partitions, deletes, batch writes and
transactions (committed or cancelled); and the TTL order expires exactly the due items."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

from local import indexes, transactions

ACCOUNT, REGION, TABLE = "123456789012", "eu-west-1", "colis-local-index"
PARTITIONS = ("A", "B", "C")


def _install(monkeypatch: pytest.MonkeyPatch, item_level_rollback: bool) -> None:
    if item_level_rollback:  # as the local stack runs: its transaction rollback, then the indexes
        from moto.dynamodb import models as dynamodb_models

        monkeypatch.setattr(dynamodb_models, "copy", transactions.copy_module())
        monkeypatch.setattr(DynamoDBBackend, "transact_write_items",
                            transactions.item_level_rollback(DynamoDBBackend.transact_write_items))
    for owner, name, replacement in indexes.patches():
        monkeypatch.setattr(owner, name, replacement)


@pytest.fixture(params=[True, False], ids=["local-rollback", "moto-rollback"])
def client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION,
                        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    _install(monkeypatch, request.param)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        attributes = ["pk", "sk", "gsi1pk", "gsi1sk", "due_pk", "due_sk"]
        dynamodb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in attributes],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"},
                 "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                               {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]},
                {"IndexName": "due", "Projection": {"ProjectionType": "KEYS_ONLY"},
                 "KeySchema": [{"AttributeName": "due_pk", "KeyType": "HASH"},
                               {"AttributeName": "due_sk", "KeyType": "RANGE"}]}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        yield dynamodb


def _item(rng: random.Random, n: int) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": f"P#{n % 20:03d}"}, "sk": {"S": f"S#{rng.randrange(1000):04d}#{n}"},
                            "n": {"N": str(n)}, "status": {"S": rng.choice(["new", "sent", "done"])},
                            "blob": {"S": "x" * rng.choice([10, 300])}}
    if rng.random() < 0.85:  # some items are not in the index (no index key)
        # few distinct sort values: ties are ordered by the table key, as moto orders them
        item |= {"gsi1pk": {"S": rng.choice(PARTITIONS)}, "gsi1sk": {"S": f"2026-0{rng.randrange(1, 4)}#{n % 7}"}}
    if rng.random() < 0.3:
        item |= {"due_pk": {"S": "DUE#2026-03"}, "due_sk": {"S": f"{rng.randrange(100):03d}#{n}"},
                 "ttl": {"N": str(1_000 + rng.randrange(100))}}
    return item


def _load(client: Any, rng: random.Random, count: int) -> list[dict[str, Any]]:
    items = [_item(rng, n) for n in range(count)]
    for start in range(0, count // 2, 25):
        client.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]})
    for item in items[count // 2:]:
        client.put_item(TableName=TABLE, Item=item)
    return items


def _key(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": item["pk"], "sk": item["sk"]}


def _churn(client: Any, rng: random.Random, items: list[dict[str, Any]]) -> None:
    """Updates that move items between partitions or out of the index, deletes, transactions."""
    for item in rng.sample(items, 20):
        client.update_item(TableName=TABLE, Key=_key(item), UpdateExpression="SET gsi1pk = :p, gsi1sk = :s",
                           ExpressionAttributeValues={":p": {"S": rng.choice(PARTITIONS)},
                                                      ":s": {"S": f"2026-0{rng.randrange(1, 4)}#9"}})
    for item in rng.sample(items, 8):
        client.update_item(TableName=TABLE, Key=_key(item), UpdateExpression="REMOVE gsi1pk")
    for item in rng.sample(items, 8):
        client.delete_item(TableName=TABLE, Key=_key(item))
    client.update_item(TableName=TABLE, Key={"pk": {"S": "P#NEW"}, "sk": {"S": "S#0"}},  # an update that creates
                       UpdateExpression="SET gsi1pk = :p, gsi1sk = :s",
                       ExpressionAttributeValues={":p": {"S": "A"}, ":s": {"S": "2026-02#new"}})
    fresh = _item(rng, 10_001) | {"gsi1pk": {"S": "B"}, "gsi1sk": {"S": "2026-02#tx"}}
    moved = items[3]
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": fresh}},
        {"Update": {"TableName": TABLE, "Key": _key(moved), "UpdateExpression": "SET gsi1pk = :p, gsi1sk = :s",
                    "ExpressionAttributeValues": {":p": {"S": "C"}, ":s": {"S": "2026-01#tx"}}}}])
    with pytest.raises(ClientError, match="TransactionCanceled"):  # nothing of it may stay in the index
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _item(rng, 10_002) | {"gsi1pk": {"S": "A"}, "gsi1sk": {"S": "0"}}}},
            {"Update": {"TableName": TABLE, "Key": _key(items[5]), "UpdateExpression": "SET gsi1pk = :p",
                        "ExpressionAttributeValues": {":p": {"S": "B"}}}},
            {"ConditionCheck": {"TableName": TABLE, "Key": _key(fresh), "ConditionExpression": "attribute_not_exists(pk)"}}])


def _requests() -> Iterator[dict[str, Any]]:
    conditions: list[tuple[str, dict[str, Any]]] = [
        ("gsi1pk = :p", {}),
        ("gsi1pk = :p AND gsi1sk = :a", {":a": {"S": "2026-02#3"}}),
        ("gsi1pk = :p AND gsi1sk < :a", {":a": {"S": "2026-02#3"}}),
        ("gsi1pk = :p AND gsi1sk <= :a", {":a": {"S": "2026-02#3"}}),
        ("gsi1pk = :p AND gsi1sk > :a", {":a": {"S": "2026-02"}}),
        ("gsi1pk = :p AND gsi1sk >= :a", {":a": {"S": "2026-02#3"}}),
        ("gsi1pk = :p AND gsi1sk BETWEEN :a AND :b", {":a": {"S": "2026-01#5"}, ":b": {"S": "2026-03#1"}}),
        ("gsi1pk = :p AND begins_with(gsi1sk, :a)", {":a": {"S": "2026-02"}}),
        ("gsi1pk = :p AND begins_with(gsi1sk, :a)", {":a": {"S": "zz"}}),
    ]
    for partition in ("A", "C", "Z"):
        for condition, values in conditions:
            for forward in (True, False):
                request: dict[str, Any] = {"IndexName": "gsi1", "KeyConditionExpression": condition,
                                           "ExpressionAttributeValues": {":p": {"S": partition}, **values},
                                           "ScanIndexForward": forward}
                yield request
                yield {**request, "Limit": 3}
                yield {**request, "Limit": 3, "FilterExpression": "#s = :s", "ExpressionAttributeNames": {"#s": "status"},
                       "ExpressionAttributeValues": {**request["ExpressionAttributeValues"], ":s": {"S": "sent"}}}
        yield {"IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p AND begins_with(gsi1sk, :a)", "Limit": 1,
               "ExpressionAttributeValues": {":p": {"S": partition}, ":a": {"S": "2026-03"}}}
        yield {"IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p", "ProjectionExpression": "pk, n",
               "ExpressionAttributeValues": {":p": {"S": partition}}, "Limit": 5}
        yield {"IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p", "Select": "COUNT",
               "ExpressionAttributeValues": {":p": {"S": partition}}}
    for forward in (True, False):  # a KEYS_ONLY index
        yield {"IndexName": "due", "KeyConditionExpression": "due_pk = :p AND due_sk < :a", "Limit": 4,
               "ExpressionAttributeValues": {":p": {"S": "DUE#2026-03"}, ":a": {"S": "050"}},
               "ScanIndexForward": forward}
    for partition in ("P#001", "P#017", "P#NEW", "P#none"):  # the table itself
        for forward in (True, False):
            yield {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": partition}},
                   "Limit": 2, "ScanIndexForward": forward}
            yield {"KeyConditionExpression": "pk = :p AND begins_with(sk, :s)", "ScanIndexForward": forward,
                   "ExpressionAttributeValues": {":p": {"S": partition}, ":s": {"S": "S#0"}}, "Limit": 3}
            yield {"KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b", "ScanIndexForward": forward,
                   "ExpressionAttributeValues": {":p": {"S": partition}, ":a": {"S": "S#02"}, ":b": {"S": "S#07"}}}


def _pages(client: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of the query (the answers' metadata left out)."""
    pages, start = [], None
    while True:
        answer = client.query(TableName=TABLE, **request, **({"ExclusiveStartKey": start} if start else {}))
        answer.pop("ResponseMetadata")
        pages.append(answer)
        start = answer.get("LastEvaluatedKey")
        if not start or len(pages) > 200:
            return pages


def _assert_same_answers(client: Any) -> int:
    compared = 0
    for request in _requests():
        local = _pages(client, request)
        with indexes.moto_alone():
            alone = _pages(client, request)
        assert local == alone, request
        compared += len(local)
    return compared


def test_every_query_answers_as_moto_alone_page_after_page(client: Any) -> None:
    rng = random.Random(20261207)
    items = _load(client, rng, 120)
    pages = _assert_same_answers(client)
    assert pages > 200  # pagination was exercised, not one page per request
    _churn(client, rng, items)
    _assert_same_answers(client)


def test_a_start_key_of_an_item_deleted_meanwhile_continues_after_its_place(client: Any) -> None:
    rng = random.Random(5)
    _load(client, rng, 60)
    request = {"IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p", "Limit": 3,
               "ExpressionAttributeValues": {":p": {"S": "A"}}}
    first = client.query(TableName=TABLE, **request)
    start = first["LastEvaluatedKey"]
    client.delete_item(TableName=TABLE, Key={"pk": start["pk"], "sk": start["sk"]})
    local = client.query(TableName=TABLE, ExclusiveStartKey=start, **request)
    with indexes.moto_alone():
        alone = client.query(TableName=TABLE, ExclusiveStartKey=start, **request)
    assert local["Items"] == alone["Items"] and local["Items"]
    assert local.get("LastEvaluatedKey") == alone.get("LastEvaluatedKey")


def test_expiry_deletes_exactly_the_items_due_and_writes_their_stream_records(client: Any) -> None:
    now, floor = 1_050, 1_000
    items = [{"pk": {"S": f"T#{n}"}, "sk": {"S": "X"}, "ttl": {"N": str(epoch)}}
             for n, epoch in enumerate([999, 1_000, 1_049, 1_050, 1_051, 5_000])]
    items += [{"pk": {"S": "T#text"}, "sk": {"S": "X"}, "ttl": {"S": "1000"}},  # not a number: never expires
              {"pk": {"S": "T#none"}, "sk": {"S": "X"}}]
    for item in items:
        client.put_item(TableName=TABLE, Item=item)
    client.update_item(TableName=TABLE, Key={"pk": {"S": "T#5"}, "sk": {"S": "X"}},  # renewed: now due
                       UpdateExpression="SET #t = :t", ExpressionAttributeNames={"#t": "ttl"},
                       ExpressionAttributeValues={":t": {"N": "1010"}})
    backend = dynamodb_backends[ACCOUNT][REGION]
    heard: list[dict[str, Any]] = []
    records_before = len(backend.tables[TABLE].stream_shard.items)
    assert indexes.expire(backend, TABLE, "ttl", floor, now, heard.append) == 4
    left = {item["pk"]["S"] for item in client.scan(TableName=TABLE)["Items"]}
    assert left == {"T#0", "T#4", "T#text", "T#none"}
    assert sorted(key["pk"]["S"] for key in heard) == ["T#1", "T#2", "T#3", "T#5"]
    assert all(key["sk"] == {"S": "X"} for key in heard)
    removes = backend.tables[TABLE].stream_shard.items[records_before:]
    assert [record.record["eventName"] for record in removes] == ["REMOVE"] * 4
    assert [record.record["dynamodb"]["Keys"] for record in removes] == heard
    assert indexes.expire(backend, TABLE, "ttl", floor, now, heard.append) == 0
