"""Lazily created, cached boto3 clients.

Nothing is created at import time (cold start stays lean) and every client honours
`AWS_ENDPOINT_URL`, which is how the local stack and the tests point them at moto.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import Any

_lock = threading.Lock()


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session()


def _config() -> Any:
    from botocore.config import Config

    return Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    with _lock:
        return _session().client(service, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
                                 config=_config())


@cache
def _dynamodb_resource() -> Any:
    with _lock:
        return _session().resource("dynamodb", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
                                   config=_config())


def table() -> Any:
    """The single table (boto3 Table resource) named by `TABLE_NAME`."""
    return _table(os.environ["TABLE_NAME"])


@cache
def _table(name: str) -> Any:
    return _dynamodb_resource().Table(name)


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints between moto instances)."""
    for cached in (_session, client, _dynamodb_resource, _table):
        cached.cache_clear()
