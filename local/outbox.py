"""Emails sent through SES (v1 or v2, simple or raw), as `/_local/outbox` lists them.

moto keeps only one body of a simple message (the HTML when both are sent) and no send time, so
the outbox records each successful send from the request itself, as it passes through moto.
"""

from __future__ import annotations

import base64
import email
import io
import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from email import policy
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger("local.outbox")

Item = dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _raw_item(raw: bytes, destinations: list[str]) -> Item:
    message = email.message_from_bytes(raw, policy=policy.default)
    parts = {"text/plain": None, "text/html": None}
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in parts and parts[content_type] is None and not part.is_attachment():
            parts[content_type] = part.get_content()  # type: ignore[attr-defined]
    recipients = destinations or [str(address) for address in message.get_all("To", [])]
    return {"to": ", ".join(recipients), "subject": str(message.get("Subject", "")),
            "text": parts["text/plain"], "html": parts["text/html"]}


def _v2_item(body: bytes) -> Item | None:
    request = json.loads(body)
    content = request.get("Content") or {}
    destination = request.get("Destination") or {}
    if "Raw" in content:
        return _raw_item(base64.b64decode(content["Raw"]["Data"]), destination.get("ToAddresses", []))
    simple = content.get("Simple")
    if simple is None:
        return None
    parts = simple.get("Body") or {}
    return {"to": ", ".join(destination.get("ToAddresses", [])), "subject": simple["Subject"]["Data"],
            "text": (parts.get("Text") or {}).get("Data"), "html": (parts.get("Html") or {}).get("Data")}


def _v1_item(body: bytes) -> Item | None:
    form = {key: values[0] for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    action = form.get("Action")
    if action == "SendRawEmail":
        destinations = [value for key, value in sorted(form.items()) if key.startswith("Destinations.member.")]
        return _raw_item(base64.b64decode(form["RawMessage.Data"]), destinations)
    if action != "SendEmail":
        return None
    recipients = [value for key, value in sorted(form.items()) if key.startswith("Destination.ToAddresses.member.")]
    return {"to": ", ".join(recipients), "subject": form.get("Message.Subject.Data", ""),
            "text": form.get("Message.Body.Text.Data"), "html": form.get("Message.Body.Html.Data")}


class Outbox:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._items: list[Item] = []
        self._lock = threading.Lock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """`listener(request)` for each SES v2 SendEmail moto accepted (the request's JSON)."""
        self._listeners.append(listener)

    def items(self) -> list[Item]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def middleware(self, app: Any) -> Any:
        """Wraps moto's WSGI app: SES send requests that moto accepts are recorded."""

        def recording_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if "/ses/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
                return app(environ, start_response)
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            statuses: list[str] = []

            def capture(status: str, headers: Any, *args: Any) -> Any:
                statuses.append(status)
                return start_response(status, headers, *args)

            response = app(environ, capture)
            if statuses and statuses[0].startswith("200"):
                try:
                    self._record(environ.get("PATH_INFO", ""), body)
                except Exception:  # the send succeeded: a listing problem must not fail it
                    log.exception("outbox could not read a sent message")
            return response

        return recording_app

    def _record(self, path: str, body: bytes) -> None:
        if path.startswith("/v2/email/outbound-emails"):
            item = _v2_item(body)
            for listener in self._listeners:
                listener(json.loads(body))
        elif path in ("", "/"):  # SES v1 is a query API: every action posts to /
            item = _v1_item(body)
        else:
            return
        if item is not None:
            item["sent_at"] = _iso(self._now())
            with self._lock:
                self._items.append(item)
