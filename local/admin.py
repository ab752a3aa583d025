"""Local-only routes under `/_local/` (never in template.yaml): the product clock, schedules on
demand, the emails sent, and the API documentation (local/docs.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from local.docs import ApiDocs
from local.gateway_responses import Answer, json_answer, problem
from local.outbox import Outbox
from local.proxy_event import IncomingRequest
from local.schedules import Schedules

log = logging.getLogger("local.admin")

PREFIX = "/_local/"
# Schedules that do what the product clock says is due: moving the clock runs them at once (the
# webhook retries a move made due go out now, not at the schedule's next real minute).
CLOCK_DRIVEN_SCHEDULES = ("outbound-retries",)
_ADVANCE_UNITS = {"advance_days": "days", "advance_hours": "hours", "advance_seconds": "seconds"}


class ProductClock(Protocol):
    def now(self) -> datetime: ...
    def advance(self, delta: timedelta) -> Any: ...
    def reset(self) -> None: ...


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class LocalRoutes:
    def __init__(self, clock: ProductClock, sweep_ttl: Callable[[], int], schedules: Schedules, outbox: Outbox,
                 docs: ApiDocs | None = None, after_clock_move: tuple[str, ...] = ()) -> None:
        self._clock = clock
        self._after_clock_move = after_clock_move
        self._sweep_ttl = sweep_ttl
        self._schedules = schedules
        self._outbox = outbox
        self._docs = docs

    def handle(self, request: IncomingRequest) -> Answer | None:
        if not request.path.startswith(PREFIX):
            return None
        name = request.path.removeprefix(PREFIX).rstrip("/")
        method = request.method
        documentation = self._docs.handle(method, request.path) if self._docs is not None else None
        if documentation is not None:
            return documentation
        if name == "clock" and method == "GET":
            return self._clock_now()
        if name == "clock" and method == "POST":
            return self._move_clock(request)
        if name == "schedules" and method == "GET":
            return json_answer(200, {"schedules": self._schedules.names()})
        if name.startswith("schedules/") and method == "POST":
            return self._run_schedule(name.removeprefix("schedules/"))
        if name == "outbox" and method == "GET":
            return json_answer(200, {"items": self._outbox.items()})
        if name == "webhook-deliveries" and method == "GET":
            return json_answer(200, {"items": pending_webhook_deliveries(self._clock.now())})
        if name == "outbox" and method == "DELETE":
            self._outbox.clear()
            return Answer(204)
        return problem(404, "Not Found", f"No local route {method} {request.path}.")

    def _clock_now(self) -> Answer:
        # `unix` as well: a carrier signature's `t=` locally is the product clock's time, not `date +%s`.
        now = self._clock.now()
        return json_answer(200, {"now": iso(now), "unix": int(now.timestamp())})

    def _move_clock(self, request: IncomingRequest) -> Answer:
        try:
            body = json.loads(request.body or b"{}")
            if body.get("reset"):
                self._clock.reset()
            delta = timedelta(**{unit: float(body[key]) for key, unit in _ADVANCE_UNITS.items() if key in body})
        except (ValueError, TypeError, AttributeError):
            return problem(400, "Bad Request", 'Send {"advance_days": n} or {"advance_seconds": n}.')
        if delta:
            self._clock.advance(delta)
        # The schedules first: TTL expiry sets the stream consumers to work on what expired, and
        # the schedules would then share the process with them.
        for schedule in self._after_clock_move:
            if schedule in self._schedules:
                try:
                    self._schedules.run(schedule)
                except Exception:
                    log.exception("schedule %s failed after the clock moved", schedule)
        expired = self._sweep_ttl()  # TTL reacts to the move at once, not at the next sweep
        log.info("product clock now %s (%d item(s) expired)", iso(self._clock.now()), expired)
        return self._clock_now()

    def _run_schedule(self, name: str) -> Answer:
        if name not in self._schedules:
            return problem(404, "Not Found", f"No schedule named {name!r}; see GET /_local/schedules.")
        try:
            result = self._schedules.run(name)
        except Exception as error:
            log.exception("schedule %s failed", name)
            return problem(500, "Schedule Failed", f"{type(error).__name__}: {error}")
        return json_answer(200, {"schedule": name, "result": result})


def pending_webhook_deliveries(now: datetime) -> list[dict[str, Any]]:
    """Webhook deliveries waiting for their next attempt, soonest first (due or not)."""
    from shared.dynamo.keys import due_epoch_of
    from shared.webhooks.store import WebhookEndpointStore

    return [{"merchant_id": merchant_id, "endpoint_id": endpoint_id, "event_id": event_id,
             "due_at": iso(datetime.fromtimestamp(due_epoch_of(position), UTC))}
            for merchant_id, endpoint_id, event_id, position in WebhookEndpointStore().pending(now)]
