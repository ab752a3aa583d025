"""The local stack runs a template as AWS would: gateway and authorizer, stream consumers with
filters, TTL, EventBridge rules, queues, S3 notifications, schedules, the product clock, mail."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import requests

from local import Stack
from tests.local.fixture_functions.recorder import calls, wait_for

pytestmark = pytest.mark.xdist_group("local_stack")

GOOD = {"Authorization": "Bearer good"}


def url(stack: Stack, path: str) -> str:
    return stack.api_url + path


def _echo(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def _records(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for event in events for record in event["Records"]]


def _put(stack: Stack, pk: str, **attributes: dict[str, str]) -> None:
    assert stack.aws is not None
    table = stack.functions["EchoFunction"].environment["TABLE_NAME"]
    stack.aws.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": "X"}, **attributes})


def _product_now(stack: Stack, http: requests.Session) -> datetime:
    return datetime.fromisoformat(http.get(url(stack, "/_local/clock")).json()["now"])


def _kinds(records: list[dict[str, Any]]) -> list[str]:
    return [r["dynamodb"].get("NewImage", {}).get("kind", {}).get("S") for r in records]


# ---------------------------------------------------------------- gateway and authorizer

def test_route_through_authorizer_gets_a_rest_proxy_event(stack: Stack, http: requests.Session) -> None:
    body = _echo(http.get(url(stack, "/v1/things/th_1?expand=parcels&expand=events&q="), headers=GOOD))
    event = body["event"]
    assert event["resource"] == "/v1/things/{thing_id}"
    assert event["path"] == "/v1/things/th_1"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"thing_id": "th_1"}
    assert event["queryStringParameters"] == {"expand": "events", "q": ""}
    assert event["multiValueQueryStringParameters"]["expand"] == ["parcels", "events"]
    assert event["headers"]["Authorization"] == "Bearer good"
    assert event["multiValueHeaders"]["Authorization"] == ["Bearer good"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "test"
    assert context["resourcePath"] == "/v1/things/{thing_id}"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["authorizer"]["merchant_id"] == "mer_good"
    assert context["authorizer"]["principalId"] == "mer_good"
    assert context["authorizer"]["tier"] == "2" and context["authorizer"]["trusted"] == "true"


def test_literal_path_wins_over_a_path_parameter(stack: Stack, http: requests.Session) -> None:
    assert _echo(http.get(url(stack, "/v1/things/export"), headers=GOOD))["event"]["resource"] == "/v1/things/export"


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer nope"}, 401),
    ({"Authorization": "Bearer deny"}, 403),
    ({"Authorization": "Bearer boom"}, 500),
])
def test_refused_requests_never_reach_the_function(stack: Stack, http: requests.Session,
                                                   headers: dict[str, str], status: int) -> None:
    response = http.get(url(stack, "/v1/things/th_1"), headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json() == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                                   "detail": "Missing or invalid API key"}


def test_public_greedy_route_skips_the_authorizer_and_keeps_the_path_as_sent(stack: Stack,
                                                                              http: requests.Session) -> None:
    event = _echo(http.put(url(stack, "/public/a/b%2Fc"), data=b"\xff\x00binary",
                           headers={"Content-Type": "application/octet-stream"}))["event"]
    assert event["pathParameters"] == {"proxy": "a/b%2Fc"}
    assert event["requestContext"].get("authorizer") is None
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00binary"


def test_json_body_arrives_as_text(stack: Stack, http: requests.Session) -> None:
    event = _echo(http.post(url(stack, "/v1/things"), json={"name": "é"}, headers=GOOD))["event"]
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"name": "é"}


def test_function_response_is_written_back_faithfully(stack: Stack, http: requests.Session) -> None:
    response = http.get(url(stack, "/v1/things/th_1"), headers=GOOD)
    assert response.headers["Content-Type"] == "application/json"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_usage_plan_refuses_unenrolled_keys_and_throttles_enrolled_ones(stack: Stack, http: requests.Session) -> None:
    """Route with ApiKeyRequired, key named by the authorizer (ApiKeySourceType AUTHORIZER), plan in moto."""
    from tests.local.fixture_functions.authorizer import USAGE_KEY

    refused = http.get(url(stack, "/v1/metered"), headers=GOOD)
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
    assert http.get(url(stack, "/v1/things/1"), headers=GOOD).status_code == 200  # no key required there

    assert stack.aws is not None and len(stack.usage_plan_ids) == 1
    gateway = stack.aws.client("apigateway")
    key = gateway.create_api_key(name="mer_good", value=USAGE_KEY, enabled=True)
    gateway.create_usage_plan_key(usagePlanId=stack.usage_plan_ids[0], keyId=key["id"], keyType="API_KEY")
    statuses = [http.get(url(stack, "/v1/metered"), headers=GOOD).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # burst 2, then 0.2 per second
    throttled = http.get(url(stack, "/v1/metered"), headers=GOOD)
    assert throttled.status_code == 429 and throttled.json()["status"] == 429


def test_unknown_route_is_404_and_wrong_method_405(stack: Stack, http: requests.Session) -> None:
    missing = http.get(url(stack, "/v2/nothing"), headers=GOOD)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    wrong = http.delete(url(stack, "/v1/things"), headers=GOOD)
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"


def test_failing_function_is_a_502(stack: Stack, http: requests.Session) -> None:
    response = http.get(url(stack, "/v1/boom"), headers=GOOD)
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_body_over_ten_megabytes_is_413(stack: Stack, http: requests.Session) -> None:
    response = http.post(url(stack, "/v1/things"), data=b"x" * (10 * 1024 * 1024 + 1), headers=GOOD)
    assert response.status_code == 413


def test_functions_get_their_environment_with_local_values(stack: Stack, http: requests.Session) -> None:
    body = _echo(http.get(url(stack, "/v1/things/th_1"), headers=GOOD))
    env = body["env"]
    assert env["FLAVOUR"] == "echo"  # differs per function: set around the invocation
    assert env["TABLE_NAME"] == "colis-local-Table"
    assert env["EVENT_BUS_NAME"] == "colis-local-bus"
    assert env["MODE"] == "testing"
    assert env["TRACKING_BASE_URL"] == stack.api_url
    assert len(env["CURSOR_SECRET"]) == 40  # from the template's generated secret
    assert env["AWS_ENDPOINT_URL"] == stack.aws_endpoint_url
    assert body["context"]["function_name"] == "colis-local-EchoFunction"
    assert 0 < body["context"]["remaining_ms"] <= 10_000


# ---------------------------------------------------------------- streams and TTL

def test_stream_consumer_gets_only_records_matching_its_filter(stack: Stack) -> None:
    _put(stack, "stream#1", kind={"S": "wanted-first"})
    _put(stack, "stream#2", kind={"S": "other"})
    _put(stack, "stream#3", kind={"S": "wanted-last"})
    records = wait_for("outbox", lambda events: (r := _records(events)) and "wanted-last" in _kinds(r) and r)
    assert "other" not in _kinds(records)
    record = next(r for r in records if _kinds([r]) == ["wanted-first"])
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventVersion"] == "1.1"
    assert record["awsRegion"] == "eu-west-1"
    assert record["eventSourceARN"].startswith("arn:aws:dynamodb:eu-west-1:123456789012:table/colis-local-Table/stream/")
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "stream#1"}, "sk": {"S": "X"}}
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert abs(record["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 120  # epoch seconds, UTC
    assert record["dynamodb"]["NewImage"]["kind"] == {"S": "wanted-first"}
    assert "userIdentity" not in record


def test_record_failing_every_retry_goes_to_the_failure_destination(stack: Stack) -> None:
    assert stack.aws is not None
    _put(stack, "stream#poison", kind={"S": "wanted-poison"})
    sqs = stack.aws.client("sqs")
    queue_url = sqs.get_queue_url(QueueName="colis-local-FailureQueue")["QueueUrl"]
    deadline = time.monotonic() + 10
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
    assert messages, "no failure record"
    failure = json.loads(messages[0]["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2  # MaximumRetryAttempts: 1
    info = failure["DDBStreamBatchInfo"]
    poison = next(r for r in _records(calls("outbox")) if _kinds([r]) == ["wanted-poison"])
    assert info["startSequenceNumber"] == poison["dynamodb"]["SequenceNumber"]
    assert info["streamArn"] == poison["eventSourceARN"]


def test_ttl_expiry_follows_the_product_clock_and_is_marked_as_the_service(stack: Stack,
                                                                           http: requests.Session) -> None:
    assert stack.aws is not None
    product_now = int(_product_now(stack, http).timestamp())  # other tests may have moved it already
    _put(stack, "ttl#user", kind={"S": "x"})
    _put(stack, "ttl#soon", ttl={"N": str(product_now + 3600)})
    _put(stack, "ttl#later", ttl={"N": str(product_now + 30 * 86400)})
    table = stack.functions["EchoFunction"].environment["TABLE_NAME"]
    stack.aws.client("dynamodb").delete_item(TableName=table, Key={"pk": {"S": "ttl#user"}, "sk": {"S": "X"}})

    moved = http.post(url(stack, "/_local/clock"), json={"advance_seconds": 7200})
    assert moved.status_code == 200

    removed = wait_for("expiry", lambda events: [r for r in _records(events) if r["dynamodb"]["Keys"]["pk"]["S"] == "ttl#soon"])
    assert removed[0]["eventName"] == "REMOVE"
    assert removed[0]["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    expired_keys = {r["dynamodb"]["Keys"]["pk"]["S"] for r in _records(calls("expiry"))}
    assert "ttl#user" not in expired_keys and "ttl#later" not in expired_keys
    item = stack.aws.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "ttl#later"}, "sk": {"S": "X"}})
    assert "Item" in item


# ---------------------------------------------------------------- clock, schedules, mail

def test_clock_moves_forward_by_days(stack: Stack, http: requests.Session) -> None:
    before = _product_now(stack, http)
    moved = http.post(url(stack, "/_local/clock"), json={"advance_days": 3}).json()
    after = datetime.fromisoformat(moved["now"])
    assert timedelta(days=3) <= after - before < timedelta(days=3, minutes=1)
    assert moved["unix"] == int(after.timestamp())  # what a carrier signature's `t=` is dated with locally
    assert http.post(url(stack, "/_local/clock"), json={"advance_days": "soon"}).status_code == 400


def test_schedule_runs_on_demand_with_a_scheduler_event(stack: Stack, http: requests.Session) -> None:
    assert http.get(url(stack, "/_local/schedules")).json() == {"schedules": ["nightly"]}
    response = http.post(url(stack, "/_local/schedules/nightly"))
    assert response.status_code == 200
    assert response.json() == {"schedule": "nightly", "result": {"ran": "yes"}}
    ran = calls("schedule")[-1]
    assert ran["flavour"] == "nightly"
    assert ran["event"]["detail-type"] == "Scheduled Event"
    assert ran["event"]["source"] == "aws.scheduler"
    assert http.post(url(stack, "/_local/schedules/weekly")).status_code == 404


def test_outbox_lists_sent_mail_with_both_bodies(stack: Stack, http: requests.Session) -> None:
    assert http.post(url(stack, "/v1/mail"), headers=GOOD).status_code == 200
    items = http.get(url(stack, "/_local/outbox")).json()["items"]
    assert items[-1]["to"] == "ada@example.test"
    assert items[-1]["subject"] == "Your parcel"
    assert items[-1]["text"] == "It is on its way."
    assert items[-1]["html"] == "<p>It is on its way.</p>"
    assert items[-1]["sent_at"].endswith("Z")


# ---------------------------------------------------------------- EventBridge, SQS, S3

def test_eventbridge_rule_delivers_matching_events_only(stack: Stack) -> None:
    assert stack.aws is not None
    events = stack.aws.client("events")
    for detail_type, n in (("Pong", 1), ("Ping", 2)):
        events.put_events(Entries=[{"EventBusName": "colis-local-bus", "Source": "colis.test",
                                    "DetailType": detail_type, "Detail": json.dumps({"n": n})}])
    delivered = wait_for("rule", lambda got: got)
    assert [event["detail-type"] for event in delivered] == ["Ping"]
    assert delivered[0]["detail"] == {"n": 2}
    assert delivered[0]["account"] == "123456789012"


def test_queue_consumer_gets_sqs_records(stack: Stack) -> None:
    assert stack.aws is not None
    sqs = stack.aws.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="colis-local-WorkQueue")["QueueUrl"], MessageBody='{"job": 7}')
    record = wait_for("queue", lambda events: _records(events))[0]
    assert record["body"] == '{"job": 7}'
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:eu-west-1:123456789012:colis-local-WorkQueue"


def test_s3_notification_honours_the_prefix_filter(stack: Stack) -> None:
    assert stack.aws is not None
    s3 = stack.aws.client("s3")
    s3.put_object(Bucket="colis-local-uploads", Key="other/skip.csv", Body=b"a")
    s3.put_object(Bucket="colis-local-uploads", Key="incoming/file one.csv", Body=b"b")
    record = wait_for("upload", lambda events: _records(events))[0]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == "colis-local-uploads"
    assert record["s3"]["object"]["key"] == "incoming/file+one.csv"
    assert len(_records(calls("upload"))) == 1


def test_outbox_reads_raw_mime_and_ses_v1_mail(stack: Stack, http: requests.Session) -> None:
    assert stack.aws is not None
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "sender@colis.test", "bob@example.test", "Livré"
    message.set_content("Votre colis est livré.")
    message.add_alternative("<p>Votre colis est livré.</p>", subtype="html")
    stack.aws.client("sesv2").send_email(FromEmailAddress="sender@colis.test",
                                         Destination={"ToAddresses": ["bob@example.test"]},
                                         Content={"Raw": {"Data": message.as_bytes()}})
    stack.aws.client("ses").send_email(Source="sender@colis.test", Destination={"ToAddresses": ["eve@example.test"]},
                                       Message={"Subject": {"Data": "Plain"}, "Body": {"Text": {"Data": "text only"}}})
    items = http.get(url(stack, "/_local/outbox")).json()["items"]
    raw, plain = items[-2], items[-1]
    assert (raw["to"], raw["subject"]) == ("bob@example.test", "Livré")
    assert raw["text"].strip() == "Votre colis est livré."
    assert raw["html"].strip() == "<p>Votre colis est livré.</p>"
    assert (plain["to"], plain["subject"], plain["text"], plain["html"]) == ("eve@example.test", "Plain", "text only", None)
