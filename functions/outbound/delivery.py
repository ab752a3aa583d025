"""Delivering events to merchants' endpoints (DESIGN.md §1.7): fan-out of a bus event to the
merchant's subscribed endpoints, one signed attempt each, the attempt logged, and on failure the
next attempt scheduled with exponential backoff and jitter for about 3 days.

Why retries wait as due-time items polled by a schedule rather than in SQS (visibility timeout):
one bus event fans out to several endpoints, each with its own schedule, while an SQS message has
one; SQS hides a message for 12 h at most and counts every early receive toward its dead-letter
threshold, so a 3-day schedule would be a loop of receives tangled with the DLQ; and a due item
moves with the product clock (the local stack and the tests run due retries by moving it), gives
the delivery log its `next_attempt_at`, and lists what is pending. The cost is one Query of the
sparse `due` index per day of lookback each minute.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from functions.outbound import sender
from shared.errors import ChangedMeanwhile, NotFound
from shared.events.catalogue import WebhookEndpointAutoDisabled, parse
from shared.events.outbox import outbox_entry
from shared.platform import clock
from shared.platform.ids import new_id
from shared.platform.observability import count, logger
from shared.platform.settings import settings
from shared.webhooks.model import StoredEndpoint
from shared.webhooks.payloads import SOURCED_DOMAIN_EVENTS, WebhookEvent, ping, webhook_events
from shared.webhooks.signing import signed_headers
from shared.webhooks.store import DeliveryAttempt, PendingDelivery, WebhookEndpointStore

FIRST_RETRY_DELAY = timedelta(seconds=30)
BACKOFF_FACTOR = 3
MAX_RETRY_DELAY = timedelta(hours=12)
RETRY_WINDOW = timedelta(days=3)  # no attempt is scheduled later than this after the first
JITTER = (0.75, 1.25)
DISABLE_AFTER = timedelta(days=5)  # of unbroken failure of an endpoint
DISABLED_REASON = "disabled after failing for 5 days"
DUE_PER_RUN = 25  # retries one schedule run attempts (each may take up to 10 s)

Post = Callable[..., sender.Outcome]


def next_attempt_at(attempt: int, first_attempt_at: datetime, now: datetime, rng: random.Random) -> datetime | None:
    """When attempt `attempt + 1` is due after attempt `attempt` failed at `now`; None once the
    retry window is over (30 s, 1.5 min, 4.5 min, ... up to 12 h apart, each ±25 %)."""
    delay = min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * BACKOFF_FACTOR ** max(0, attempt - 1))
    due = now + delay * rng.uniform(*JITTER)
    return due if due - first_attempt_at <= RETRY_WINDOW else None


class Deliverer:
    def __init__(self, store: WebhookEndpointStore, *, post: Post = sender.post,
                 rng: random.Random | None = None) -> None:
        self._store = store
        self._post = post
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret

    # --- what arrives ------------------------------------------------------------------------
    def handle_message(self, message: Mapping[str, Any]) -> int:
        """One queue message: a bus event (through the rule) or a ping or replay the API asked for."""
        kind = message.get("outbound")
        if kind == "ping":
            return self.ping(str(message["merchant_id"]), str(message["endpoint_id"]))
        if kind == "replay":
            return self.replay(str(message["merchant_id"]), str(message["delivery_id"]))
        return self.deliver_bus_event(message)

    def deliver_bus_event(self, bus_event: Mapping[str, Any]) -> int:
        detail_type = str(bus_event.get("detail-type"))
        if detail_type not in SOURCED_DOMAIN_EVENTS:
            logger.warning("event type not delivered to merchants", extra={"detail_type": detail_type})
            return 0
        event = parse(bus_event)
        published_at = _instant(bus_event.get("time")) or clock.now()
        wanted = webhook_events(event, str(bus_event.get("id") or new_id("bus")), published_at)
        # Only this merchant's partition is read: another merchant's endpoint cannot be found.
        endpoints = [e for e in self._store.all_of(event.merchant_id) if e.enabled]
        sent = 0
        for webhook_event in wanted:
            for endpoint in endpoints:
                if endpoint.receives(webhook_event.type):
                    self.attempt(event.merchant_id, endpoint, _first(webhook_event, endpoint))
                    sent += 1
        return sent

    def ping(self, merchant_id: str, endpoint_id: str) -> int:
        endpoint = self._store.get(merchant_id, endpoint_id)
        self.attempt(merchant_id, endpoint, _first(ping(endpoint_id), endpoint), reschedule=False)
        return 1

    def replay(self, merchant_id: str, delivery_id: str) -> int:
        """The logged delivery's event again, now, once (a failure is logged, not rescheduled)."""
        logged = self._store.delivery(merchant_id, delivery_id)
        endpoint = self._store.get(merchant_id, logged.endpoint_id)
        now = clock.now()
        self.attempt(merchant_id, endpoint, PendingDelivery(
            endpoint_id=endpoint.id, event_id=logged.event_id, event_type=logged.event_type, body=logged.body,
            attempt=logged.attempt + 1, first_attempt_at=now, due_at=now), reschedule=False)
        return 1

    def run_due(self, limit: int = DUE_PER_RUN) -> int:
        """Attempts the retries due by the product clock; each is claimed first (a concurrent run
        or a run that died leaves it to the other or to later)."""
        done = 0
        for merchant_id, endpoint_id, event_id, position in self._store.due(clock.now(), limit=limit):
            pending = self._store.claim(merchant_id, endpoint_id, event_id, position)
            if pending is None:
                continue
            try:
                endpoint = self._store.get(merchant_id, endpoint_id)
            except NotFound:
                endpoint = None
            if endpoint is None or not endpoint.enabled:
                self._store.drop(merchant_id, endpoint_id, event_id)  # deleted or disabled: nothing to send
                continue
            self.attempt(merchant_id, endpoint, pending)
            done += 1
        return done

    # --- one attempt -------------------------------------------------------------------------
    def attempt(self, merchant_id: str, endpoint: StoredEndpoint, pending: PendingDelivery, *,
                reschedule: bool = True) -> sender.Outcome:
        secrets = endpoint.signing_secrets(clock.now())
        # The signature's timestamp is the real time of sending: receivers compare it with their clock.
        headers = signed_headers(secrets, pending.event_id, int(time.time()), pending.body)
        outcome = self._post(endpoint.url, headers, pending.body, loopback_allowed=settings().outbound_allow_loopback)
        now = clock.now()
        next_at = None
        if not outcome.succeeded and reschedule:
            next_at = next_attempt_at(pending.attempt, pending.first_attempt_at, now, self._rng)
        self._store.log(merchant_id, DeliveryAttempt(
            id=new_id("whd"), endpoint_id=endpoint.id, event_id=pending.event_id, event_type=pending.event_type,
            status_code=outcome.status_code, latency_ms=outcome.latency_ms, error=outcome.error,
            attempt=pending.attempt, next_attempt_at=next_at, attempted_at=now, body=pending.body))
        if next_at is not None:
            self._store.schedule(merchant_id, pending.model_copy(update={"attempt": pending.attempt + 1,
                                                                        "due_at": next_at}))
        elif reschedule and pending.attempt > 1:
            self._store.drop(merchant_id, endpoint.id, pending.event_id)
        count("WebhookDelivered" if outcome.succeeded else "WebhookAttemptFailed")
        if not outcome.succeeded and next_at is None and reschedule:
            count("WebhookGivenUp")
        self._note_health(merchant_id, endpoint, outcome.succeeded, now)
        return outcome

    def _note_health(self, merchant_id: str, endpoint: StoredEndpoint, succeeded: bool, now: datetime) -> None:
        """Keeps the start of the endpoint's unbroken run of failures; disables it after 5 days."""
        if succeeded and endpoint.failing_since is None:
            return
        current = self._store.get(merchant_id, endpoint.id)
        outbox = None
        if succeeded:
            changes: dict[str, Any] = {"failing_since": None}
        elif current.failing_since is None:
            changes = {"failing_since": now}
        elif current.enabled and now - current.failing_since >= DISABLE_AFTER:
            changes = {"enabled": False, "disabled_reason": DISABLED_REASON, "updated_at": now}
            # The merchant is emailed (functions/notify) from this event, written with the change:
            # only the write that disables the endpoint publishes it, so once per disablement.
            outbox = outbox_entry(WebhookEndpointAutoDisabled(
                merchant_id=merchant_id, endpoint_id=endpoint.id, failing_since=current.failing_since,
                disabled_at=now))
        else:
            return
        if succeeded and current.failing_since is None:
            return
        # Another attempt changing it meanwhile is fine: the next outcome brings it up to date.
        with contextlib.suppress(ChangedMeanwhile):
            self._store.save(merchant_id, current.model_copy(update=changes), outbox=outbox)
            if outbox is not None:
                count("WebhookEndpointDisabled")
                logger.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint.id})


def _first(event: WebhookEvent, endpoint: StoredEndpoint) -> PendingDelivery:
    now = clock.now()
    return PendingDelivery(endpoint_id=endpoint.id, event_id=event.id, event_type=event.type, body=event.body(),
                           attempt=1, first_attempt_at=now, due_at=now)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def queue_message(kind: str, merchant_id: str, **ids: str) -> str:
    return json.dumps({"outbound": kind, "merchant_id": merchant_id, **ids})
