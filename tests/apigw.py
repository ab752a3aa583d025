"""API Gateway REST (v1 proxy) events for component tests, shaped like the real ones
(`sam local generate-event apigateway aws-proxy`)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class LambdaContext:
    function_name: str = "test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test"
    aws_request_id: str = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def api_event(method: str, resource: str, *, path_params: dict[str, str] | None = None,
              body: Any = None, headers: dict[str, str] | None = None, query: dict[str, str] | None = None,
              merchant_id: str | None = None) -> dict[str, Any]:
    path = resource
    for name, value in (path_params or {}).items():
        path = path.replace("{" + name + "}", value)
    raw = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    all_headers = {"Content-Type": "application/json", "Host": "api.colis.test", **(headers or {})}
    authorizer = {"merchant_id": merchant_id, "principalId": merchant_id} if merchant_id else None
    return {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": all_headers, "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": path_params or None, "stageVariables": None,
        "requestContext": {
            "resourcePath": resource, "httpMethod": method, "path": f"/prod{path}", "stage": "prod",
            "requestId": str(uuid.uuid4()), "domainName": "api.colis.test", "accountId": "123456789012",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"}, "authorizer": authorizer,
        },
        "body": raw, "isBase64Encoded": False,
    }


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def call(handler: Any, event: dict[str, Any]) -> ApiResponse:
    response = handler(event, LambdaContext())
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), values[-1])
    return ApiResponse(response["statusCode"], headers, response.get("body") or "")


def resource_of(path_template: str) -> str:
    """`/v1/x/<id>` (powertools) → `/v1/x/{id}` (API Gateway)."""
    return re.sub(r"<(\w+)>", r"{\1}", path_template)
