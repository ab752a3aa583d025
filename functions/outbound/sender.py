"""One HTTP POST of a signed event to a merchant's endpoint, safe by construction (DESIGN.md §1.7).

- The URL is checked again (https; plain http to loopback only where the local stack allows it).
- The host is resolved at every attempt and every address it resolves to is checked against the
  private, loopback, link-local (169.254.169.254) and unique-local ranges; the connection then goes
  to the address that was checked (no second lookup a DNS rebinding could answer differently).
- 10 s timeout on connecting and on each read; redirects are not followed (3xx is a failure).
- At most 64 KB of the response is read, and none of it is kept or logged: only its status code.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.webhooks.model import refused_address, url_problem

TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Colis-Webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def _connected(address: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((address, port), timeout)
    # As http.client does: headers and body go in separate writes, which Nagle would hold back.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connected(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = _connected(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _resolve(host: str, port: int) -> list[str]:
    literal = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(literal))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def post(url: str, headers: dict[str, str], body: str, *, loopback_allowed: bool,
         timeout: float = TIMEOUT_SECONDS) -> Outcome:
    started = time.monotonic()

    def outcome(status: int | None, error: str | None) -> Outcome:
        return Outcome(status, int((time.monotonic() - started) * 1000), error)

    problem = url_problem(url, loopback_http_allowed=loopback_allowed)
    if problem:
        return outcome(None, f"refused: {problem}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    try:
        addresses = _resolve(host, port)
    except (socket.gaierror, UnicodeError):
        return outcome(None, "the host name does not resolve")
    for address in addresses:
        why = refused_address(ipaddress.ip_address(address), loopback_allowed=loopback_allowed)
        if why:
            return outcome(None, f"refused: the host resolves to {why}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_type = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    connection = connection_type(host, port, addresses[0], timeout)
    try:
        connection.request("POST", path, body=body.encode("utf-8"),
                           headers={**headers, "content-type": "application/json", "user-agent": USER_AGENT})
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)  # read (bounded) so the exchange completes; never kept
        status = response.status
    except TimeoutError:
        return outcome(None, f"no answer within {timeout:g} s")
    except ssl.SSLError:
        return outcome(None, "TLS handshake failed")
    except ConnectionRefusedError:
        return outcome(None, "connection refused")
    except (OSError, http.client.HTTPException):
        return outcome(None, "the connection failed")
    finally:
        connection.close()
    if 200 <= status < 300:
        return outcome(status, None)
    if 300 <= status < 400:
        return outcome(status, f"HTTP {status}: redirects are not followed")
    return outcome(status, f"HTTP {status}")
