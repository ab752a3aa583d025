"""The environment is read in one place (shared.platform.settings), typed, and followed when it changes."""

from __future__ import annotations

import pytest

from shared.platform.settings import _NAMES as READ
from shared.platform.settings import MissingSetting, settings


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in READ:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("name", READ)
def test_every_variable_the_cache_is_keyed_by_is_one_the_settings_read(bare: pytest.MonkeyPatch, name: str) -> None:
    before = settings()
    changed = []
    for value in ("0", "1"):  # a flag reads one of them as its default
        bare.setenv(name, value)
        changed.append(settings() != before)
    assert any(changed)


@pytest.mark.parametrize(("variable", "attribute"), [
    ("TABLE_NAME", "table_name"), ("EVENT_BUS_NAME", "event_bus_name"), ("EXPORT_BUCKET", "export_bucket"),
    ("IMPORT_BUCKET", "import_bucket"), ("SENDER_EMAIL", "sender_email"), ("CURSOR_SECRET_ARN", "cursor_secret_arn"),
    ("PAYMENT_PROVIDER_SECRET_ARN", "payment_provider_secret_arn"),
])
def test_a_required_variable_that_is_missing_is_named_when_used(bare: pytest.MonkeyPatch, variable: str,
                                                                 attribute: str) -> None:
    with pytest.raises(MissingSetting, match=variable):
        getattr(settings(), attribute)
    bare.setenv(variable, "value")
    assert getattr(settings(), attribute) == "value"


def test_the_cursor_secret_has_no_default_in_the_code(bare: pytest.MonkeyPatch) -> None:
    bare.setenv("CURSOR_SECRET_ARN", "")
    with pytest.raises(MissingSetting, match="CURSOR_SECRET_ARN"):
        _ = settings().cursor_secret_arn


def test_optional_variables_have_their_documented_defaults(bare: pytest.MonkeyPatch) -> None:
    current = settings()
    assert current.endpoint_url is None and current.region is None and current.tracking_base_url is None
    assert current.connection_secret_prefix == "/colis/connections/"
    assert current.payment_provider == "embedded"
    assert current.metrics_namespace == "Colis"
    assert current.tracing is False
    assert current.ses_configuration_set is None


def test_values_are_read_as_the_code_uses_them(bare: pytest.MonkeyPatch) -> None:
    bare.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    bare.setenv("AWS_ENDPOINT_URL", "")  # empty means unset: boto3 would reject an empty endpoint
    bare.setenv("PAYMENT_PROVIDER", " Stripe ")
    bare.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    current = settings()
    assert (current.region, current.endpoint_url, current.payment_provider, current.tracing) == (
        "eu-west-3", None, "stripe", True)
    bare.setenv("AWS_REGION", "eu-central-1")  # what Lambda sets wins over the default region
    assert settings().region == "eu-central-1"


def test_settings_follow_the_environment_and_are_cached_while_it_holds(bare: pytest.MonkeyPatch) -> None:
    bare.setenv("TABLE_NAME", "one")
    first = settings()
    assert settings() is first
    bare.setenv("TABLE_NAME", "two")
    assert settings().table_name == "two"


def test_secrets_stay_out_of_the_representation(bare: pytest.MonkeyPatch) -> None:
    bare.setenv("CURSOR_SECRET_ARN", "do-not-print-me")
    assert "do-not-print-me" not in repr(settings())
