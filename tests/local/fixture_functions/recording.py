"""Asynchronous consumers that record what they receive (see recorder.py)."""

from __future__ import annotations

import os
from typing import Any

from tests.local.fixture_functions.recorder import record


def outbox_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Stream consumer: refuses records of kind `wanted-poison`, reporting them as batch item failures."""
    record("outbox", event)
    failures = [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in event["Records"]
                if r["dynamodb"].get("NewImage", {}).get("kind", {}).get("S") == "wanted-poison"]
    return {"batchItemFailures": failures}


def expiry_handler(event: dict[str, Any], context: Any) -> None:
    record("expiry", event)


def rule_handler(event: dict[str, Any], context: Any) -> None:
    record("rule", event)


def schedule_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    record("schedule", {"event": event, "flavour": os.environ.get("FLAVOUR")})
    return {"ran": "yes"}


def queue_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    record("queue", event)
    return {"batchItemFailures": []}


def upload_handler(event: dict[str, Any], context: Any) -> None:
    record("upload", event)
