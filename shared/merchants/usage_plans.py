"""Per-merchant throttling through API Gateway usage plans.

The REST API takes its usage-plan key from the authorizer (`ApiKeySourceType: AUTHORIZER`), so
clients never send or see one: the authorizer names the merchant's key, and API Gateway throttles
each merchant by the plan it is enrolled in. The key's value is derived from the merchant id
(it is a metering identifier, not a credential: API Gateway ignores any `x-api-key` a client
sends), so the authorizer needs no extra read to find it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from shared.platform import aws

_KEY_NAME_PREFIX = "colis-merchant-"
_KEY_VALUE_PREFIX = "colis-usage-"  # API Gateway wants key values of at least 20 characters


def usage_identifier(merchant_id: str) -> str:
    """The value of the merchant's usage-plan key, as the authorizer returns it."""
    return _KEY_VALUE_PREFIX + merchant_id


def enrol_merchant(merchant_id: str, usage_plan_id: str) -> str:
    """Creates the merchant's usage-plan key (once) and adds it to the plan; returns the key id.

    Idempotent, so an operator can re-run it for a merchant created before usage plans existed
    or after a half-finished enrolment."""
    gateway = aws.client("apigateway")
    key_id = _existing_key_id(gateway, merchant_id) or _create_key(gateway, merchant_id)
    with contextlib.suppress(gateway.exceptions.ConflictException):  # already in the plan
        gateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=key_id, keyType="API_KEY")
    return key_id


def _create_key(gateway: Any, merchant_id: str) -> str:
    try:
        created = gateway.create_api_key(name=_KEY_NAME_PREFIX + merchant_id, value=usage_identifier(merchant_id),
                                         enabled=True)
    except gateway.exceptions.ConflictException:
        found = _existing_key_id(gateway, merchant_id)  # created meanwhile by a concurrent enrolment
        if found is None:
            raise
        return found
    return str(created["id"])


def _existing_key_id(gateway: Any, merchant_id: str) -> str | None:
    name = _KEY_NAME_PREFIX + merchant_id
    pages = gateway.get_paginator("get_api_keys").paginate(nameQuery=name, includeValues=True)
    for page in pages:
        for key in page.get("items", []):
            if key.get("name") == name and key.get("value") == usage_identifier(merchant_id):
                return str(key["id"])
    return None
