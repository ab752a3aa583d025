"""Sending one email through SES (v2), and telling apart the ways a send can go wrong.

SES has no idempotency key: a request that reached SES and got no answer may have been sent. So
the client never retries by itself (botocore's standard mode would resend after a read timeout),
and each failure is classified as *not sent* (safe to try again) or *unknown* (never resent).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from email.utils import formataddr
from typing import Any, Protocol

from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from functions.notify.rendering import RenderedEmail
from shared.platform import aws
from shared.platform.settings import settings

# SES answers in well under a second; the function's timeout leaves room for one slow answer.
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 8
# Failures that happen before a request leaves this process, or while connecting.
_BEFORE_SES = (ParamValidationError, NoCredentialsError, PartialCredentialsError, BotocoreConnectionError)
# A throttled send is tried this many times in all, backing off (at most 0.25 + 0.5 + 1 s): then
# the invocation fails and Lambda's own retries (minutes apart) take over.
THROTTLED_ATTEMPTS = 4
THROTTLE_BACKOFF_SECONDS = 0.25
# SES answered that it did not send, and asking again later may work.
_THROTTLED = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException",
                        "SendingPausedException", "AccountSendingPausedException"})


class EmailNotSent(Exception):
    """SES certainly did not send the email. `retryable`: the same send may succeed later."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class EmailOutcomeUnknown(Exception):
    """The request may have reached SES and the answer was lost: it may have been sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EmailSender(Protocol):
    def send(self, to: str, email: RenderedEmail, *, from_name: str | None = None,
             tags: Mapping[str, str] | None = None) -> str:
        """Sends; returns SES's message id, or raises EmailNotSent / EmailOutcomeUnknown. `tags`
        come back with SES's bounce and complaint events (letters, digits, `_` and `-` only)."""
        ...


class SesEmailSender:
    def __init__(self, client: Any, from_address: str, configuration_set: str | None = None, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._from_address = from_address
        self._configuration_set = configuration_set
        self._sleep = sleep

    def send(self, to: str, email: RenderedEmail, *, from_name: str | None = None,
             tags: Mapping[str, str] | None = None) -> str:
        sender = formataddr((from_name, self._from_address), charset="utf-8") if from_name else self._from_address
        request: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {"Simple": {
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"},
                         "Html": {"Data": email.html, "Charset": "UTF-8"}}}},
        }
        if email.reply_to:  # the customer's reply reaches the shop, not the sending address
            request["ReplyToAddresses"] = [email.reply_to]
        if self._configuration_set:  # its event destination reports bounces and complaints
            request["ConfigurationSetName"] = self._configuration_set
        if tags:
            request["EmailTags"] = [{"Name": name, "Value": value} for name, value in tags.items()]
        for attempt in range(THROTTLED_ATTEMPTS):
            try:
                return self._send_once(request)
            except EmailNotSent as failure:
                # Throttled: SES did not send, so asking again is safe; back off with full jitter
                # (the sending rate is per account: every concurrent sender is backing off too).
                if failure.reason not in _THROTTLED or attempt + 1 == THROTTLED_ATTEMPTS:
                    raise
                self._sleep(random.uniform(0, THROTTLE_BACKOFF_SECONDS * 2 ** attempt))  # noqa: S311
        raise AssertionError("unreachable")

    def _send_once(self, request: dict[str, Any]) -> str:
        try:
            response = self._client.send_email(**request)
        except _BEFORE_SES as error:
            raise EmailNotSent(type(error).__name__, retryable=True) from error
        except ClientError as error:
            raise classify_client_error(error) from error
        except Exception as error:  # read timeouts, dropped connections, unparseable answers
            raise EmailOutcomeUnknown(type(error).__name__) from error
        return str(response["MessageId"])


def classify_client_error(error: ClientError) -> Exception:
    """SES's own answers: a 4xx means it did not send; a 5xx may hide a send."""
    code = error.response.get("Error", {}).get("Code", "ClientError")
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _THROTTLED:
        return EmailNotSent(code, retryable=True)
    if 400 <= status < 500:
        return EmailNotSent(code, retryable=False)
    return EmailOutcomeUnknown(code)


def ses_sender() -> SesEmailSender:
    """The SES sender of this environment (`SENDER_EMAIL`, `AWS_ENDPOINT_URL`), read at call time."""
    return SesEmailSender(build_ses_client(), settings().sender_email, settings().ses_configuration_set)


def build_ses_client(endpoint_url: str | None = None, region: str | None = None, *,
                     connect_timeout: float = CONNECT_TIMEOUT_SECONDS, read_timeout: float = READ_TIMEOUT_SECONDS) -> Any:
    """An SES client that makes one attempt only (`shared.platform.aws` clients otherwise retry);
    endpoint and region default to the environment's."""
    return aws.single_attempt_client("sesv2", connect_timeout=connect_timeout, read_timeout=read_timeout,
                                     endpoint_url=endpoint_url, region=region)
