"""Logger, metrics and the entry-point decorator shared by every function.

Tracer (and with it aws_xray_sdk, ~190 ms of cold start) is imported only when tracing is on,
decided at the first invocation rather than at import time.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from shared.platform import coldstart
from shared.platform.settings import settings

logger = Logger(service="colis")

# Lambda's advanced logging controls can put the root logger at DEBUG; botocore then logs every
# request and response body (table items with names, addresses, emails, phones) and urllib3 and
# s3transfer what they carry. Nothing of ours needs their DEBUG lines, so they stop at INFO.
WIRE_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
for _name in WIRE_LOGGERS:
    _wire = logging.getLogger(_name)
    _wire.setLevel(max(_wire.level, logging.INFO))

_metrics: Any = None
_flush_lock = threading.Lock()


def metrics() -> Any:
    global _metrics
    if _metrics is None:
        from aws_lambda_powertools import Metrics

        _metrics = Metrics(namespace=settings().metrics_namespace)
    return _metrics


def count(name: str, value: float = 1) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


def _has_metrics(metrics_object: Any) -> bool:
    provider = getattr(metrics_object, "provider", None)
    return bool(getattr(provider, "metric_set", None) or getattr(metrics_object, "metric_set", None))


def _flush_metrics() -> None:
    # Metrics instances share one metric set per process. Lambda runs one request at a time, but
    # the local stack serves requests on threads: without the lock another request can flush the
    # set between the check and the flush, and powertools refuses to serialise an empty set.
    with _flush_lock:
        if _metrics is not None and _has_metrics(_metrics):
            _metrics.flush_metrics()


def _tracing_enabled() -> bool:
    return settings().tracing


def entrypoint(correlation_id_path: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Logger context with correlation id, metrics flush, and X-Ray only when tracing is on."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        coldstart.loaded()
        logged = logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(handler)
        traced: list[Callable[..., Any]] = []

        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            target = logged
            if _tracing_enabled():
                if not traced:
                    from aws_lambda_powertools import Tracer

                    # Responses and error bodies carry personal data (a shipment, a customer): the
                    # trace keeps timings and annotations only (also set in template.yaml Globals).
                    traced.append(Tracer().capture_lambda_handler(logged, capture_response=False,
                                                                  capture_error=False))
                target = traced[0]
            try:
                return target(event, context)
            finally:
                _flush_metrics()

        return run

    return decorate
