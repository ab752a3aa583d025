"""Process environment for functions that all run in this one process.

Choice: variables on which every function that sets them agrees (with the real template, all of
them: they come from `Globals`) are set process-wide once. Variables whose values differ between
functions are set around each invocation of those functions under one lock, so only those
invocations are serialised; the others run concurrently, as Lambda would run them.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from local.moto_server import ACCOUNT_ID, CREDENTIALS, REGION


def base_environment(endpoint_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCOUNT_ID": ACCOUNT_ID,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Colis",
    }


def with_local_values(per_function: Mapping[str, Mapping[str, str]], api_url: str) -> dict[str, dict[str, str]]:
    """Values only the local stack can know: its own URL for links, one cursor secret when the
    template gives none, and that merchants' webhook endpoints may be plain http on loopback (a
    receiver on this machine; never so on AWS)."""
    cursor_secret = secrets.token_hex(32)
    out = {}
    for name, variables in per_function.items():
        environment = {**variables, "TRACKING_BASE_URL": api_url, "OUTBOUND_ALLOW_LOOPBACK": "true"}
        if not environment.get("CURSOR_SECRET"):
            environment["CURSOR_SECRET"] = cursor_secret
        out[name] = environment
    return out


def split_environments(per_function: Mapping[str, Mapping[str, str]]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(variables every function agrees on, per function the variables that differ)."""
    values: dict[str, set[str]] = {}
    for environment in per_function.values():
        for key, value in environment.items():
            values.setdefault(key, set()).add(value)
    shared = {key: next(iter(found)) for key, found in values.items() if len(found) == 1}
    own = {name: {k: v for k, v in environment.items() if k not in shared} for name, environment in per_function.items()}
    return shared, own


class ProcessEnvironment:
    """Sets variables on os.environ and puts everything back on `restore` (in-process tests)."""

    def __init__(self) -> None:
        self._saved = dict(os.environ)
        self.swap_lock = threading.RLock()

    def apply(self, variables: Mapping[str, str]) -> None:
        os.environ.update(variables)

    @contextmanager
    def swapped(self, variables: Mapping[str, str]) -> Iterator[None]:
        if not variables:
            yield
            return
        with self.swap_lock:
            previous = {key: os.environ.get(key) for key in variables}
            os.environ.update(variables)
            try:
                yield
            finally:
                for key, value in previous.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def restore(self) -> None:
        os.environ.clear()
        os.environ.update(self._saved)
