"""RFC 9457 problem details: the one place where a domain failure gets its HTTP status."""

from __future__ import annotations

from typing import Any

from shared import errors

PROBLEM_CONTENT_TYPE = "application/problem+json"

# Most specific first: `ChangedMeanwhile` is a `Refused`, and both are 409.
STATUS: tuple[tuple[type[errors.DomainError], int, str], ...] = (
    (errors.Malformed, 400, "Bad Request"),
    (errors.NotAuthenticated, 401, "Unauthorized"),
    (errors.Forbidden, 403, "Forbidden"),
    (errors.NotFound, 404, "Not Found"),
    (errors.NotSupported, 405, "Method Not Allowed"),
    (errors.ChangedMeanwhile, 409, "Conflict"),
    (errors.Refused, 409, "Conflict"),
    (errors.Gone, 410, "Gone"),
    (errors.TooLarge, 413, "Content Too Large"),
    (errors.WrongContentType, 415, "Unsupported Media Type"),
    (errors.Invalid, 422, "Unprocessable Content"),
    (errors.TooManyRequests, 429, "Too Many Requests"),
    (errors.Unavailable, 503, "Service Unavailable"),
)


def status_of(error: errors.DomainError) -> tuple[int, str]:
    for kind, status, title in STATUS:
        if isinstance(error, kind):
            return status, title
    return 500, "Internal Server Error"


def problem_body(status: int, title: str, detail: str, problem_errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if problem_errors:
        body["errors"] = problem_errors
    return body


def problem_of(error: errors.DomainError) -> tuple[int, dict[str, Any]]:
    """The status and problem-details body of a domain failure."""
    status, title = status_of(error)
    return status, problem_body(status, title, error.detail, error.errors)
