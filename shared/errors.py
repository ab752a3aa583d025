"""The failures of the domain, named once. None of them knows HTTP: the HTTP room
(`shared.http.problems`) alone turns each into a status code and a problem-details body.

- `Refused`: a rule said no (a taken number, a shipped order, a named transaction condition).
- `ChangedMeanwhile`: what was read changed before the write (optimistic locking, a contended
  transaction); re-read and try again, or tell the caller to.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class Malformed(DomainError):
    """The input cannot be read at all (bad JSON, a tampered cursor, a missing header)."""


class NotAuthenticated(DomainError):
    """No caller could be identified (key, signature)."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class NotFound(DomainError):
    """No such object for this merchant."""


class NotSupported(DomainError):
    """The operation does not exist for this resource (customers cannot be deleted)."""


class Refused(DomainError):
    """A rule refused the change; `rule` names it when a named condition did."""

    def __init__(self, detail: str, *, rule: str | None = None, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, errors=errors, headers=headers)
        self.rule = rule


class ChangedMeanwhile(Refused):
    """What was read changed before the write landed."""

    def __init__(self, detail: str = "The object changed while this request ran; retry it.", *,
                 rule: str | None = None) -> None:
        super().__init__(detail, rule=rule)


class Gone(DomainError):
    """It existed, and is gone for good (an expired export file)."""


class TooLarge(DomainError):
    """The input is over its size limit."""


class WrongContentType(DomainError):
    """The body is not of the media type the operation reads."""


class Invalid(DomainError):
    """The input is readable but breaks a rule on its values (fields named in `errors`)."""


class TooManyRequests(DomainError):
    """Over a rate or a cap: retry later (`Retry-After` in `headers`)."""


class Unavailable(DomainError):
    """A dependency failed: the caller should retry (carriers do on 5xx)."""


MAX_BODY_BYTES = 1024 * 1024
