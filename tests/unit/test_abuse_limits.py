"""The abuse limits template.yaml declares: per-merchant usage plan on every /v1/ route, carrier
floods bounded on the webhook route (API Gateway throttle + reserved concurrency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

TEMPLATE, _ = decode(str(Path(__file__).resolve().parents[2] / "template.yaml"))
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
API = RESOURCES["Api"]["Properties"]


def _routes() -> list[tuple[str, str, dict[str, Any], str]]:
    found = []
    for logical_id, resource in RESOURCES.items():
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                found.append((props["Method"].upper(), props["Path"], props.get("Auth") or {}, logical_id))
    return found


def test_the_usage_plan_key_comes_from_the_authorizer_and_every_route_requires_it() -> None:
    assert API["ApiKeySourceType"] == "AUTHORIZER"
    assert API["Auth"]["ApiKeyRequired"] is True


@pytest.mark.parametrize(("method", "path", "auth", "function"), _routes(), ids=lambda v: str(v))
def test_private_routes_are_metered_and_public_ones_are_not(method: str, path: str, auth: dict[str, Any],
                                                            function: str) -> None:
    public = path.startswith(("/webhooks/", "/track/"))
    assert auth.get("Authorizer") == ("NONE" if public else None)
    assert auth.get("ApiKeyRequired", True) is not public


def test_the_merchant_plan_throttles_the_api_stage() -> None:
    plan = RESOURCES["MerchantUsagePlan"]["Properties"]
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "Api.Stage"}}]
    assert set(plan["Throttle"]) == {"RateLimit", "BurstLimit"}
    assert "UsagePlanId" in TEMPLATE["Outputs"]


def test_carrier_floods_are_bounded_and_answered_with_a_retryable_problem() -> None:
    webhook = [s for s in API["MethodSettings"] if s["ResourcePath"] == "/~1webhooks~1{carrier}~1{connection_id}"]
    assert len(webhook) == 1 and webhook[0]["HttpMethod"] == "POST"
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(webhook[0])
    assert RESOURCES["WebhookFunction"]["Properties"]["ReservedConcurrentExecutions"] > 0
    for kind, status in (("THROTTLED", 429), ("QUOTA_EXCEEDED", 429), ("INVALID_API_KEY", 403)):
        response = API["GatewayResponses"][kind]
        assert response["StatusCode"] == status
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/problem+json'"
