"""Fault injection for component tests: chosen AWS calls fail the way the services make them fail.

A fault names a service and an operation as botocore's events do (`dynamodb`, `s3`, `sesv2`,
`eventbridge`, and `PutItem`, `UploadPart`, `SendEmail`, `PutEvents`, ... or `*`), which matching
call fails (`on_call`, counted from 1 among the calls that match, `when` narrowing them) and how
many in a row (`times`, None for every one after). It acts at one of two layers, because botocore's
own retry handler (standard mode in `shared/platform/aws.py`) sits between them:

- `at="call"` (the default) acts where `before-call` / `after-call` hooks act, *above* the retry
  handler: the product sees the error as if every retry had failed too (or its only attempt, for a
  client made with one attempt, like the SES sender's). These are real botocore event handlers,
  registered on every session through `botocore.handlers.BUILTIN_HANDLERS` (as moto registers its
  own), so every client the product makes, in whatever session or cache, carries them.
- `at="send"` acts where `before-send` acts, *below* the retry handler: an injected answer or
  connection error goes through botocore's retries like a real one, so a single throttle is
  absorbed and only a persistent one reaches the product. botocore runs every `before-send`
  handler, and moto's (the one that answers in place of AWS) would apply the request whatever
  another handler answered; so this layer wraps moto's handler instead: an injected error answer
  means moto never saw the request, an injected timeout means moto applied it and the answer was
  lost. Retries do not sleep while faults are injected (the delay is botocore's business; the
  suite must stay fast).

What can go wrong (`error`):
- `AwsError(code, status)`: the service answers an error (ThrottlingException, SlowDown,
  ConditionalCheckFailedException, InternalError, MessageRejected, ...); the request was not
  applied, unless `applied=True` (a 5xx that hid a write: "the request may have succeeded").
- `LostAnswer()`: the request reached the service and was applied, then the answer never came
  back (a ReadTimeoutError): the hardest case, where a retry repeats a write that already landed.
- `NoConnection()`: the request never left (EndpointConnectionError).
- `FailedEntries(indices)`: EventBridge `PutEvents` answers 200 with `FailedEntryCount` > 0; the
  entries at `indices` (all when None) were not put on the bus, the others were.

Every fault counts what it matched (`seen`) and what it broke (`hits`): a test asserts `hits` so
that a fault that never fired (a renamed operation, a client made elsewhere) fails the test
instead of letting it pass for nothing. `FaultInjector.calls` lists every call made at the call
layer, so a test can walk each call of a flow.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore import handlers as botocore_handlers
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

Layer = Literal["call", "send"]


@dataclass(frozen=True)
class AwsError:
    """`applied`: the service did the work and still answered the error (a 5xx may hide a write)."""

    code: str
    status: int = 400
    message: str = "injected fault"
    applied: bool = False


@dataclass(frozen=True)
class LostAnswer:
    """Applied by the service, answer lost on the way back (ReadTimeoutError)."""


@dataclass(frozen=True)
class NoConnection:
    """Never reached the service (EndpointConnectionError)."""


@dataclass(frozen=True)
class FailedEntries:
    """PutEvents answered 200, these entries refused (None: all of them)."""

    indices: tuple[int, ...] | None = None
    code: str = "InternalFailure"


Error = AwsError | LostAnswer | NoConnection | FailedEntries

# The services' own spellings of their common failures.
DYNAMODB_THROTTLED = AwsError("ProvisionedThroughputExceededException", 400)
DYNAMODB_THROTTLING = AwsError("ThrottlingException", 400)
DYNAMODB_CONDITION_FAILED = AwsError("ConditionalCheckFailedException", 400)
DYNAMODB_INTERNAL = AwsError("InternalServerError", 500)
S3_INTERNAL = AwsError("InternalError", 500)
S3_SLOW_DOWN = AwsError("SlowDown", 503)
SES_THROTTLED = AwsError("TooManyRequestsException", 429)
SES_REJECTED = AwsError("MessageRejected", 400)
EVENTS_THROTTLED = AwsError("ThrottlingException", 400)


@dataclass
class Fault:
    service: str
    operation: str
    error: Error
    at: Layer = "call"
    on_call: int = 1
    times: int | None = 1
    when: Callable[[Mapping[str, Any]], bool] | None = None
    seen: int = 0
    hits: int = 0

    def matches(self, service: str, operation: str, params: Mapping[str, Any]) -> bool:
        if self.service not in (service, "*") or self.operation not in (operation, "*"):
            return False
        return self.when is None or bool(self.when(params))

    def due(self) -> bool:
        """Counts one matching call; True when this one is to fail."""
        self.seen += 1
        last = None if self.times is None else self.on_call + self.times - 1
        return self.seen >= self.on_call and (last is None or self.seen <= last)


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: Mapping[str, Any]


@dataclass
class FaultInjector:
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, service: str, operation: str, error: Error, *, at: Layer = "call", on_call: int = 1,
             times: int | None = 1, when: Callable[[Mapping[str, Any]], bool] | None = None) -> Fault:
        if isinstance(error, FailedEntries) and (at != "call" or (service, operation) != ("eventbridge", "PutEvents")):
            raise ValueError("FailedEntries is an answer of eventbridge PutEvents, injected at the call layer")
        fault = Fault(service, operation, error, at, on_call, times, when)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.calls.clear()

    def operations(self, service: str | None = None) -> list[str]:
        return [c.operation for c in self.calls if service is None or c.service == service]

    def _choose(self, layer: Layer, service: str, operation: str, params: Mapping[str, Any]) -> Fault | None:
        with self._lock:
            if layer == "call":
                self.calls.append(Call(service, operation, params))
            # Every fault counts the calls it matches; the first one due breaks the call.
            due = [f for f in self.faults if f.at == layer and f.matches(service, operation, params) and f.due()]
            if due:
                due[0].hits += 1
                return due[0]
        return None


_active: FaultInjector | None = None
_CONTEXT_KEY = "colis_injected_fault"


def _names(event_name: str) -> tuple[str, str]:
    _, service, operation = event_name.split(".", 2)
    return service, operation


# --- the call layer: botocore event handlers ------------------------------------------------------
def _on_client_params(params: dict[str, Any], context: dict[str, Any], event_name: str, **_: Any) -> Any:
    injector = _active
    if injector is None:
        return None
    service, operation = _names(event_name)
    fault = injector._choose("call", service, operation, dict(params))
    if fault is None:
        return None
    context[_CONTEXT_KEY] = fault
    if isinstance(fault.error, FailedEntries):
        entries = list(params.get("Entries") or [])
        context[_CONTEXT_KEY + ".entries"] = entries
        refused = _refused_indices(fault.error, len(entries))
        context[_CONTEXT_KEY + ".refused"] = refused
        if len(refused) == len(entries):
            return None  # nothing is sent (see _on_before_call): an empty request would not validate
        return {**params, "Entries": [e for i, e in enumerate(entries) if i not in refused]}
    return None


def _on_before_call(context: dict[str, Any], event_name: str, **_: Any) -> Any:
    fault = context.get(_CONTEXT_KEY)
    if fault is None:
        return None
    if isinstance(fault.error, AwsError) and not fault.error.applied:
        # Answered as the service would: botocore raises its modelled exception for the code.
        response = AWSResponse("https://injected.invalid/", fault.error.status, {}, None)
        return response, {"Error": {"Code": fault.error.code, "Message": fault.error.message},
                          "ResponseMetadata": {"HTTPStatusCode": fault.error.status}}
    if isinstance(fault.error, NoConnection):
        raise EndpointConnectionError(endpoint_url=f"https://{_names(event_name)[0]}.injected.invalid/")
    if isinstance(fault.error, FailedEntries) and len(context[_CONTEXT_KEY + ".refused"]) == len(
            context.get(_CONTEXT_KEY + ".entries", [])):
        return AWSResponse("https://injected.invalid/", 200, {}, None), {"Entries": [], "FailedEntryCount": 0}
    return None


def _on_after_call(parsed: dict[str, Any], context: dict[str, Any], event_name: str, **_: Any) -> None:
    fault = context.get(_CONTEXT_KEY)
    if fault is None:
        return
    if isinstance(fault.error, LostAnswer):
        raise ReadTimeoutError(endpoint_url=f"https://{_names(event_name)[0]}.injected.invalid/")
    if isinstance(fault.error, AwsError) and fault.error.applied:
        raise ClientError({"Error": {"Code": fault.error.code, "Message": fault.error.message},
                           "ResponseMetadata": {"HTTPStatusCode": fault.error.status}}, _names(event_name)[1])
    if isinstance(fault.error, FailedEntries):
        refused: list[int] = context[_CONTEXT_KEY + ".refused"]
        accepted = iter(parsed.get("Entries") or [])
        total = len(parsed.get("Entries") or []) + len(refused)
        parsed["Entries"] = [{"ErrorCode": fault.error.code, "ErrorMessage": "injected fault"} if i in refused
                             else next(accepted) for i in range(total)]
        parsed["FailedEntryCount"] = len(refused)


def _refused_indices(error: FailedEntries, count: int) -> list[int]:
    return list(range(count)) if error.indices is None else [i for i in error.indices if i < count]


botocore_handlers.BUILTIN_HANDLERS.extend([
    ("provide-client-params", _on_client_params),
    ("before-call", _on_before_call),
    ("after-call", _on_after_call),
])


# --- the send layer: in front of moto's answer ----------------------------------------------------
def _wire_params(request: Any) -> Mapping[str, Any]:
    body = request.body
    if isinstance(body, bytes | str) and body[:1] in (b"{", "{"):
        try:
            return dict(json.loads(body))
        except ValueError:
            return {}
    return {}


def _error_answer(service: str, url: str, error: AwsError) -> AWSResponse:
    from moto.core.botocore_stubber import MockRawResponse

    if service == "s3":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{error.code}</Code>"
                f"<Message>{error.message}</Message></Error>").encode()
        headers = {"Content-Type": "application/xml"}
    else:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": error.code}
    return AWSResponse(url, error.status, headers, MockRawResponse(body))


def _send_layer(moto_call: Callable[..., Any]) -> Callable[..., Any]:
    def answer(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        injector = _active
        fault = None
        if injector is not None:
            service, operation = _names(event_name)
            fault = injector._choose("send", service, operation, _wire_params(request))
        if fault is None:
            return moto_call(stubber, event_name, request, **kwargs)
        if isinstance(fault.error, AwsError):
            if fault.error.applied:
                moto_call(stubber, event_name, request, **kwargs)
            return _error_answer(service, request.url, fault.error)
        if isinstance(fault.error, NoConnection):
            raise EndpointConnectionError(endpoint_url=request.url)
        moto_call(stubber, event_name, request, **kwargs)
        raise ReadTimeoutError(endpoint_url=request.url)

    return answer


@contextmanager
def injected_faults() -> Iterator[FaultInjector]:
    """Faults for the duration of the block (one block at a time)."""
    global _active
    from botocore.retries.standard import ExponentialBackoff
    from moto.core.botocore_stubber import BotocoreStubber

    if _active is not None:
        raise RuntimeError("fault injection is already active")
    injector = FaultInjector()
    moto_call = BotocoreStubber.__call__
    delay = ExponentialBackoff.delay_amount
    BotocoreStubber.__call__ = _send_layer(moto_call)  # type: ignore[method-assign]
    ExponentialBackoff.delay_amount = lambda self, context: 0  # type: ignore[method-assign]
    _active = injector
    try:
        yield injector
    finally:
        _active = None
        BotocoreStubber.__call__ = moto_call  # type: ignore[method-assign]
        ExponentialBackoff.delay_amount = delay  # type: ignore[method-assign]


# --- predicates on a call's parameters ------------------------------------------------------------
def _plain(value: Any) -> Any:
    """An attribute value whether the caller used the resource (plain) or the client (typed)."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("S", "N"):
        return next(iter(value.values()))
    return value


def item_key(params: Mapping[str, Any]) -> tuple[Any, Any]:
    """(pk, sk) of a single-item request (GetItem, PutItem, UpdateItem, DeleteItem)."""
    from shared.dynamo import keys

    source = params.get("Key") or params.get("Item") or {}
    return _plain(source.get(keys.PK)), _plain(source.get(keys.SK))


def sk_starts(prefix: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda params: str(item_key(params)[1] or "").startswith(prefix)


def key_is(key: Mapping[str, str]) -> Callable[[Mapping[str, Any]], bool]:
    from shared.dynamo import keys

    wanted = (key[keys.PK], key[keys.SK])
    return lambda params: item_key(params) == wanted
