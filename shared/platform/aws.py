"""Every boto3 client and resource the code uses is made here: lazily, cached, and pointed at
`AWS_ENDPOINT_URL` when it is set (how the local stack and the tests reach moto).

Nothing is created at import time (cold start stays lean). Besides the ordinary clients, which
retry, there are three made for one purpose each: a client that makes one attempt only (for
requests without idempotency key), the table through a client made for bulk work, and the one
presigner of S3 links.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from shared.platform import settings as settings_module
from shared.platform.settings import settings

_lock = threading.Lock()


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session()


def _config(**options: Any) -> Any:
    from botocore.config import Config

    defaults: dict[str, Any] = {"retries": {"max_attempts": 3, "mode": "standard"}, "connect_timeout": 3,
                                "read_timeout": 10}
    return Config(**{**defaults, **options})


@cache
def client(service: str) -> Any:
    with _lock:
        return _session().client(service, endpoint_url=settings().endpoint_url, config=_config())


def single_attempt_client(service: str, *, connect_timeout: float, read_timeout: float,
                          endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A client that never retries by itself: for a request that may have acted although its
    answer was lost (SES sends have no idempotency key; a retry could send twice). Endpoint and
    region default to the environment's."""
    current = settings()
    return _single_attempt_client(service, endpoint_url or current.endpoint_url, region or current.region,
                                  connect_timeout, read_timeout)


@cache
def _single_attempt_client(service: str, endpoint_url: str | None, region: str | None, connect_timeout: float,
                           read_timeout: float) -> Any:
    # `total_max_attempts`, not `max_attempts`: the latter counts retries, so 1 would mean 2 attempts.
    config = _config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=connect_timeout,
                     read_timeout=read_timeout)
    with _lock:
        return _session().client(service, endpoint_url=endpoint_url, region_name=region, config=config)


@cache
def _dynamodb_resource() -> Any:
    with _lock:
        return _session().resource("dynamodb", endpoint_url=settings().endpoint_url, config=_config())


def table() -> Any:
    """The single table (boto3 Table resource) named by `TABLE_NAME`."""
    return _table(settings().table_name)


@cache
def _table(name: str) -> Any:
    return _dynamodb_resource().Table(name)


def bulk_table(connections: int) -> Any:
    """The table through a client made for bulk work: `connections` pooled connections (one per
    writer thread), more patient retries, and no client-side parameter validation (a sixth of the
    CPU of a batch request; DynamoDB validates anyway)."""
    current = settings()
    return _bulk_table(current.table_name, current.endpoint_url, connections)


@cache
def _bulk_table(name: str, endpoint_url: str | None, connections: int) -> Any:
    config = _config(retries={"max_attempts": 5, "mode": "standard"}, read_timeout=20,
                     max_pool_connections=connections, parameter_validation=False)
    with _lock:
        return _session().resource("dynamodb", endpoint_url=endpoint_url, config=config).Table(name)


def presigner() -> Any:
    """The S3 client that signs links (presigned GET and PUT URLs)."""
    current = settings()
    return _presigner(current.endpoint_url, current.region)


@cache
def _presigner(endpoint_url: str | None, region: str | None) -> Any:
    # SigV4 (`X-Amz-Expires`; botocore may otherwise presign with the legacy scheme) on the bucket's
    # regional host: the global host answers a redirect, or an error for a SigV4 URL, for buckets
    # outside us-east-1. A custom endpoint (moto) keeps botocore's default: path-style on an IP.
    addressing = {} if endpoint_url else {"addressing_style": "virtual"}
    with _lock:
        return _session().client("s3", endpoint_url=endpoint_url, region_name=region,
                                 config=_config(signature_version="s3v4", s3=addressing))


def reset_clients() -> None:
    """Forget cached clients and settings (tests switch endpoints between moto instances)."""
    for cached in (_session, client, _single_attempt_client, _dynamodb_resource, _table, _bulk_table, _presigner):
        cached.cache_clear()
    settings_module.reset()
