"""API Gateway usage plans, as the gateway applies them to routes that require an API key: the key
(from `x-api-key`, or from the authorizer's `usageIdentifierKey` when the API's key source is
AUTHORIZER) must be an enabled key of a usage plan bound to the API's stage, and each key is
throttled by its plan's token bucket (rate per second, burst). Plans and keys live in moto, where
the template's `AWS::ApiGateway::UsagePlan` and the operator's enrolments created them. Quotas are
not emulated (documented in the README)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from local.routes import ApiSpec

_POSITIVE_CACHE_SECONDS = 30.0  # API Gateway also takes a while to see key changes


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    updated: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class UsagePlanGate:
    def __init__(self, aws: Any) -> None:
        self._aws = aws
        self._lock = threading.Lock()
        self._plans: dict[tuple[str, str, str], tuple[float, dict[str, Any] | None]] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def refusal(self, api: ApiSpec, key_value: str | None) -> str | None:
        """None when the request may go on, else the gateway response type to answer with."""
        if not key_value:
            return "INVALID_API_KEY"
        plan = self._plan_of(api, key_value)
        if plan is None:
            return "INVALID_API_KEY"
        throttle = plan.get("throttle")
        if not throttle:
            return None
        with self._lock:
            bucket = self._buckets.get((plan["id"], key_value))
            if bucket is None:
                burst = float(throttle.get("burstLimit") or 1)
                bucket = self._buckets[(plan["id"], key_value)] = _Bucket(
                    float(throttle.get("rateLimit") or 0), burst, burst)
            return None if bucket.take() else "THROTTLED"

    def _plan_of(self, api: ApiSpec, key_value: str) -> dict[str, Any] | None:
        cache_key = (api.api_id, api.stage, key_value)
        cached = self._plans.get(cache_key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        plan = self._lookup(api, key_value)
        if plan is not None:  # a refusal is not cached: an enrolment takes effect at once
            self._plans[cache_key] = (time.monotonic() + _POSITIVE_CACHE_SECONDS, plan)
        return plan

    def _lookup(self, api: ApiSpec, key_value: str) -> dict[str, Any] | None:
        gateway = self._aws.client("apigateway")
        pages = gateway.get_paginator("get_api_keys").paginate(includeValues=True)
        keys = (k for page in pages for k in page.get("items", []))
        key = next((k for k in keys if k.get("value") == key_value and k.get("enabled", True)), None)
        if key is None:
            return None
        for plan in gateway.get_usage_plans(keyId=key["id"])["items"]:
            stages = plan.get("apiStages") or []
            if any(s.get("apiId") == api.api_id and s.get("stage") == api.stage for s in stages):
                return plan
        return None
