from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from shared.platform import aws, clock
from tests.template_resources import create_table

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def _product_clock() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto in-process, with the table built from template.yaml and the other resources."""
    from moto import mock_aws

    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "TABLE_NAME": "colis-test", "EVENT_BUS_NAME": "colis-test",
        "EXPORT_BUCKET": "colis-exports-test", "IMPORT_BUCKET": "colis-imports-test",
        "SENDER_EMAIL": "no-reply@colis.test", "TRACKING_BASE_URL": "https://api.colis.test",
        "CURSOR_SECRET": "test-cursor-secret", "CONNECTION_SECRET_PREFIX": "/colis/test/connections/",
        "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Colis",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.reset_clients()
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name=REGION), env["TABLE_NAME"])
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (env["EXPORT_BUCKET"], env["IMPORT_BUCKET"]):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("events", region_name=REGION).create_event_bus(Name=env["EVENT_BUS_NAME"])
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=env["SENDER_EMAIL"])
        yield env
    aws.reset_clients()
    os.environ.pop("AWS_ENDPOINT_URL", None)
