"""Requests served on threads (the local stack) flush the shared metric set without racing: a
flush never meets a set another request emptied between its check and its flush."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from shared.platform import observability
from shared.platform.observability import count, entrypoint
from tests.apigw import LambdaContext


def test_concurrent_requests_flush_their_metrics_without_error(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setattr(observability, "_metrics", None)  # a fresh instance, dropped after the test

    @entrypoint()
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        count("TestRequest")
        return {}

    failures: list[BaseException] = []

    def serve() -> None:
        try:
            for _ in range(300):
                handler({}, LambdaContext())
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=serve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert capsys.readouterr().out.count('"TestRequest"') > 0
    observability.metrics().clear_metrics()
