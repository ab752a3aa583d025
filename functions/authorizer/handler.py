"""REQUEST authorizer: maps `Authorization: Bearer <key>` to the merchant id (no caching, so a
revoked key fails at once)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.merchants.api_keys import ApiKeyRepository
from shared.merchants.usage_plans import usage_identifier
from shared.platform.observability import entrypoint, logger


class Unauthorized(Exception):
    pass


def bearer_token(headers: dict[str, str] | None) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and value:
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def _api_scope(method_arn: str) -> str:
    """Allow every route of this API stage: the policy holds for the whole key, not one route."""
    arn, _, path = method_arn.partition("/")
    stage = path.split("/", 1)[0] if path else "*"
    return f"{arn}/{stage}/*/*"


@entrypoint()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token = bearer_token(event.get("headers"))
    api_key = ApiKeyRepository().merchant_for_key(token) if token else None
    if api_key is None:
        logger.info("api key rejected")
        raise Unauthorized("Unauthorized")  # API Gateway answers 401 for exactly this message
    return {
        "principalId": api_key.merchant_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _api_scope(event.get("methodArn", "*"))},
        ]},
        "context": {"merchant_id": api_key.merchant_id, "key_id": api_key.id},
        # the merchant's usage-plan key: API Gateway throttles each merchant by its plan
        "usageIdentifierKey": usage_identifier(api_key.merchant_id),
    }
