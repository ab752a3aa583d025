"""Fair exports (DESIGN.md §1.4): at most `RUNNING_PER_MERCHANT` exports of a merchant run at once;
the others wait in the table, in order, without holding a worker, so other merchants never queue
behind them, and nothing expires while waiting.

One gate item per merchant holds the running exports, each under a lease, and the number of
waiting ones; every change to it is a put conditional on the version read (optimistic), so two
workers never both take the last slot and a finishing export never misses one that began waiting
meanwhile. The waiting exports are items of their own partition, sorted by creation.

- `admit`: the worker asks before it runs a job: a free slot is taken (or its own slot renewed:
  a retried or duplicated delivery); otherwise the export is written waiting and the worker stops.
- `release`: a finished run (ready, failed or crashed out of the handler) leaves its slot, and in
  the same transaction hands the free slots to the oldest waiting exports of that merchant: each
  gets its slot and an `ExportRequested` outbox entry, which the table stream publishes again.
- A run that dies without releasing (timeout, out of memory) keeps its slot until its lease ends:
  Lambda stops a function at 15 minutes, so a lease of `LEASE` can only outlive dead runs. The
  sweep (`promote_all`, on a schedule) hands expired slots to waiting exports; any admit or
  release of the merchant does too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.dynamo import keys
from shared.dynamo.paging import query_all
from shared.dynamo.retry import retry_changed
from shared.dynamo.transactions import Transaction, TransactionRefused
from shared.dynamo.writes import ITEM_EXISTS, ITEM_IS_NEW, VERSION_CHANGED
from shared.events.catalogue import ExportRequested
from shared.events.outbox import outbox_entry
from shared.exports.model import STALE_AFTER
from shared.platform import aws, clock

RUNNING_PER_MERCHANT = 2
# A slot outlives no run: Lambda stops the worker at 15 minutes, and a job running longer than
# this reads as failed (ExportJob.as_seen_at).
LEASE = STALE_AFTER
_GATE_UNCHANGED = f"{ITEM_IS_NEW} OR version = :version"
_ALREADY_WAITING = "already_waiting"
_JOB_GONE = "job_gone"


@dataclass(frozen=True)
class Admission:
    """The answer to `admit`: `run` is the lease token to release with, None when waiting."""

    run: str | None

    @property
    def admitted(self) -> bool:
        return self.run is not None


@dataclass
class Gate:
    merchant_id: str
    version: int = 0
    holders: dict[str, dict[str, Any]] = field(default_factory=dict)
    waiting: int = 0

    @classmethod
    def from_item(cls, merchant_id: str, item: dict[str, Any] | None) -> Gate:
        if not item:
            return cls(merchant_id)
        return cls(merchant_id, int(item["version"]), dict(item.get("holders") or {}), int(item.get("waiting", 0)))

    def live(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Holders whose lease has not ended: an ended lease is a dead run's."""
        epoch = clock.epoch_seconds(now)
        return {export_id: lease for export_id, lease in self.holders.items() if int(lease["until"]) > epoch}

    def item(self, holders: dict[str, dict[str, Any]], waiting: int) -> dict[str, Any]:
        item = {**keys.export_gate(self.merchant_id), "version": self.version + 1, "holders": holders,
                "waiting": waiting}
        if waiting > 0:
            item.update(keys.gates_with_waiting(self.merchant_id))
        return item


def _lease(now: datetime, run: str) -> dict[str, Any]:
    return {"run": run, "until": clock.epoch_seconds(now + LEASE)}


