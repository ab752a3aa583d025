"""CloudFormation dynamic references (`{{resolve:secretsmanager:...}}`, `{{resolve:ssm:...}}`),
read from the secrets and parameters the stack created in moto."""

from __future__ import annotations

import json
import re
from typing import Any

from local.moto_server import Aws

_REFERENCE = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^}]+)\}\}")
_ARN_PARTS = 7  # arn:aws:secretsmanager:region:account:secret:name


def resolve_dynamic_references(value: Any, aws: Aws) -> Any:
    if isinstance(value, str):
        return _REFERENCE.sub(lambda match: _lookup(aws, match.group(1), match.group(2)), value)
    if isinstance(value, list):
        return [resolve_dynamic_references(item, aws) for item in value]
    if isinstance(value, dict):
        return {key: resolve_dynamic_references(item, aws) for key, item in value.items()}
    return value


def _lookup(aws: Aws, service: str, reference: str) -> str:
    if service == "secretsmanager":
        return _secret(aws, reference)
    name = reference.rsplit(":", 1)[0] if reference.rsplit(":", 1)[-1].isdigit() else reference
    return aws.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def _secret(aws: Aws, reference: str) -> str:
    parts = reference.split(":")
    split_at = _ARN_PARTS if reference.startswith("arn:") else 1
    secret_id, rest = ":".join(parts[:split_at]), parts[split_at:]
    json_key = rest[1] if len(rest) > 1 else ""
    secret = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    return str(json.loads(secret)[json_key]) if json_key else secret
