"""local/iam.py: the policy evaluator, the mapping of SDK operations to IAM requests, and the
enforcement of a function's own role on the calls its handler makes."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from local import iam
from tests import least_privilege

TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/colis-test"


def test_allow_needs_a_matching_action_and_resource_and_deny_wins() -> None:
    statements = [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": TABLE},
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{TABLE}/index/*"},
        {"Effect": "Deny", "Action": "dynamodb:Query", "Resource": f"{TABLE}/index/secret"},
    ]
    assert iam.allowed(statements, "dynamodb:GetItem", TABLE)
    assert iam.allowed(statements, "DynamoDB:getitem", TABLE)  # actions compare case-insensitively
    assert not iam.allowed(statements, "dynamodb:PutItem", TABLE)
    assert not iam.allowed(statements, "dynamodb:GetItem", f"{TABLE}/index/gsi1")  # an index is its own resource
    assert iam.allowed(statements, "dynamodb:Query", f"{TABLE}/index/gsi1")
    assert not iam.allowed(statements, "dynamodb:Query", f"{TABLE}/index/secret")
    assert not iam.allowed(statements, "dynamodb:GetItem", TABLE.upper())  # resources are case-sensitive
    assert not iam.allowed([], "dynamodb:GetItem", TABLE)


def test_wildcards_not_action_and_conditions() -> None:
    statements = [
        {"Effect": "Allow", "Action": "s3:Get?bject", "Resource": "arn:aws:s3:::bucket/exports/*"},
        {"Effect": "Allow", "NotAction": ["s3:*", "ses:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "arn:aws:ses:eu-west-1:1:identity/*",
         "Condition": {"StringEquals": {"ses:FromAddress": "no-reply@colis.test"}}},
    ]
    assert iam.allowed(statements, "s3:GetObject", "arn:aws:s3:::bucket/exports/m/x.csv")
    assert not iam.allowed(statements, "s3:GetObject", "arn:aws:s3:::bucket/imports/x.csv")
    assert not iam.allowed(statements, "s3:PutObject", "arn:aws:s3:::bucket/exports/x")
    assert iam.allowed(statements, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:q")
    identity = "arn:aws:ses:eu-west-1:1:identity/colis.test"
    assert iam.allowed(statements, "ses:SendEmail", identity, {"ses:FromAddress": "no-reply@colis.test"})
    assert not iam.allowed(statements, "ses:SendEmail", identity, {"ses:FromAddress": "ceo@colis.test"})
    assert not iam.allowed(statements, "ses:SendEmail", identity, {})
    with pytest.raises(ValueError, match="NumericLessThan"):
        iam.allowed([{"Effect": "Allow", "Action": "*", "Resource": "*",
                      "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "1"}}}], "s3:GetObject", "x")


def test_operations_map_to_the_requests_aws_authorises() -> None:
    def pairs(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
        return [(r.action, r.resource) for r in iam.requests_of(service, operation, params, "eu-west-1", "123456789012")]

    assert pairs("dynamodb", "Query", {"TableName": "colis-test", "IndexName": "gsi2"}) == [
        ("dynamodb:Query", f"{TABLE}/index/gsi2")]
    assert pairs("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "colis-test"}}, {"ConditionCheck": {"TableName": "colis-test"}}]}) == [
        ("dynamodb:PutItem", TABLE), ("dynamodb:ConditionCheckItem", TABLE)]
    assert pairs("dynamodb", "BatchWriteItem", {"RequestItems": {"colis-test": []}}) == [("dynamodb:BatchWriteItem", TABLE)]
    assert pairs("s3", "HeadObject", {"Bucket": "b", "Key": "k/1"}) == [("s3:GetObject", "arn:aws:s3:::b/k/1")]
    assert pairs("s3", "UploadPart", {"Bucket": "b", "Key": "k"}) == [("s3:PutObject", "arn:aws:s3:::b/k")]
    assert pairs("s3", "ListMultipartUploads", {"Bucket": "b"}) == [("s3:ListBucketMultipartUploads", "arn:aws:s3:::b")]
    assert pairs("sqs", "SendMessage", {"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/q"}) == [
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:q")]
    assert pairs("events", "PutEvents", {"Entries": [{"EventBusName": "bus"}]}) == [
        ("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/bus")]
    assert pairs("ssm", "GetParameter", {"Name": "/colis/x"}) == [
        ("ssm:GetParameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/colis/x")]
    sent = iam.requests_of("ses", "SendEmail", {"FromEmailAddress": "Shop <no-reply@colis.test>",
                                                "ConfigurationSetName": "colis"}, "eu-west-1", "1")
    assert [r.resource for r in sent] == ["arn:aws:ses:eu-west-1:1:identity/no-reply@colis.test",
                                          "arn:aws:ses:eu-west-1:1:configuration-set/colis"]
    assert dict(sent[0].context) == {"ses:FromAddress": "no-reply@colis.test"}


def test_the_template_is_expanded_with_sam_policy_templates_and_event_source_grants() -> None:
    statements = least_privilege.enforcer.statements
    # SAM's own grant for the stream's on-failure destination
    queue = "arn:aws:sqs:eu-west-1:123456789012:colis-OutboxFailureQueue"
    assert iam.allowed(statements["OutboxFunction"], "sqs:SendMessage", queue)
    assert not iam.allowed(statements["TrackingFunction"], "dynamodb:PutItem", TABLE)
    assert iam.allowed(statements["TrackingFunction"], "dynamodb:GetItem", TABLE)


def test_a_call_the_role_does_not_allow_fails_as_in_aws(aws_env: dict) -> None:
    enforcer = least_privilege.enforcer
    mark = enforcer.mark()

    def tracking_page_writes(event: dict, context: object) -> None:
        boto3.client("dynamodb", region_name="eu-west-1").put_item(TableName=aws_env["TABLE_NAME"],
                                                                   Item={"pk": {"S": "x"}, "sk": {"S": "y"}})

    with pytest.raises(ClientError) as denied:
        iam.as_function(enforcer, "TrackingFunction", tracking_page_writes)({}, None)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:PutItem" in denied.value.response["Error"]["Message"]
    refused = [c for c in enforcer.since(mark) if not c.allowed]
    assert [(c.function, c.request.action) for c in refused] == [("TrackingFunction", "dynamodb:PutItem")]
    enforcer.calls[mark:] = []  # this test's own denial is the expected one
    # the same call made outside any handler (test set-up) is nobody's role: not checked
    tracking_page_writes({}, None)
