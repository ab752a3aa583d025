"""The SES sender: one request per send, whatever happens, and every failure told apart as
*certainly not sent* (may be retried) or *maybe sent* (never resent)."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from functions.notify.rendering import RenderedEmail
from functions.notify.sender import EmailNotSent, EmailOutcomeUnknown, SesEmailSender, build_ses_client

EMAIL = RenderedEmail(subject="Votre commande", text="Bonjour", html="<p>Bonjour</p>", language="fr")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class RaisingClient:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def send_email(self, **_: Any) -> Any:
        raise self.error


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "SendEmail")


@pytest.mark.parametrize(("error", "reason"), [
    (ParamValidationError(report="Invalid type for parameter"), "ParamValidationError"),
    (EndpointConnectionError(endpoint_url="https://email.eu-west-1.amazonaws.com"), "EndpointConnectionError"),
    (client_error("TooManyRequestsException", 429), "TooManyRequestsException"),
    (client_error("SendingPausedException", 400), "SendingPausedException"),
])
def test_failures_before_ses_sent_anything_may_be_retried(error: BaseException, reason: str) -> None:
    with pytest.raises(EmailNotSent) as raised:
        SesEmailSender(RaisingClient(error), "no-reply@colis.test").send("a@example.fr", EMAIL)
    assert raised.value.retryable and raised.value.reason == reason


@pytest.mark.parametrize("code", ["MessageRejected", "BadRequestException", "MailFromDomainNotVerifiedException"])
def test_an_email_ses_refuses_is_not_sent_and_not_worth_retrying(code: str) -> None:
    with pytest.raises(EmailNotSent) as raised:
        SesEmailSender(RaisingClient(client_error(code, 400)), "no-reply@colis.test").send("a@example.fr", EMAIL)
    assert not raised.value.retryable and raised.value.reason == code


@pytest.mark.parametrize(("error", "reason"), [
    (ReadTimeoutError(endpoint_url="https://email.eu-west-1.amazonaws.com"), "ReadTimeoutError"),
    (ConnectionClosedError(endpoint_url="https://email.eu-west-1.amazonaws.com"), "ConnectionClosedError"),
    (client_error("InternalFailure", 500), "InternalFailure"),
    (client_error("ServiceUnavailable", 503), "ServiceUnavailable"),
    (ValueError("unparseable answer"), "ValueError"),
])
def test_failures_after_the_request_left_are_unknown(error: BaseException, reason: str) -> None:
    with pytest.raises(EmailOutcomeUnknown) as raised:
        SesEmailSender(RaisingClient(error), "no-reply@colis.test").send("a@example.fr", EMAIL)
    assert raised.value.reason == reason


# --- against a real socket: botocore must not resend on its own --------------------------------------
class _SlowOrBroken(BaseHTTPRequestHandler):
    requests: list[str] = []
    mode = "slow"

    def do_POST(self) -> None:  # http.server calls it by this name
        self.requests.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.mode == "slow":
            time.sleep(1.5)
            return
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", "InternalFailure")
        self.end_headers()
        self.wfile.write(b'{"message": "internal"}')

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def ses_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, type[_SlowOrBroken]]]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    handler = type("Handler", (_SlowOrBroken,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def test_a_read_timeout_is_one_request_and_unknown(ses_endpoint: tuple[str, Any]) -> None:
    url, handler = ses_endpoint
    client = build_ses_client(url, "eu-west-1", read_timeout=0.3)

    with pytest.raises(EmailOutcomeUnknown) as raised:
        SesEmailSender(client, "no-reply@colis.test").send("a@example.fr", EMAIL)

    assert raised.value.reason == "ReadTimeoutError"
    assert len(handler.requests) == 1  # botocore's retries would have sent it again


def test_a_server_error_is_one_request_and_unknown(ses_endpoint: tuple[str, Any]) -> None:
    url, handler = ses_endpoint
    handler.mode = "broken"

    with pytest.raises(EmailOutcomeUnknown):
        SesEmailSender(build_ses_client(url, "eu-west-1"), "no-reply@colis.test").send("a@example.fr", EMAIL)
    assert len(handler.requests) == 1


def test_a_refused_connection_is_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = build_ses_client(f"http://127.0.0.1:{port}", "eu-west-1", connect_timeout=0.5)

    with pytest.raises(EmailNotSent) as raised:
        SesEmailSender(client, "no-reply@colis.test").send("a@example.fr", EMAIL)
    assert raised.value.retryable and raised.value.reason == "EndpointConnectionError"


def test_the_brand_is_the_display_name_of_the_sender() -> None:
    seen: dict[str, Any] = {}

    class Recording:
        def send_email(self, **request: Any) -> Any:
            seen.update(request)
            return {"MessageId": "m-1"}

    message_id = SesEmailSender(Recording(), "no-reply@colis.test").send("a@example.fr", EMAIL, from_name="Lüne & Co")

    assert message_id == "m-1"
    name, address = parseaddr(seen["FromEmailAddress"])
    assert str(make_header(decode_header(name))) == "Lüne & Co" and address == "no-reply@colis.test"
    assert seen["Destination"] == {"ToAddresses": ["a@example.fr"]}
    body = seen["Content"]["Simple"]["Body"]
    assert body["Text"]["Data"] == "Bonjour" and body["Html"]["Data"] == "<p>Bonjour</p>"


class ThrottledThen:
    """SES answering TooManyRequests `times` times, then sending."""

    def __init__(self, times: int) -> None:
        self.times, self.calls = times, []

    def send_email(self, **request: object) -> dict:
        self.calls.append(request)
        if len(self.calls) <= self.times:
            raise client_error("TooManyRequestsException", 429)
        return {"MessageId": "m-1"}


def test_a_throttled_send_is_tried_again_after_a_growing_random_pause() -> None:
    client, pauses = ThrottledThen(times=2), []
    sender = SesEmailSender(client, "no-reply@colis.test", "colis-test", sleep=pauses.append)
    assert sender.send("a@example.fr", EMAIL, tags={"merchant_id": "mer_1", "milestone": "delivered"}) == "m-1"
    assert len(client.calls) == 3 and len(pauses) == 2
    assert 0 <= pauses[0] <= 0.25 and 0 <= pauses[1] <= 0.5
    assert client.calls[0]["ConfigurationSetName"] == "colis-test"
    assert client.calls[0]["EmailTags"] == [{"Name": "merchant_id", "Value": "mer_1"},
                                            {"Name": "milestone", "Value": "delivered"}]


def test_throttling_that_lasts_is_left_to_lambdas_retries() -> None:
    client, pauses = ThrottledThen(times=99), []
    with pytest.raises(EmailNotSent) as raised:
        SesEmailSender(client, "no-reply@colis.test", sleep=pauses.append).send("a@example.fr", EMAIL)
    assert raised.value.retryable and len(client.calls) == 4 and len(pauses) == 3
    assert "ConfigurationSetName" not in client.calls[0]


def test_a_rejected_send_is_not_tried_again() -> None:
    client = RaisingClient(client_error("MessageRejected", 400))
    pauses: list[float] = []
    with pytest.raises(EmailNotSent):
        SesEmailSender(client, "no-reply@colis.test", sleep=pauses.append).send("a@example.fr", EMAIL)
    assert pauses == []


def _request_of(email: RenderedEmail) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    class Recording:
        def send_email(self, **request: Any) -> Any:
            seen.update(request)
            return {"MessageId": "m-1"}

    SesEmailSender(Recording(), "no-reply@colis.test").send("a@example.fr", email, from_name="Lune")
    return seen


def test_replies_go_to_the_shops_support_address() -> None:
    with_support = RenderedEmail(subject="s", text="t", html="<p>t</p>", language="en", reply_to="help@lune.example")
    assert _request_of(with_support)["ReplyToAddresses"] == ["help@lune.example"]
    assert "ReplyToAddresses" not in _request_of(EMAIL)


def test_the_local_stacks_outbox_shows_both_parts_of_what_is_sent() -> None:
    """SES builds multipart/alternative from Text and Html; the local outbox (`/_local/outbox`) reads
    both from the very request the sender makes."""
    from local.outbox import Outbox as LocalOutbox

    request = _request_of(EMAIL)
    body = json.dumps(request).encode()
    outbox = LocalOutbox(lambda: datetime(2026, 5, 4, tzinfo=UTC))

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"{}"]

    environ = {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=x/20260504/eu-west-1/ses/aws4_request",
               "PATH_INFO": "/v2/email/outbound-emails", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    outbox.middleware(moto)(environ, lambda status, headers, *rest: None)

    [item] = outbox.items()
    assert (item["text"], item["html"], item["subject"]) == (EMAIL.text, EMAIL.html, EMAIL.subject)
