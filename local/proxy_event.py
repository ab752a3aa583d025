"""API Gateway REST (v1) Lambda proxy events, built from an HTTP request as API Gateway builds them."""

from __future__ import annotations

import base64
import fnmatch
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.moto_server import ACCOUNT_ID, REGION
from local.routes import Route

_TEXT_TYPES = ("text/", "application/json", "application/problem+json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "+json", "+xml")


@dataclass
class IncomingRequest:
    method: str
    path: str  # as sent (API Gateway REST does not decode path or pathParameters), no query string
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return found[-1] if found else None


def _single(pairs: list[tuple[str, str]]) -> dict[str, str] | None:
    return dict(pairs) or None


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]] | None:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out or None


def encode_body(request: IncomingRequest, binary_media_types: tuple[str, ...]) -> tuple[str | None, bool]:
    """(body, isBase64Encoded): text when it is UTF-8 text of a textual type, else base64."""
    if not request.body:
        return None, False
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    binary = any(fnmatch.fnmatch(content_type, pattern) for pattern in binary_media_types)
    textual = not content_type or any(marker in content_type for marker in _TEXT_TYPES)
    if textual and not binary:
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def request_context(request: IncomingRequest, route: Route) -> dict[str, Any]:
    received = datetime.fromtimestamp(request.received_at, UTC)
    return {
        "accountId": ACCOUNT_ID,
        "apiId": route.api.api_id,
        "resourceId": "local",
        "resourcePath": route.path,
        "httpMethod": request.method,
        "path": f"/{route.api.stage}{request.path}",
        "stage": route.api.stage,
        "requestId": request.request_id,
        "extendedRequestId": request.request_id,
        "requestTime": received.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(request.received_at * 1000),
        "protocol": "HTTP/1.1",
        "domainName": request.header("Host") or "127.0.0.1",
        "identity": {
            "sourceIp": request.source_ip, "userAgent": request.header("User-Agent"),
            "accountId": None, "apiKey": None, "caller": None, "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
            "principalOrgId": None, "accessKey": None, "user": None, "userArn": None,
        },
    }


def method_arn(request: IncomingRequest, route: Route) -> str:
    return (f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{route.api.api_id}/{route.api.stage}/"
            f"{request.method}/{request.path.lstrip('/')}")


def _common(request: IncomingRequest, route: Route, path_parameters: dict[str, str]) -> dict[str, Any]:
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": _single(request.headers),
        "multiValueHeaders": _multi(request.headers),
        "queryStringParameters": _single(request.query),
        "multiValueQueryStringParameters": _multi(request.query),
        "pathParameters": path_parameters or None,
        "stageVariables": None,
    }


def proxy_event(request: IncomingRequest, route: Route, path_parameters: dict[str, str],
                authorizer_context: dict[str, Any] | None) -> dict[str, Any]:
    body, is_base64 = encode_body(request, route.api.binary_media_types)
    context = request_context(request, route)
    if authorizer_context is not None:
        context["authorizer"] = authorizer_context
    return {**_common(request, route, path_parameters), "requestContext": context,
            "body": body, "isBase64Encoded": is_base64}


def authorizer_event(request: IncomingRequest, route: Route, path_parameters: dict[str, str]) -> dict[str, Any]:
    assert route.authorizer is not None
    arn = method_arn(request, route)
    if route.authorizer.payload_type == "TOKEN":
        header = route.authorizer.identity_headers[0] if route.authorizer.identity_headers else "Authorization"
        return {"type": "TOKEN", "authorizationToken": request.header(header), "methodArn": arn}
    return {"type": "REQUEST", "methodArn": arn, **_common(request, route, path_parameters),
            "pathParameters": path_parameters, "requestContext": request_context(request, route)}
