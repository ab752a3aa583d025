"""REQUEST authorizer: maps `Authorization: Bearer <key>` to the merchant id (no caching, so a
revoked key fails at once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from shared.merchants.api_keys import LAST_USED_INTERVAL, ApiKey, ApiKeyRepository
from shared.merchants.usage_plans import usage_identifier
from shared.platform import clock
from shared.platform.observability import entrypoint, logger

# Key id → when this instance last recorded its use. A refused conditional write still costs a
# write unit, so an instance does not even try again within the interval; other instances are
# held back by the condition itself (ApiKeyRepository.mark_used).
_marked: dict[str, datetime] = {}
_MARKED_MAX = 10_000


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


def _mark_used(keys: ApiKeyRepository, api_key: ApiKey) -> None:
    """`last_used_at`, at most once per interval; never a reason to refuse the request."""
    now = clock.now()
    last = _marked.get(api_key.id)
    if last is not None and now - last < LAST_USED_INTERVAL:
        return
    if len(_marked) >= _MARKED_MAX:
        _marked.clear()
    _marked[api_key.id] = now
    try:
        keys.mark_used(api_key, now)
    except (BotoCoreError, ClientError) as error:  # throttled, say: the next request's turn comes soon
        logger.warning("last_used_at not recorded", extra={"error_type": type(error).__name__})


@entrypoint()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token = bearer_token(event.get("headers"))
    keys = ApiKeyRepository()
    api_key = keys.merchant_for_key(token) if token else None
    if api_key is None:
        logger.info("api key rejected")
        raise Unauthorized("Unauthorized")  # API Gateway answers 401 for exactly this message
    _mark_used(keys, api_key)
    return {
        "principalId": api_key.merchant_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _api_scope(event.get("methodArn", "*"))},
        ]},
        # The scope is enforced by the API functions (shared.http.api): the policy covers the whole
        # stage, so one decision holds for every route the key may call.
        "context": {"merchant_id": api_key.merchant_id, "key_id": api_key.id, "scope": api_key.scope},
        # the merchant's usage-plan key: API Gateway throttles each merchant by its plan
        "usageIdentifierKey": usage_identifier(api_key.merchant_id),
    }
