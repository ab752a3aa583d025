"""moto server in this process, and boto3 clients bound to it for the stack's own work."""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from moto import backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local import indexes, item_size, serialization, transactions
from local.pollers import ENGINE_ACTIVITY, MESSAGING_ACTIVITY

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account for any credentials
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

Middleware = Callable[[Any], Any]


class _InArrivalOrder:
    """A lock granted in arrival order. `threading.Lock` lets the thread that just released it take
    it again first, so one busy caller (an export paging through a Query) could starve the others
    (another merchant's export, an API request) for seconds."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._held = False

    def __enter__(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # the releasing thread hands the lock over: it stays held

    def __exit__(self, *_: object) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._held = False


# Requests that never give a poller work: the pollers' own, and reads. Anything else wakes them
# (local/pollers.py); a request missed here only waits for the pollers' idle period.
_READS = frozenset({
    "GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan", "DescribeTable", "ListTables",
    "DescribeTimeToLive", "GetRecords", "GetShardIterator", "DescribeStream", "ListStreams",
    "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "GetQueueUrl", "GetQueueAttributes", "ListQueues",
    "GetSecretValue", "DescribeSecret",
})


def _is_table_request(environ: Any) -> bool:
    """A DynamoDB request: its writes make work for the table's stream reader only."""
    return (environ.get("HTTP_X_AMZ_TARGET") or "").startswith("DynamoDB_")


def _may_make_work(environ: Any) -> bool:
    target = environ.get("HTTP_X_AMZ_TARGET") or ""
    if target:
        return target.rpartition(".")[2] not in _READS
    return environ.get("REQUEST_METHOD") not in ("GET", "HEAD")


# Held while the engine serves a request, and by the stack's own in-process work on the engine
# (TTL expiry): moto's backends are not thread-safe.
ENGINE = _InArrivalOrder()


def _one_request_at_a_time(app: Any) -> Any:
    """moto's backends are not thread-safe: concurrent transactions and conditional writes lose
    updates (seen: refunded totals short under concurrent refunds). AWS applies each request
    atomically, so the local engine serves one request at a time, in arrival order."""

    def serialised(environ: Any, start_response: Any) -> list[bytes]:
        with ENGINE:
            answer = list(app(environ, start_response))
        if _may_make_work(environ):
            ENGINE_ACTIVITY.bump()
            if not _is_table_request(environ):
                MESSAGING_ACTIVITY.bump()
        return answer

    return serialised


def _list_moto_modules_once() -> None:
    """moto's dispatcher lists its own package directory (a listdir and ~200 stat calls) on every
    request, under its dispatch lock, to ask whether the path names a backend: the directory does
    not change while the stack runs, so it is listed once."""
    if getattr(backends.list_of_moto_modules, "listed_once", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def listed() -> tuple[str, ...]:
        return modules

    listed.listed_once = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = listed  # type: ignore[assignment]


class MotoServer(ThreadedMotoServer):
    """ThreadedMotoServer whose WSGI app can be wrapped (the outbox records SES sends that way)."""

    def __init__(self, port: int, middleware: Middleware | None = None) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._middleware = middleware
        self.startup_error: BaseException | None = None

    def _server_entry(self) -> None:
        app: Any = DomainDispatcherApplication(create_backend_app)
        if self._middleware is not None:
            app = self._middleware(app)
        app = _one_request_at_a_time(app)
        try:
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        except BaseException as error:  # e.g. port in use: moto's start() would otherwise wait forever
            self.startup_error = error
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()


class Aws:
    """Cached boto3 clients pointed at the embedded moto server."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = REGION
        self.account_id = ACCOUNT_ID
        self._session = boto3.session.Session(region_name=REGION, **CREDENTIALS)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service, endpoint_url=self.endpoint_url,
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}, read_timeout=30))
            return self._clients[service]

    def dynamodb_backend(self) -> Any:
        """The engine's DynamoDB backend, in this process (hold ENGINE while using it)."""
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.account_id][self.region]

    def queue_url(self, queue_arn: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]


def start_moto(port: int, middleware: Middleware | None = None) -> tuple[MotoServer, Aws]:
    # werkzeug logs every request at INFO: far too loud next to the functions' own logs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    transactions.install()  # moto copies the whole table per transaction item: O(table) per write
    indexes.install()  # moto's Query sorts the whole table: O(table) per read (after transactions: see there)
    serialization.install()  # moto's generic serializer: most of the engine's time on items and stream records
    item_size.install()  # moto sums the whole item's size again for each attribute it sets
    _list_moto_modules_once()
    server = MotoServer(port, middleware)
    server.start()
    if server.startup_error is not None:
        raise RuntimeError(f"moto server could not start on port {port}") from server.startup_error
    host, bound_port = server.get_host_and_port()
    return server, Aws(f"http://{host}:{bound_port}")
