"""The injector itself: each kind of fault, at each layer, does what AWS would make the caller see."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from shared.dynamo import keys
from shared.platform import aws
from tests.faults import (
    DYNAMODB_THROTTLED,
    S3_INTERNAL,
    FailedEntries,
    FaultInjector,
    LostAnswer,
    NoConnection,
    key_is,
)

KEY = {keys.PK: "FAULTS#probe", keys.SK: "PROBE"}


def stored() -> dict[str, Any] | None:
    return aws.table().get_item(Key=KEY, ConsistentRead=True).get("Item")


def test_a_call_layer_throttle_reaches_the_caller_as_the_services_modelled_error(faults: FaultInjector) -> None:
    fault = faults.fail("dynamodb", "PutItem", DYNAMODB_THROTTLED, when=key_is(KEY))
    table = aws.table()
    with pytest.raises(table.meta.client.exceptions.ProvisionedThroughputExceededException):
        table.put_item(Item={**KEY, "n": 1})
    assert stored() is None and fault.hits == 1
    table.put_item(Item={**KEY, "n": 2})  # once: the next call goes through
    assert stored() == {**KEY, "n": 2}


def test_a_send_layer_throttle_once_is_absorbed_by_botocores_retry(faults: FaultInjector) -> None:
    fault = faults.fail("dynamodb", "PutItem", DYNAMODB_THROTTLED, at="send")
    aws.table().put_item(Item={**KEY, "n": 1})
    assert stored() == {**KEY, "n": 1} and fault.hits == 1 and fault.seen == 2


def test_a_persistent_send_layer_throttle_reaches_the_caller_after_every_attempt(faults: FaultInjector) -> None:
    fault = faults.fail("dynamodb", "PutItem", DYNAMODB_THROTTLED, at="send", times=None)
    with pytest.raises(ClientError) as raised:
        aws.table().put_item(Item={**KEY, "n": 1})
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    # shared/platform/aws.py: `max_attempts` 3 counts retries, so four requests in all.
    assert fault.hits == 4 and stored() is None


def test_a_lost_answer_at_the_call_layer_means_the_write_landed(faults: FaultInjector) -> None:
    faults.fail("dynamodb", "PutItem", LostAnswer())
    with pytest.raises(ReadTimeoutError):
        aws.table().put_item(Item={**KEY, "n": 1})
    assert stored() == {**KEY, "n": 1}


def test_a_lost_answer_at_the_send_layer_is_resent_and_a_conditional_write_then_fails(faults: FaultInjector) -> None:
    faults.fail("dynamodb", "PutItem", LostAnswer(), at="send")
    with pytest.raises(ClientError) as raised:
        aws.table().put_item(Item={**KEY, "n": 1}, ConditionExpression="attribute_not_exists(pk)")
    assert raised.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert stored() == {**KEY, "n": 1}


def test_no_connection_means_nothing_was_sent(faults: FaultInjector) -> None:
    faults.fail("dynamodb", "PutItem", NoConnection())
    with pytest.raises(EndpointConnectionError):
        aws.table().put_item(Item={**KEY, "n": 1})
    assert stored() is None


def test_s3_errors_at_the_send_layer_are_xml_answers(faults: FaultInjector, aws_env: dict[str, Any]) -> None:
    faults.fail("s3", "PutObject", S3_INTERNAL, at="send", times=None)
    with pytest.raises(ClientError) as raised:
        aws.client("s3").put_object(Bucket=aws_env["EXPORT_BUCKET"], Key="probe", Body=b"x")
    assert raised.value.response["Error"]["Code"] == "InternalError"


def test_failed_entries_are_refused_and_the_others_put(faults: FaultInjector, aws_env: dict[str, Any]) -> None:
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName=aws_env["EVENT_BUS_NAME"], EventPattern=json.dumps({"source": ["t"]}))
    events.put_targets(Rule="tap", EventBusName=aws_env["EVENT_BUS_NAME"], Targets=[{"Id": "q", "Arn": arn}])
    faults.fail("eventbridge", "PutEvents", FailedEntries((1,)))
    entries = [{"Source": "t", "DetailType": "D", "Detail": json.dumps({"n": n}), "EventBusName": aws_env["EVENT_BUS_NAME"]}
               for n in range(3)]
    answer = aws.client("events").put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 1
    assert ["ErrorCode" in e for e in answer["Entries"]] == [False, True, False]
    bodies = [json.loads(m["Body"])["detail"]["n"] for m in
              sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(bodies) == [0, 2]


def test_every_call_is_listed(faults: FaultInjector) -> None:
    aws.table().put_item(Item={**KEY, "n": 1})
    aws.table().get_item(Key=KEY)
    assert faults.operations("dynamodb") == ["PutItem", "GetItem"]
