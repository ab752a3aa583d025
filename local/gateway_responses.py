"""Answers API Gateway gives itself (no route, authorizer refusals, too large, integration
failure), mirroring the template's `GatewayResponses` when it customises them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from local.routes import ApiSpec

PROBLEM_JSON = "application/problem+json"

# type -> (status, title, detail) when the template does not customise it
_DEFAULTS: dict[str, tuple[int, str, str]] = {
    "UNAUTHORIZED": (401, "Unauthorized", "Missing or invalid API key"),
    "ACCESS_DENIED": (403, "Forbidden", "User is not authorized to access this resource with an explicit deny"),
    "AUTHORIZER_FAILURE": (500, "Internal Server Error", "The authorizer failed."),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "Internal Server Error", "The authorizer answered something unusable."),
    # AWS answers 403 "Missing Authentication Token" for an unknown route; locally a plain 404.
    "MISSING_AUTHENTICATION_TOKEN": (404, "Not Found", "No route matches this path."),
    "REQUEST_TOO_LARGE": (413, "Content Too Large", "The request body exceeds API Gateway's 10 MB limit."),
    "INVALID_API_KEY": (403, "Forbidden", "Forbidden"),
    "THROTTLED": (429, "Too Many Requests", "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Too Many Requests", "Limit Exceeded"),
}
_NO_DEFAULT_FALLBACK = {"MISSING_AUTHENTICATION_TOKEN"}


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def problem(status: int, title: str, detail: str, headers: list[tuple[str, str]] | None = None) -> Answer:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Answer(status, [("Content-Type", PROBLEM_JSON), *(headers or [])], json.dumps(body).encode())


def json_answer(status: int, body: Any) -> Answer:
    return Answer(status, [("Content-Type", "application/json")], json.dumps(body).encode())


def integration_failure() -> Answer:
    return json_answer(502, {"message": "Internal server error"})


def gateway_response(kind: str, api: ApiSpec | None, request_id: str) -> Answer:
    status, title, detail = _DEFAULTS[kind]
    custom = _customisation(kind, status, api)
    if custom is None:
        return problem(status, title, detail)
    status = int(custom.get("StatusCode", status))
    parameters = (custom.get("ResponseParameters") or {}).get("Headers") or {}
    headers = [(name, str(value).strip("'")) for name, value in parameters.items()]
    templates = custom.get("ResponseTemplates") or {}
    body = templates.get("application/json")
    if body is None:
        body = json.dumps({"message": detail})
    body = (body.replace("$context.error.messageString", json.dumps(detail))
                .replace("$context.error.message", detail)
                .replace("$context.error.responseType", kind)
                .replace("$context.requestId", request_id))
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return Answer(status, headers, body.encode())


def _customisation(kind: str, status: int, api: ApiSpec | None) -> dict[str, Any] | None:
    if api is None:
        return None
    responses = api.gateway_responses
    if kind in responses:
        return responses[kind]
    if kind in _NO_DEFAULT_FALLBACK:
        return None
    return responses.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX")