class ExportGates:
    def __init__(self, table: Any | None = None, limit: int = RUNNING_PER_MERCHANT) -> None:
        self._table = table if table is not None else aws.table()
        self._limit = limit

    # --- reading ---------------------------------------------------------------------------------
    def gate(self, merchant_id: str) -> Gate:
        item = self._table.get_item(Key=keys.export_gate(merchant_id), ConsistentRead=True).get("Item")
        return Gate.from_item(merchant_id, item)

    def waiting(self, merchant_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The waiting entries in the order they start: {export_id, created_at}."""
        request: dict[str, Any] = {
            "KeyConditionExpression": f"{keys.PK} = :pk",
            "ExpressionAttributeValues": {":pk": keys.export_waiting_partition(merchant_id)},
            "ConsistentRead": True}
        entries = []
        for item in query_all(self._table, **({**request, "Limit": limit} if limit else request)):
            entries.append({"export_id": item["export_id"], "created_at": item["created_at"]})
            if limit and len(entries) >= limit:
                break
        return entries

    # --- the worker's verbs --------------------------------------------------------------------
    def admit(self, merchant_id: str, export_id: str, created_at: datetime) -> Admission:
        """A slot for this export (taken or renewed), or the export written waiting."""
        return retry_changed(lambda: self._admit(merchant_id, export_id, created_at), tries=20)

    def release(self, merchant_id: str, export_id: str, run: str) -> list[str]:
        """Leaves the slot `run` holds (a no-op if a newer run of the export took it over) and hands
        free slots to the oldest waiting exports; the exports woken."""
        return retry_changed(lambda: self._promote(merchant_id, leaving=(export_id, run)), tries=20)

    def promote(self, merchant_id: str) -> list[str]:
        """Hands slots whose lease ended to waiting exports (the sweep)."""
        return retry_changed(lambda: self._promote(merchant_id, leaving=None), tries=20)

    def merchants_with_waiting(self) -> list[str]:
        request = {"IndexName": keys.GSI1.name, "KeyConditionExpression": f"{keys.GSI1.pk} = :pk",
                   "ExpressionAttributeValues": {":pk": keys.GATES_WITH_WAITING}}
        return [str(item[keys.GSI1.sk]) for item in query_all(self._table, **request)]

    def promote_all(self) -> dict[str, list[str]]:
        return {merchant_id: woken for merchant_id in self.merchants_with_waiting()
                if (woken := self.promote(merchant_id))}

    # --- inside -----------------------------------------------------------------------------------
    def _admit(self, merchant_id: str, export_id: str, created_at: datetime) -> Admission:
        now = clock.now()
        gate = self.gate(merchant_id)
        live = gate.live(now)
        # Its own slot (a retried delivery, or the slot a release handed it) or, when nobody waits
        # before it, a free one. With exports waiting, a newcomer queues behind them.
        if export_id in live or (gate.waiting == 0 and len(live) < self._limit):
            run = secrets.token_hex(8)
            live[export_id] = _lease(now, run)
            tx = Transaction(self._table)
            tx.put(gate.item(live, gate.waiting), condition=_GATE_UNCHANGED, rule=VERSION_CHANGED,
                   values={":version": gate.version})
            tx.commit()
            return Admission(run)
        created = clock.isoformat(created_at)
        tx = Transaction(self._table)
        tx.put(gate.item(gate.holders, gate.waiting + 1), condition=_GATE_UNCHANGED, rule=VERSION_CHANGED,
               values={":version": gate.version})
        tx.put({**keys.export_waiting(merchant_id, created, export_id), "export_id": export_id,
                "created_at": created}, condition=ITEM_IS_NEW, rule=_ALREADY_WAITING)
        try:
            tx.commit()
        except TransactionRefused as refused:
            if refused.rules != {_ALREADY_WAITING}:
                raise
            return Admission(None)  # a repeated delivery of an export that already waits
        if len(live) < self._limit:
            # Slots whose lease ended while others waited: handed out in order (this export may be
            # among them; it then comes back through its outbox event).
            self.promote(merchant_id)
        return Admission(None)

    def _promote(self, merchant_id: str, leaving: tuple[str, str] | None) -> list[str]:
        now = clock.now()
        gate = self.gate(merchant_id)
        live = gate.live(now)
        if leaving is not None:
            export_id, run = leaving
            if export_id in live and live[export_id]["run"] == run:
                del live[export_id]
        free = self._limit - len(live)
        entries = self.waiting(merchant_id, free) if gate.waiting > 0 and free > 0 else []
        if live == gate.holders and not entries:
            return []  # nothing to change
        tx = Transaction(self._table)
        woken = []
        for entry in entries:
            woken.append(entry["export_id"])
            # The woken export's slot is reserved for it; its next admit renews the lease.
            live[entry["export_id"]] = _lease(now, "handed")
            tx.delete(keys.export_waiting(merchant_id, entry["created_at"], entry["export_id"]))
            tx.update(keys.export_job(merchant_id, entry["export_id"]), "SET outbox = :outbox",
                      condition=ITEM_EXISTS, rule=_JOB_GONE,
                      values={":outbox": outbox_entry(ExportRequested(merchant_id=merchant_id,
                                                                      export_id=entry["export_id"]))})
        tx.put(gate.item(live, max(0, gate.waiting - len(entries))), condition=_GATE_UNCHANGED,
               rule=VERSION_CHANGED, values={":version": gate.version})
        try:
            tx.commit()
        except TransactionRefused as refused:
            if _JOB_GONE not in refused.rules or VERSION_CHANGED in refused.rules:
                raise
            self._forget_gone(merchant_id, gate, entries)
            return self._promote(merchant_id, leaving)
        return woken

    def _forget_gone(self, merchant_id: str, gate: Gate, entries: list[dict[str, Any]]) -> None:
        """Drops waiting entries whose job no longer exists (its record expired while it waited)."""
        for entry in entries:
            job = self._table.get_item(Key=keys.export_job(merchant_id, entry["export_id"]),
                                       ConsistentRead=True).get("Item")
            if job is None:
                fresh = self.gate(merchant_id)
                tx = Transaction(self._table)
                tx.delete(keys.export_waiting(merchant_id, entry["created_at"], entry["export_id"]))
                tx.put(fresh.item(fresh.holders, max(0, fresh.waiting - 1)), condition=_GATE_UNCHANGED,
                       rule=VERSION_CHANGED, values={":version": fresh.version})
                tx.commit()
