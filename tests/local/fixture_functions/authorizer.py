"""REQUEST authorizer: `Bearer good` allows, `deny` denies, `boom` crashes, anything else is refused."""

from __future__ import annotations

from typing import Any

USAGE_KEY = "usage-key-of-mer_good-0001"


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = (event.get("headers") or {}).get("Authorization", "").removeprefix("Bearer ")
    if token == "boom":
        raise RuntimeError("authorizer bug")
    if token not in ("good", "deny"):
        raise Exception("Unauthorized")
    effect = "Allow" if token == "good" else "Deny"
    arn, _, path = event["methodArn"].partition("/")
    return {
        "principalId": "mer_good",
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": f"{arn}/{path.split('/')[0]}/*/*"}]},
        "context": {"merchant_id": "mer_good", "tier": 2, "trusted": True},
        "usageIdentifierKey": USAGE_KEY,
    }
