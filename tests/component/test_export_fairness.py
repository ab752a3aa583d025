"""Fair exports (DESIGN.md §1.4): at most 2 exports of a merchant run at once; the others wait in
the table (no worker held, nothing expires) and start in order as slots free up; another merchant
is never held up; a slot comes back when its run fails, and when its run died (lease ended)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from functions.export import jobs
from functions.export.worker import SWEEP, lambda_handler
from shared.dynamo import keys
from shared.exports.fairness import LEASE, RUNNING_PER_MERCHANT, ExportGates
from shared.exports.store import ExportRepository
from shared.platform import aws, clock
from tests.apigw import LambdaContext
from tests.export_support import create_shipment, get_export, new_merchant, requested, worker


class Context(LambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.fixture
def merchants(aws_env: dict[str, Any]) -> tuple[str, str]:
    first, other = new_merchant("Atelier Lune"), new_merchant("Brûlerie Nord")
    create_shipment(first)
    create_shipment(other)
    return first, other


def exports_of(merchant: str, count: int) -> list[str]:
    made = []
    for _ in range(count):
        made.append(requested(merchant, {"type": "shipments"}))
        clock.use_fixed(clock.now() + timedelta(milliseconds=5))  # a creation order to keep
    return made


def deliver(merchant: str, export_id: str) -> None:
    """What the EventBridge rule does with an `ExportRequested` event."""
    event = {"version": "0", "id": "e", "detail-type": "ExportRequested", "source": "colis", "account": "1",
             "time": "2026-03-10T12:00:00Z", "region": "eu-west-1", "resources": [],
             "detail": {"merchant_id": merchant, "export_id": export_id}}
    assert lambda_handler(event, Context()) is None


def status(merchant: str, export_id: str) -> str:
    return str(get_export(merchant, export_id).json()["status"])


class Dispatcher:
    """The table stream's outbox dispatcher, by hand: the `ExportRequested` entries written since
    the last look (a woken export gets a fresh entry). Entries there at its creation are taken as
    delivered already (the requests' own events)."""

    def __init__(self, merchant: str) -> None:
        self.seen: set[str] = set()
        self.woken(merchant)

    def woken(self, merchant: str) -> list[str]:
        found = []
        items = aws.table().query(KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
                                  ExpressionAttributeValues={":pk": f"M#{merchant}", ":sk": "EXPORT#"})["Items"]
        for item in sorted(items, key=lambda item: item["created_at"]):
            entry = item.get("outbox")
            # Only the wake-ups: an export's end also announces itself (ExportFinished) through the outbox.
            if entry and entry["detail_type"] == "ExportRequested" and entry["id"] not in self.seen:
                self.seen.add(entry["id"])
                found += [event["export_id"] for event in json.loads(entry["events"])]
        return found


def running_while(run: Callable[[str, str], None]) -> Callable[..., Any]:
    """A `run_export` that calls `run(merchant, export_id)` before running for real: what happens
    while the export runs."""
    real = jobs.run_export

    def wrapped(the_worker: Any, merchant: str, export_id: str, remaining_ms: Any = None) -> Any:
        run(merchant, export_id)
        return real(the_worker, merchant, export_id, remaining_ms)
    return wrapped


def test_a_third_export_waits_while_two_run_and_starts_when_one_ends(merchants: tuple[str, str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    merchant, _ = merchants
    first, second, third = exports_of(merchant, 3)
    seen_running: list[int] = []

    def during(merchant_id: str, export_id: str) -> None:
        seen_running.append(len(ExportGates().gate(merchant_id).live(clock.now())))
        if export_id == first:
            deliver(merchant, second)  # runs inside: two at once
        elif export_id == second:
            deliver(merchant, third)  # the third while both run: it must wait
            assert status(merchant, third) == "pending"

    monkeypatch.setattr(jobs, "run_export", running_while(during))
    dispatcher = Dispatcher(merchant)
    deliver(merchant, first)
    assert max(seen_running) == RUNNING_PER_MERCHANT
    assert (status(merchant, first), status(merchant, second), status(merchant, third)) == ("ready", "ready",
                                                                                           "pending")
    # The second's end handed its slot to the third and woke it through the outbox.
    assert dispatcher.woken(merchant) == [third]
    deliver(merchant, third)
    assert status(merchant, third) == "ready"
    gate = ExportGates().gate(merchant)
    assert (gate.live(clock.now()), ExportGates().waiting(merchant)) == ({}, [])


def test_another_merchant_is_not_held_up_by_one_merchants_queue(merchants: tuple[str, str]) -> None:
    busy, other = merchants
    gates = ExportGates()
    backlog = exports_of(busy, 6)
    for export_id in backlog[:2]:  # two long runs hold the busy merchant's slots
        assert gates.admit(busy, export_id, clock.now()).admitted
    for export_id in backlog[2:]:
        deliver(busy, export_id)
    assert [status(busy, export_id) for export_id in backlog[2:]] == ["pending"] * 4
    assert len(gates.waiting(busy)) == 4

    mine = exports_of(other, 1)[0]
    deliver(other, mine)
    assert status(other, mine) == "ready"


def test_a_backlog_finishes_in_order_two_at_a_time_and_none_expires(
        merchants: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    merchant, _ = merchants
    gates = ExportGates()
    backlog = exports_of(merchant, 8)  # the bench runs 25 through the local stack
    dispatcher = Dispatcher(merchant)
    holders = [gates.admit(merchant, export_id, clock.now()).run for export_id in backlog[:2]]
    for export_id in backlog[2:]:
        deliver(merchant, export_id)
        deliver(merchant, export_id)  # a repeated delivery: waits once, not twice
    assert [entry.export_id for entry in gates.waiting(merchant)] == backlog[2:]

    # Far past Lambda's 6 h event age: waiting happens in the table, where nothing expires. The two
    # long runs died meanwhile (their leases ended): the sweep hands their slots on.
    clock.use_fixed(clock.now() + timedelta(hours=7))
    assert all(holders)
    started: list[str] = []
    peak = [0]

    def during(merchant_id: str, export_id: str) -> None:
        started.append(export_id)
        peak[0] = max(peak[0], len(ExportGates().gate(merchant_id).live(clock.now())))

    monkeypatch.setattr(jobs, "run_export", running_while(during))
    assert lambda_handler({"sweep": SWEEP}, Context()) == {"woken": 2}
    while woken := dispatcher.woken(merchant):
        for export_id in woken:
            deliver(merchant, export_id)
    assert started == backlog[2:]  # in creation order
    assert [status(merchant, export_id) for export_id in backlog[2:]] == ["ready"] * 6
    assert peak[0] <= RUNNING_PER_MERCHANT
    assert gates.waiting(merchant) == []
    for export_id in backlog[:2]:  # Lambda's retries of the dead runs
        deliver(merchant, export_id)
    assert [status(merchant, export_id) for export_id in backlog] == ["ready"] * 8


def test_a_newcomer_queues_behind_waiting_exports(merchants: tuple[str, str]) -> None:
    merchant, _ = merchants
    gates = ExportGates()
    first, second, third, fourth = exports_of(merchant, 4)
    runs = {export_id: gates.admit(merchant, export_id, clock.now()).run for export_id in (first, second)}
    assert not gates.admit(merchant, third, clock.now()).admitted
    woken = gates.release(merchant, first, str(runs[first]))
    assert woken == [third]  # the slot goes to the one that waited, not to whoever asks next
    assert not gates.admit(merchant, fourth, clock.now()).admitted
    assert gates.admit(merchant, third, clock.now()).admitted


def test_a_failed_export_releases_its_slot(merchants: tuple[str, str]) -> None:
    merchant, _ = merchants
    gates = ExportGates()
    # A privacy export of a customer that is gone by the time it runs: the run fails.
    doomed = requested(merchant, {"type": "shipments"})
    aws.table().update_item(Key=keys.export_job(merchant, doomed), UpdateExpression="SET #t = :t, customer_id = :c",
                            ExpressionAttributeNames={"#t": "type"},
                            ExpressionAttributeValues={":t": "customer_data", ":c": "cus_gone"})
    other, waiting = exports_of(merchant, 2)
    assert gates.admit(merchant, other, clock.now()).admitted
    run = gates.admit(merchant, doomed, clock.now()).run
    assert run is not None
    deliver(merchant, waiting)
    assert status(merchant, waiting) == "pending"
    dispatcher = Dispatcher(merchant)
    deliver(merchant, doomed)  # its own slot: it runs, fails, and hands the slot on
    assert status(merchant, doomed) == "failed"
    assert dispatcher.woken(merchant) == [waiting]
    deliver(merchant, waiting)
    assert status(merchant, waiting) == "ready"


def test_a_run_that_raises_releases_its_slot(merchants: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    merchant, _ = merchants
    gates = ExportGates()
    crashing = exports_of(merchant, 1)[0]

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("the failure could not even be recorded")

    monkeypatch.setattr(jobs, "run_export", boom)
    with pytest.raises(RuntimeError):
        jobs.run_in_turn(worker(), gates, merchant, crashing)
    assert gates.gate(merchant).live(clock.now()) == {}


def test_a_slot_held_by_a_dead_run_returns_when_its_lease_ends(merchants: tuple[str, str]) -> None:
    merchant, _ = merchants
    gates = ExportGates()
    dead, alive, waiting = exports_of(merchant, 3)
    assert gates.admit(merchant, dead, clock.now()).admitted
    assert ExportRepository().claim(merchant, dead, "dead-run") is not None  # the run then dies: no release
    assert gates.admit(merchant, alive, clock.now()).admitted
    deliver(merchant, waiting)
    sweep = {"sweep": SWEEP}
    assert lambda_handler(sweep, Context()) == {"woken": 0}  # the lease still runs
    assert status(merchant, waiting) == "pending"

    dispatcher = Dispatcher(merchant)
    clock.use_fixed(clock.now() + LEASE + timedelta(seconds=1))
    assert lambda_handler(sweep, Context()) == {"woken": 1}
    assert dispatcher.woken(merchant) == [waiting]
    deliver(merchant, waiting)
    assert status(merchant, waiting) == "ready"
    assert ExportRepository().get(merchant, dead).as_seen_at(clock.now()).status.value == "failed"
    assert lambda_handler(sweep, Context()) == {"woken": 0}


def test_a_late_release_of_a_superseded_run_leaves_the_newer_run_its_slot(merchants: tuple[str, str]) -> None:
    merchant, _ = merchants
    gates = ExportGates()
    export_id = exports_of(merchant, 1)[0]
    older = gates.admit(merchant, export_id, clock.now()).run
    newer = gates.admit(merchant, export_id, clock.now()).run  # a duplicate delivery takes over
    assert older and newer and older != newer
    gates.release(merchant, export_id, older)
    assert list(gates.gate(merchant).live(clock.now())) == [export_id]
    gates.release(merchant, export_id, newer)
    assert gates.gate(merchant).live(clock.now()) == {}


def test_a_slot_freed_while_an_export_starts_waiting_is_not_missed(merchants: tuple[str, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The run ends between the newcomer's look at the gate (full) and its waiting write: the
    release finds nobody waiting, and the newcomer's own promote after its write takes the slot."""
    from shared.exports import fairness

    merchant, _ = merchants
    gates = ExportGates()
    first, second, late = exports_of(merchant, 3)
    runs = {export_id: gates.admit(merchant, export_id, clock.now()).run for export_id in (first, second)}
    real_put_new = fairness.put_new
    released: list[list[str]] = []

    def release_first_then_write(*args: Any, **kwargs: Any) -> bool:
        released.append(gates.release(merchant, first, str(runs[first])))
        return real_put_new(*args, **kwargs)

    monkeypatch.setattr(fairness, "put_new", release_first_then_write)
    dispatcher = Dispatcher(merchant)
    assert not gates.admit(merchant, late, clock.now()).admitted
    assert released == [[]]  # the release saw nobody waiting yet
    assert dispatcher.woken(merchant) == [late]
    assert sorted(gates.gate(merchant).live(clock.now())) == sorted([second, late])
    assert gates.waiting(merchant) == []
