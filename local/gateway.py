"""The HTTP side of the local stack: what API Gateway does between a client and the functions."""

from __future__ import annotations

import base64
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from local.admin import LocalRoutes
from local.authorizer import authorize
from local.gateway_responses import Answer, gateway_response, integration_failure, problem
from local.invoker import Invoker
from local.proxy_event import IncomingRequest, proxy_event
from local.routes import MethodNotAllowed, RouteTable
from local.usage_plans import UsagePlanGate

log = logging.getLogger("local.gateway")
# A query string can hold a secret (Shippo's `?token=`) or personal data (an email searched for):
# the access log keeps the method, the path and the status only. API Gateway's access log
# (`$context.path`) has no query string either.
_QUERY_STRING = re.compile(r"\?[^\s\"']*")


def without_query_strings(line: str) -> str:
    return _QUERY_STRING.sub("", line)


MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's hard limit
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection"}


def function_answer(result: Any) -> Answer:
    """The function's proxy response as API Gateway writes it back (or 502 when malformed)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        log.error("malformed Lambda proxy response")
        return integration_failure()
    headers = [(str(name), str(value)) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(value)) for value in values if (str(name), str(value)) not in headers]
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        log.error("malformed Lambda proxy response: body is not a string")
        return integration_failure()
    raw = base64.b64decode(body) if body and result.get("isBase64Encoded") else (body or "").encode("utf-8")
    return Answer(int(result["statusCode"]), [h for h in headers if h[0].lower() not in _HOP_HEADERS], raw)


class Gateway:
    def __init__(self, routes: RouteTable, invoker: Invoker, local_routes: LocalRoutes | None,
                 usage_plans: UsagePlanGate | None = None) -> None:
        self.routes = routes
        self._invoker = invoker
        self._local_routes = local_routes
        self._usage_plans = usage_plans
        apis = {route.api.logical_id: route.api for route in routes.routes}
        self._sole_api = next(iter(apis.values())) if len(apis) == 1 else None

    def too_large(self, request_id: str) -> Answer:
        return gateway_response("REQUEST_TOO_LARGE", self._sole_api, request_id)

    def handle(self, request: IncomingRequest) -> Answer:
        if self._local_routes is not None:
            local = self._local_routes.handle(request)
            if local is not None:
                return local
        match = self.routes.match(request.method, request.path)
        if match is None:
            return gateway_response("MISSING_AUTHENTICATION_TOKEN", self._sole_api, request.request_id)
        if isinstance(match, MethodNotAllowed):
            return problem(405, "Method Not Allowed", f"{request.method} is not allowed here.",
                           [("Allow", ", ".join(match.allowed))])
        route = match.route
        authorizer_context, usage_identifier = None, None
        if route.authorizer is not None:
            decision = authorize(self._invoker, route, request, match.path_parameters)
            if decision.refusal is not None:
                return gateway_response(decision.refusal, route.api, request.request_id)
            authorizer_context, usage_identifier = decision.context, decision.usage_identifier
        if route.api_key_required and self._usage_plans is not None:
            key = usage_identifier if route.api.api_key_source == "AUTHORIZER" else request.header("x-api-key")
            refusal = self._usage_plans.refusal(route.api, key)
            if refusal is not None:
                return gateway_response(refusal, route.api, request.request_id)
        event = proxy_event(request, route, match.path_parameters, authorizer_context)
        try:
            result = self._invoker.invoke(route.function, event)
        except Exception:
            log.exception("%s failed on %s %s", route.function.logical_id, request.method, route.path)
            return integration_failure()
        return function_answer(result)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GatewayServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        raw_path, _, query = self.path.partition("?")
        request = IncomingRequest(
            method=self.command, path=raw_path or "/", query=parse_qsl(query, keep_blank_values=True),
            headers=list(self.headers.items()), body=b"", source_ip=self.client_address[0])
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self._drain(length)
            self._write(self.server.gateway.too_large(request.request_id), request.request_id)
            return
        request.body = self._read_body(length)
        try:
            answer = self.server.gateway.handle(request)
        except Exception:
            log.exception("gateway failed on %s %s", self.command, raw_path)
            answer = integration_failure()
        self._write(answer, request.request_id)

    def _read_body(self, length: int) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(length) if length else b""

    def _drain(self, length: int) -> None:
        """Reads and drops an oversized body, so the client gets the 413 rather than a reset."""
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                return
            length -= len(chunk)

    def _write(self, answer: Answer, request_id: str) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD" and answer.body:
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), without_query_strings(format % args))


class GatewayServer(ThreadingHTTPServer):
    """Bound at once (so port 0 resolves before the functions' environment is built), served later."""

    daemon_threads = True
    # socketserver's default backlog is 5: a burst of concurrent clients (50 refunds at once)
    # would see connections reset, which API Gateway never does.
    request_queue_size = 256
    gateway: Gateway

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _RequestHandler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serve(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._thread = threading.Thread(target=self.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()
