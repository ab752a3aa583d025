"""The HTTP doorway shared by every API function: a validating powertools resolver whose errors
all come out as RFC 9457 problem details, and the authorizer context."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import BaseModel, ValidationError

from shared.errors import MAX_BODY_BYTES, DomainError, Forbidden, NotAuthenticated
from shared.http.bodies import load_json
from shared.http.problems import PROBLEM_CONTENT_TYPE, problem_body, status_of
from shared.platform.observability import logger
from shared.platform.settings import settings


def problem_response(status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None,
                     headers: Mapping[str, str] | None = None) -> Response[str]:
    body = problem_body(status, title, detail, errors)
    return Response(status_code=status, content_type=PROBLEM_CONTENT_TYPE, body=json.dumps(body),
                    headers=dict(headers or {}))


# Patterns whose own message ("String should match pattern '\S'") tells a reader nothing.
_PATTERN_MESSAGES = {r"\S": "must not be blank"}


def _field_errors(raw_errors: list[Any]) -> list[dict[str, Any]]:
    """Field problems without echoing input values (they may be personal data)."""
    out = []
    for error in raw_errors:
        location = [str(part) for part in error.get("loc", ())]
        message = str(error.get("msg", "invalid value"))
        if error.get("type") == "string_pattern_mismatch":
            message = _PATTERN_MESSAGES.get(str((error.get("ctx") or {}).get("pattern")), message)
        out.append({"field": ".".join(location), "type": error.get("type", "invalid"), "message": message})
    return out


def _on_problem(exc: DomainError) -> Response[str]:
    status, title = status_of(exc)
    return problem_response(status, title, exc.detail, errors=exc.errors, headers=exc.headers)


def _on_request_validation(exc: RequestValidationError) -> Response[str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(400, "Bad Request", "The request body is not valid JSON.")
    return problem_response(422, "Unprocessable Content", "The request has invalid fields.",
                            errors=_field_errors(list(errors)))


def _on_model_validation(exc: ValidationError) -> Response[str]:
    return problem_response(422, "Unprocessable Content", "The request has invalid fields.",
                            errors=_field_errors(exc.errors(include_input=False)))


def _on_undecodable_body(_: UnicodeDecodeError) -> Response[str]:
    # powertools decodes a base64 body (API Gateway sends non-UTF-8 bytes so) as UTF-8 before
    # validating it; JSON is UTF-8 (RFC 8259), so bytes that are not are a malformed body.
    return problem_response(400, "Bad Request", "The request body is not valid JSON (UTF-8).")


def _on_unsupported_content_type(_: RequestUnsupportedContentType) -> Response[str]:
    return problem_response(415, "Unsupported Media Type", "Send the body as application/json.")


def _on_not_found(_: NotFoundError) -> Response[str]:
    return problem_response(404, "Not Found", "No such route.")


def _on_unexpected(exc: Exception) -> Response[str]:
    # The exception type only: messages of AWS errors can carry key values.
    logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
    return problem_response(500, "Internal Server Error", "An unexpected error occurred; retry later.")


def request_body_bytes(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8")


Middleware = Callable[[APIGatewayRestResolver, Callable[..., Response[Any]]], Response[Any]]


def _media_type(headers: Mapping[str, str] | None) -> str:
    content_type = next((v for k, v in (headers or {}).items() if k.lower() == "content-type"), "") or ""
    return content_type.split(";")[0].strip().lower()


def _is_json(headers: Mapping[str, str] | None) -> bool:
    """JSON, or no media type at all (read as JSON, as powertools reads it)."""
    media_type = _media_type(headers)
    return not media_type or media_type == "application/json" or media_type.endswith("+json")


def _body_limit_middleware(limits: Mapping[str, int], default_limit: int) -> Middleware:
    """`limits` per resource are for the other media types a route takes (a CSV file): a JSON body
    is held to `default_limit` on every route (API.md: 1 MiB)."""

    def limit_body(app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
        event = app.current_event
        limit = default_limit if _is_json(event.headers) else limits.get(event.resource, default_limit)
        if len(request_body_bytes(app.current_event.raw_event)) > limit:
            return problem_response(413, "Content Too Large", f"The request body is larger than {limit} bytes.")
        return next_middleware(app)

    return limit_body


def _declared_query_names(route: Any) -> set[str]:
    return {param.alias or param.name for param in route.dependant.query_params}


def _request_shape_middleware(app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
    """What powertools lets through on its own: a JSON route read a form-encoded body as fields
    (curl's `-d` default), so a caller forgetting the header got a 422 about the whole body; and an
    unknown query parameter was dropped silently, so a misspelt filter answered with everything."""
    route = app.context.get("_route")
    if route is None:
        return next_middleware(app)
    event = app.current_event
    if route.dependant.body_params and request_body_bytes(event.raw_event) and not _is_json(event.headers):
        return problem_response(415, "Unsupported Media Type",
                                f"This operation reads application/json; the request was sent as "
                                f"{_media_type(event.headers) or 'no media type'}. Send the body as application/json.")
    if event.resource.startswith("/v1/"):
        unknown = sorted(set(event.query_string_parameters or {}) - _declared_query_names(route))
        if unknown:
            allowed = sorted(_declared_query_names(route))
            return problem_response(
                400, "Bad Request",
                f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                + (f"This operation takes: {', '.join(allowed)}." if allowed else "This operation takes none."),
                errors=[{"field": f"query.{name}", "type": "unknown_parameter", "message": "not a parameter of this operation"}
                        for name in unknown])
    return next_middleware(app)


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _scope_middleware(app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
    """A `read` key (the authorizer's `scope`) may call every GET of /v1/ and nothing that writes.
    Checked here rather than in the authorizer's policy: its one policy covers the whole stage."""
    event = app.current_event
    if event.http_method.upper() in WRITE_METHODS and event.resource.startswith("/v1/"):
        authorizer = event.request_context.authorizer
        if authorizer and authorizer.get("scope") == "read":
            raise Forbidden("This API key has the read scope: it cannot create, change or delete anything. "
                            "Use a key with the write scope.")
    return next_middleware(app)


def _chain(*checks: Middleware) -> Middleware:
    def run(app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
        def step(index: int) -> Callable[..., Response[Any]]:
            if index == len(checks):
                return next_middleware
            return lambda checked: checks[index](checked, step(index + 1))
        return step(0)(app)

    return run


def _before_request_validation(app: APIGatewayRestResolver, check: Middleware) -> None:
    """Runs `check` before powertools validates the request: a 7 MiB body must be a 413, not a
    422 about one of its fields. Powertools always puts its validation first in every route's
    stack (ahead of `app.use` middlewares), so the check is chained in front of that middleware;
    were the attribute ever renamed, the check still runs, after validation."""
    validation = getattr(app, "_request_validation_middleware", None)
    if validation is None:
        app.use([check])
        return

    def check_then_validate(app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
        return check(app, lambda checked: validation(checked, next_middleware))

    # Typed as powertools' middleware class; powertools only ever calls it, as it calls any middleware.
    app._request_validation_middleware = check_then_validate  # type: ignore[assignment]


def api_resolver(*, body_limits: Mapping[str, int] | None = None,
                 default_body_limit: int | None = MAX_BODY_BYTES) -> APIGatewayRestResolver:
    # Bodies are read with a nesting bound: a deeply nested one is a 400, never a RecursionError.
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=load_json)
    app.exception_handler(DomainError)(_on_problem)
    app.exception_handler(RequestValidationError)(_on_request_validation)
    app.exception_handler(RequestUnsupportedContentType)(_on_unsupported_content_type)
    app.exception_handler(UnicodeDecodeError)(_on_undecodable_body)
    app.exception_handler(ValidationError)(_on_model_validation)
    app.exception_handler(NotFoundError)(_on_not_found)
    app.exception_handler(Exception)(_on_unexpected)
    checks: list[Middleware] = [_scope_middleware]
    if default_body_limit is not None:
        checks.append(_body_limit_middleware(body_limits or {}, default_body_limit))
    checks.append(_request_shape_middleware)
    _before_request_validation(app, _chain(*checks))
    return app


def merchant_id(app: APIGatewayRestResolver) -> str:
    authorizer = app.current_event.request_context.authorizer
    value = authorizer.get("merchant_id") if authorizer else None
    if not value:
        raise NotAuthenticated("Missing or invalid API key")
    return str(value)


def json_response(status: int, model: BaseModel | Mapping[str, Any] | list[Any],
                  headers: Mapping[str, str] | None = None) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=model, headers=dict(headers or {}))


def public_base_url(app: APIGatewayRestResolver) -> str:
    """Base URL for links we hand out: configured, else the API's own address."""
    configured = settings().tracking_base_url
    if configured:
        return configured.rstrip("/")
    context = app.current_event.request_context
    return f"https://{context.domain_name}/{context.stage}"
