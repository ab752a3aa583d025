from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from shared.platform import aws, clock
from tests import least_privilege
from tests.template_resources import create_table

REGION = least_privilege.REGION


def pytest_configure(config: pytest.Config) -> None:
    least_privilege.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if least_privilege.enforcer is not None:
        least_privilege.report(least_privilege.enforcer.calls,
                               least_privilege.worker_report_path(Path(__file__).resolve().parent.parent))


@pytest.fixture(autouse=True)
def _least_privilege() -> Iterator[None]:
    """A call a function's role would not allow has failed as in AWS; it also fails the test, even
    when the code under test took the AccessDenied in its stride."""
    enforcer = least_privilege.enforcer
    mark = enforcer.mark() if enforcer else 0
    yield
    denied = [c for c in enforcer.since(mark) if not c.allowed] if enforcer else []
    if denied:
        pytest.fail("calls the function's own role (template.yaml) would not allow:\n" +
                    "\n".join(sorted({str(c) for c in denied})), pytrace=False)


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
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", **least_privilege.environment(),
        "TRACKING_BASE_URL": "https://api.colis.test",
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
        cursor_secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=least_privilege.CURSOR_SECRET_NAME, SecretString="test-cursor-secret")["ARN"]
        monkeypatch.setenv("CURSOR_SECRET_ARN", cursor_secret)
        env["CURSOR_SECRET_ARN"] = cursor_secret
        yield env
    aws.reset_clients()
    os.environ.pop("AWS_ENDPOINT_URL", None)
