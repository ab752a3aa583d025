"""A merchant's webhook receiver on loopback, for the outbound tests and bench: it verifies every
request with the reference `standardwebhooks` library (not our code), counts deliveries per
`webhook-id` (duplicates), and can fail (500) for a while, at random, or answer something odd."""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    check_signatures: bool = True  # False: count only (a bench without the reference library)
    fail_next: int = 0  # answer 500 to this many requests, then recover
    failure_rate: float = 0.0  # and/or answer 500 at random
    answer: tuple[int, dict[str, str], bytes] | None = None  # a fixed odd answer (a redirect, a huge body)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    # Verified deliveries per endpoint path and webhook-id (one merchant's endpoints share the id).
    received: Counter[str] = field(default_factory=Counter)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # the verified payloads, keyed as `received`
    unverified: int = 0
    requests: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        for secret in self.secrets:
            try:
                return dict(Webhook(secret).verify(body, headers))
            except WebhookVerificationError:
                continue
        return None

    def handle(self, body: bytes, headers: dict[str, str], path: str = "") -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests += 1
            self.headers.append(headers)
            if self.answer is not None:
                return self.answer
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500, {}, b"down"
            if self.failure_rate and self.rng.random() < self.failure_rate:
                return 503, {}, b"flaky"
            payload = self.verify(body, headers) if self.check_signatures else json.loads(body)
            if payload is None:
                self.unverified += 1
                return 400, {}, b"bad signature"
            self.received[f"{path} {headers['webhook-id']}"] += 1
            self.events[f"{path} {headers['webhook-id']}"] = payload
            return 204, {}, b""

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.received.values())


@contextmanager
def receiving(receiver: Receiver, path: str = "/hooks") -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            status, extra, answer = receiver.handle(body, {k.lower(): v for k, v in self.headers.items()}, self.path)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(answer)  # the sender stops reading after 64 KB

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
