"""Retention timers, run: the TTL stream path and the `retention` schedule (DESIGN.md §1.6).

Both paths end in `perform`: TTL removes a due timer and the stream hands its old image here; the
schedule reads the timers TTL has not removed yet from the sparse `due` index, month by month from
its cursor, each partition read only up to now (sort key): its cost follows the number of due timers
(plus one request per month elapsed), never the size of the table.
- done → the schedule deletes the timer (TTL already did on the stream path);
- postponed (a shipment still in transit at its deletion date) → due again at the next run of the
  schedule (and for TTL a little later), so it is deleted at the first run after it resolves;
- failed → re-armed with back-off (1 h, doubling, at most a day) so the work is never dropped; the
  stream path also reports the record as failed (retries, then the on-failure queue).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from functions.retention.actions import (
    Outcome,
    Repositories,
    archive_if_unconfirmed,
    delete_if_resolved,
    redact_shipment_data,
)
from shared.dynamo import keys
from shared.platform import clock
from shared.platform.observability import count, logger
from shared.retention.timers import DueTimer, Timer, TimerAction, month_after, month_of, timer_from_item

TTL_PRINCIPAL = "dynamodb.amazonaws.com"
RECHECK_AFTER = timedelta(minutes=55)  # TTL removes a postponed timer again after this (the stream path)
RETRY_FIRST, RETRY_LONGEST = timedelta(hours=1), timedelta(days=1)
STOP_WITH_SECONDS_LEFT = 20.0  # the schedule stops early and the next run carries on
_deserializer = TypeDeserializer()

Action = Callable[[Repositories, str, str, datetime, "str | None"], Outcome]


class RetentionFailed(Exception):
    """An action failed. The message holds ids only: the cause's text might quote personal data."""


def _redact(repos: Repositories, merchant_id: str, shipment_id: str, now: datetime, order_id: str | None) -> Outcome:
    redact_shipment_data(repos, merchant_id, shipment_id, now, order_id)
    return Outcome.done


def _archive(repos: Repositories, merchant_id: str, shipment_id: str, now: datetime, order_id: str | None) -> Outcome:
    return archive_if_unconfirmed(repos, merchant_id, shipment_id, now)


def _delete(repos: Repositories, merchant_id: str, shipment_id: str, now: datetime, order_id: str | None) -> Outcome:
    return delete_if_resolved(repos, merchant_id, shipment_id, now, order_id)


ACTIONS: dict[TimerAction, Action] = {TimerAction.redact: _redact, TimerAction.archive: _archive,
                                      TimerAction.delete: _delete}


def retry_delay(attempts: int) -> timedelta:
    return min(RETRY_FIRST * 2 ** min(attempts, 10), RETRY_LONGEST)


def perform(repos: Repositories, timer: Timer, now: datetime) -> Outcome:
    """Runs the timer's action; on failure re-arms it with back-off and raises RetentionFailed."""
    try:
        outcome = ACTIONS[timer.action](repos, timer.merchant_id, timer.shipment_id, now, timer.order_id)
    except Exception as error:
        logger.error("retention action failed", extra={"merchant_id": timer.merchant_id, "shipment_id": timer.shipment_id,
                                                       "action": timer.action.value, "error": type(error).__name__})
        count("RetentionActionsFailed")
        attempts = _attempts_so_far(repos, timer)
        repos.timers.rearm(timer, clock.epoch_seconds(now + retry_delay(attempts)), attempts + 1)
        raise RetentionFailed(f"{timer.action.value} of shipment {timer.shipment_id} failed "
                              f"({type(error).__name__}); re-armed") from None
    if outcome is Outcome.postponed:
        # Due again for the very next run of the schedule, however soon it comes: the shipment may
        # resolve any minute after this check, and is then deleted at the first run after that.
        # TTL's copy of the due time waits a little, so that the stream path does not spin on it.
        repos.timers.rearm(timer, clock.epoch_seconds(now) + 1, timer.attempts,
                           expires_epoch=clock.epoch_seconds(now + RECHECK_AFTER))
        count("RetentionTimersPostponed")
    return outcome


# --- the stream path: timers TTL removed ------------------------------------------------------------
def is_ttl_removal_of_timer(record: dict[str, Any]) -> bool:
    """What the event source mapping's FilterCriteria let through; checked again here so that a
    mapping without filters (or a user's own delete of a timer) never runs an action."""
    identity = record.get("userIdentity") or {}
    old_sk = ((record.get("dynamodb") or {}).get("OldImage") or {}).get(keys.SK, {}).get("S", "")
    return (record.get("eventName") == "REMOVE" and identity.get("principalId") == TTL_PRINCIPAL
            and keys.timer_action(old_sk) is not None)


def handle_removed_timer(repos: Repositories, record: dict[str, Any], now: datetime) -> Outcome | None:
    """One stream record. None when it is not a TTL removal of a timer (nothing to do)."""
    if not is_ttl_removal_of_timer(record):
        return None
    image = {name: _deserializer.deserialize(value) for name, value in record["dynamodb"]["OldImage"].items()}
    try:
        timer = timer_from_item(image)
    except (KeyError, ValueError, TypeError) as error:
        raise RetentionFailed(f"malformed timer {image.get(keys.SK)!s} ({type(error).__name__})") from None
    return perform(repos, timer, now)


# --- the schedule path: catching up from the due index ---------------------------------------------
def run_schedule(repos: Repositories, now: datetime, seconds_left: Callable[[], float]) -> dict[str, Any]:
    """Every timer due by `now`, oldest month first, from the cursor (the oldest month that may still
    hold due timers) to this month. Months before this one end drained: each timer read is deleted
    or re-armed for later, so the cursor moves past them."""
    now_epoch, this_month = clock.epoch_seconds(now), month_of(now.date())
    start = repos.timers.cursor() or month_of(repos.timers.first_merchant_day() or this_month)
    month, tally, months = min(start, this_month), Counter[str](), 0
    while month <= this_month:
        months += 1
        for due in repos.timers.due_in(month, now_epoch):
            if seconds_left() < STOP_WITH_SECONDS_LEFT:
                repos.timers.advance_cursor(month)
                return _summary(tally, months, complete=False)
            tally[_process_due(repos, due, now)] += 1
        month = month_after(month)
    repos.timers.advance_cursor(this_month)
    return _summary(tally, months, complete=True)


def _process_due(repos: Repositories, due: DueTimer, now: datetime) -> str:
    timer = Timer(due.merchant_id, due.shipment_id, due.action, due.due_epoch)
    try:
        outcome = perform(repos, timer, now)
    except RetentionFailed:
        return "failed"  # re-armed with back-off: this month is drained all the same
    # A deletion took the timer along with the shipment's partition; any other is deleted here.
    if outcome is Outcome.done and due.action is not TimerAction.delete:
        repos.timers.delete_if_due_at(due.key, due.due_epoch)
    return outcome.value


def _attempts_so_far(repos: Repositories, timer: Timer) -> int:
    """Failures before this one. An index entry (KEYS_ONLY) does not say, so the stored timer is read
    (on failures only); on the stream path TTL removed it and the old image says."""
    stored = repos.timers.get(timer.key)
    return max(timer.attempts, stored.attempts if stored else 0)


def _summary(tally: Counter[str], months: int, *, complete: bool) -> dict[str, Any]:
    result = {"done": tally["done"], "postponed": tally["postponed"], "failed": tally["failed"],
              "months_read": months, "complete": complete}
    logger.info("retention schedule run", extra=result)
    return result
