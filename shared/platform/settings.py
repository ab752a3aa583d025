"""The environment this process runs in, read in one place and typed.

Every environment variable the code reads is a field here (the powertools ones it reads itself,
`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_LOG_LEVEL`, `POWERTOOLS_METRICS_DISABLED`, are not).
Nothing is read at import time: `settings()` reads the variables when first asked and keeps the
result for as long as they hold the same values. On Lambda they never change, so every call after
the first is a cache hit; tests and the local stack that switch variables get fresh settings
without having to remember to reset anything.

A variable the environment must provide (`TABLE_NAME`, `CURSOR_SECRET_ARN`, ...) is checked when it is
used, not when the settings are built: a function that never touches the export bucket does not
need `EXPORT_BUCKET`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache


class MissingSetting(RuntimeError):
    """A variable this code path needs is not set: a deployment (or test set-up) mistake."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set")
        self.name = name


def _required(value: str | None, name: str) -> str:
    if not value:
        raise MissingSetting(name)
    return value


DEFAULT_ORPHANS_PER_CONNECTION = 50_000


@dataclass(frozen=True)
class Settings:
    # AWS_ENDPOINT_URL: moto, for the local stack and the tests; None on AWS.
    endpoint_url: str | None
    # AWS_REGION (Lambda sets it), else AWS_DEFAULT_REGION.
    region: str | None
    # TRACKING_BASE_URL: the public base URL of links we hand out; None: the API's own address.
    tracking_base_url: str | None
    # CONNECTION_SECRET_PREFIX: SSM path under which carrier connections keep their webhook secrets.
    connection_secret_prefix: str
    # PAYMENT_PROVIDER: `embedded` or `stripe` (checked where the provider is chosen).
    payment_provider: str
    # POWERTOOLS_METRICS_NAMESPACE.
    metrics_namespace: str
    # POWERTOOLS_TRACE_DISABLED: tracing (and with it the X-Ray SDK) is off unless set to false.
    tracing: bool
    # SES_CONFIGURATION_SET: the configuration set whose event destination reports bounces and
    # complaints; None sends without one (tests).
    ses_configuration_set: str | None
    # OUTBOUND_ALLOW_LOOPBACK: merchants' webhook endpoints may be plain http on loopback (set by the
    # local stack and the tests only; on AWS every endpoint is https to a public address).
    outbound_allow_loopback: bool
    # ORPHANS_PER_CONNECTION: live updates for unknown tracking numbers a carrier connection may
    # hold (DESIGN.md §1.1: 50,000); above it a delivery is 429 and the carrier retries.
    orphans_per_connection: int
    _table_name: str | None = field(repr=False)
    _event_bus_name: str | None = field(repr=False)
    _export_bucket: str | None = field(repr=False)
    _import_bucket: str | None = field(repr=False)
    _sender_email: str | None = field(repr=False)
    _cursor_secret_arn: str | None = field(repr=False)
    _payment_provider_secret_arn: str | None = field(repr=False)
    _outbound_queue_url: str | None = field(repr=False)

    @property
    def table_name(self) -> str:
        return _required(self._table_name, "TABLE_NAME")

    @property
    def event_bus_name(self) -> str:
        return _required(self._event_bus_name, "EVENT_BUS_NAME")

    @property
    def export_bucket(self) -> str:
        return _required(self._export_bucket, "EXPORT_BUCKET")

    @property
    def import_bucket(self) -> str:
        return _required(self._import_bucket, "IMPORT_BUCKET")

    @property
    def sender_email(self) -> str:
        return _required(self._sender_email, "SENDER_EMAIL")

    @property
    def cursor_secret_arn(self) -> str:
        """The Secrets Manager secret holding the HMAC key of list cursors (shared/dynamo/paging
        reads it at run time). No default: a key written in the code would let anyone forge a
        cursor, and a key in the function's configuration is readable by whoever may read that."""
        return _required(self._cursor_secret_arn, "CURSOR_SECRET_ARN")

    @property
    def payment_provider_secret_arn(self) -> str:
        return _required(self._payment_provider_secret_arn, "PAYMENT_PROVIDER_SECRET_ARN")

    @property
    def outbound_queue_url(self) -> str:
        """The queue the webhook delivery function reads (a test ping and a replay are put on it)."""
        return _required(self._outbound_queue_url, "OUTBOUND_QUEUE_URL")


# The variables `settings()` depends on: the key of its cache.
_NAMES = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "TRACKING_BASE_URL", "CONNECTION_SECRET_PREFIX",
          "PAYMENT_PROVIDER", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_TRACE_DISABLED", "TABLE_NAME",
          "EVENT_BUS_NAME", "EXPORT_BUCKET", "IMPORT_BUCKET", "SENDER_EMAIL", "CURSOR_SECRET_ARN",
          "PAYMENT_PROVIDER_SECRET_ARN", "SES_CONFIGURATION_SET", "OUTBOUND_ALLOW_LOOPBACK", "OUTBOUND_QUEUE_URL",
          "ORPHANS_PER_CONNECTION")


@lru_cache(maxsize=8)
def _build(values: tuple[str | None, ...]) -> Settings:
    env = dict(zip(_NAMES, values, strict=True))
    return Settings(
        endpoint_url=env["AWS_ENDPOINT_URL"] or None,
        region=env["AWS_REGION"] or env["AWS_DEFAULT_REGION"] or None,
        tracking_base_url=env["TRACKING_BASE_URL"] or None,
        connection_secret_prefix=env["CONNECTION_SECRET_PREFIX"] or "/colis/connections/",
        payment_provider=(env["PAYMENT_PROVIDER"] or "embedded").strip().lower(),
        metrics_namespace=env["POWERTOOLS_METRICS_NAMESPACE"] or "Colis",
        tracing=(env["POWERTOOLS_TRACE_DISABLED"] or "true").strip().lower() not in ("1", "true"),
        ses_configuration_set=env["SES_CONFIGURATION_SET"] or None,
        outbound_allow_loopback=(env["OUTBOUND_ALLOW_LOOPBACK"] or "").strip().lower() in ("1", "true"),
        orphans_per_connection=int(env["ORPHANS_PER_CONNECTION"] or DEFAULT_ORPHANS_PER_CONNECTION),
        _table_name=env["TABLE_NAME"], _event_bus_name=env["EVENT_BUS_NAME"], _export_bucket=env["EXPORT_BUCKET"],
        _import_bucket=env["IMPORT_BUCKET"], _sender_email=env["SENDER_EMAIL"],
        _cursor_secret_arn=env["CURSOR_SECRET_ARN"], _payment_provider_secret_arn=env["PAYMENT_PROVIDER_SECRET_ARN"],
        _outbound_queue_url=env["OUTBOUND_QUEUE_URL"])


def settings() -> Settings:
    """The settings of the current environment (cached per distinct set of values)."""
    environ = os.environ
    return _build(tuple(environ.get(name) for name in _NAMES))


def reset() -> None:
    """Forget the cached settings (not needed for correctness: the cache is keyed by the values)."""
    _build.cache_clear()
