"""Domain errors, each mapped to an RFC 9457 problem-details response in one place."""

from __future__ import annotations

from typing import Any


class ProblemError(Exception):
    status: int = 500
    title: str = "Internal Server Error"
    type_: str = "about:blank"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type_, "title": self.title, "status": self.status,
                                "detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return body


class BadRequest(ProblemError):
    status, title = 400, "Bad Request"


class Unauthorized(ProblemError):
    status, title = 401, "Unauthorized"


class NotFound(ProblemError):
    status, title = 404, "Not Found"


class MethodNotAllowed(ProblemError):
    status, title = 405, "Method Not Allowed"


class Conflict(ProblemError):
    status, title = 409, "Conflict"


class Gone(ProblemError):
    status, title = 410, "Gone"


class PayloadTooLarge(ProblemError):
    status, title = 413, "Content Too Large"


class ValidationFailed(ProblemError):
    status, title = 422, "Unprocessable Content"


class ServiceUnavailable(ProblemError):
    """A dependency failed: the caller should retry (carriers do on 5xx)."""

    status, title = 503, "Service Unavailable"


PROBLEM_CONTENT_TYPE = "application/problem+json"
MAX_BODY_BYTES = 1024 * 1024
