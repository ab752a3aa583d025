"""Fair exports (DESIGN.md §1.4): at most `RUNNING_PER_MERCHANT` exports of a merchant run at once;
the others wait in the table, in order, without holding a worker, so other merchants never queue
behind them, and nothing expires while waiting.

One gate item per merchant holds the running exports, each under a lease; every change to it is a
put conditional on the version read (optimistic), so two workers never both take the last slot.
The waiting exports are items of their own partition, sorted by creation: writing one does not
touch the gate, so a burst of exports of one merchant does not contend on it.

- `admit`: the worker asks before it runs a job. Its own slot (a retried or duplicated delivery,
  or a slot handed to it) is renewed; a free slot is taken when nobody waits; otherwise the
  export is written waiting and the worker stops.
- `release`: a finished run (ready, failed or an error out of the handler) leaves its slot.
- `promote`: hands the free slots to the oldest waiting exports, each woken by an
  `ExportRequested` outbox entry on its job (the table stream publishes it), in one transaction
  with the gate. It runs after every release and after every waiting write: whichever of the two
  comes second sees the other (strongly consistent reads), so a slot freed while an export
  started waiting is never missed.
- A run that dies without releasing (timeout, out of memory) keeps its slot until its lease ends:
  Lambda stops a function at 15 minutes, so a lease of `LEASE` outlives no live run. The sweep
  (`promote_all`, on a schedule) hands such slots on; so does any later admit or release of the
  merchant.
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
from shared.dynamo.writes import ITEM_EXISTS, ITEM_IS_NEW, VERSION_CHANGED, put_new
from shared.events.catalogue import ExportRequested
from shared.events.outbox import outbox_entry
from shared.exports.model import STALE_AFTER
from shared.platform import aws, clock

RUNNING_PER_MERCHANT = 2
# A slot outlives no run: Lambda stops the worker at 15 minutes, and a job running longer than
# this reads as failed (ExportJob.as_seen_at).
LEASE = STALE_AFTER
_GATE_UNCHANGED = f"{ITEM_IS_NEW} OR version = :version"
_JOB_GONE = "job_gone"
_TAKEN = "already_woken"
_TRIES = 20


@dataclass(frozen=True)
class Admission:
    """The answer to `admit`: `run` is the lease token to release with, None when waiting."""

    run: str | None

    @property
    def admitted(self) -> bool:
        return self.run is not None


@dataclass(frozen=True)
class Waiting:
    export_id: str
    created_at: str


@dataclass
class Gate:
    merchant_id: str
    version: int = 0
    holders: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_item(cls, merchant_id: str, item: dict[str, Any] | None) -> Gate:
        if not item:
            return cls(merchant_id)
        return cls(merchant_id, int(item["version"]), dict(item.get("holders") or {}))

    def live(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Holders whose lease has not ended: an ended lease is a dead run's."""
        epoch = clock.epoch_seconds(now)
        return {export_id: lease for export_id, lease in self.holders.items() if int(lease["until"]) > epoch}

    def item(self, holders: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {**keys.export_gate(self.merchant_id), "version": self.version + 1, "holders": holders}


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

    def waiting(self, merchant_id: str, limit: int | None = None) -> list[Waiting]:
        """The waiting exports in the order they start."""
        request: dict[str, Any] = {
            "KeyConditionExpression": f"{keys.PK} = :pk",
            "ExpressionAttributeValues": {":pk": keys.export_waiting_partition(merchant_id)},
            "ConsistentRead": True}
        if limit:
            request["Limit"] = limit
        entries = []
        for item in query_all(self._table, **request):
            entries.append(Waiting(str(item["export_id"]), str(item["created_at"])))
            if limit and len(entries) >= limit:
                break
        return entries

    def merchants_with_waiting(self) -> list[str]:
        request = {"IndexName": keys.GSI1.name, "KeyConditionExpression": f"{keys.GSI1.pk} = :pk",
                   "ExpressionAttributeValues": {":pk": keys.WAITING_EXPORTS}}
        return sorted({str(item["merchant_id"]) for item in query_all(self._table, **request)})

    # --- the worker's verbs --------------------------------------------------------------------
    def admit(self, merchant_id: str, export_id: str, created_at: datetime) -> Admission:
        """A slot for this export (taken or renewed), or the export written waiting."""
        admission = retry_changed(lambda: self._admit(merchant_id, export_id), tries=_TRIES)
        if admission is not None:
            return admission
        created = clock.isoformat(created_at)
        put_new(self._table, {**keys.export_waiting(merchant_id, created, export_id),
                              **keys.waiting_exports_entry(merchant_id, created, export_id),
                              "merchant_id": merchant_id, "export_id": export_id, "created_at": created})
        # A repeated delivery finds its entry there already: it still waits once.
        self.promote(merchant_id)  # a slot freed meanwhile is not missed (see the module's notes)
        return Admission(None)

    def release(self, merchant_id: str, export_id: str, run: str) -> list[str]:
        """Leaves the slot `run` holds (a no-op if a newer run of the export took it over), then
        hands free slots to the oldest waiting exports; the exports woken."""
        retry_changed(lambda: self._leave(merchant_id, export_id, run), tries=_TRIES)
        return self.promote(merchant_id)

    def promote(self, merchant_id: str) -> list[str]:
        """Hands free slots (also those whose lease ended) to the oldest waiting exports."""
        return retry_changed(lambda: self._promote(merchant_id), tries=_TRIES)

    def promote_all(self) -> dict[str, list[str]]:
        """The sweep: every merchant with waiting exports."""
        return {merchant_id: woken for merchant_id in self.merchants_with_waiting()
                if (woken := self.promote(merchant_id))}

    # --- inside -----------------------------------------------------------------------------------
    def _commit_gate(self, gate: Gate, holders: dict[str, dict[str, Any]], tx: Transaction | None = None) -> None:
        tx = tx if tx is not None else Transaction(self._table)
        tx.put(gate.item(holders), condition=_GATE_UNCHANGED, rule=VERSION_CHANGED, values={":version": gate.version})
        tx.commit()

    def _admit(self, merchant_id: str, export_id: str) -> Admission | None:
        now = clock.now()
        gate = self.gate(merchant_id)
        live = gate.live(now)
        # Its own slot, or a free one when nobody waits before it: a newcomer queues behind.
        if export_id in live or (len(live) < self._limit and not self.waiting(merchant_id, 1)):
            run = secrets.token_hex(8)
            self._commit_gate(gate, {**live, export_id: _lease(now, run)})
            return Admission(run)
        return None

    def _leave(self, merchant_id: str, export_id: str, run: str) -> None:
        gate = self.gate(merchant_id)
        lease = gate.holders.get(export_id)
        if lease is None or lease["run"] != run:
            return  # a newer run of this export holds the slot now
        self._commit_gate(gate, {holder: held for holder, held in gate.live(clock.now()).items()
                                 if holder != export_id})

    def _promote(self, merchant_id: str) -> list[str]:
        now = clock.now()
        gate = self.gate(merchant_id)
        live = gate.live(now)
        free = self._limit - len(live)
        entries = self.waiting(merchant_id, free) if free > 0 else []
        if not entries:
            return []
        tx = Transaction(self._table)
        for entry in entries:
            # The woken export's slot is kept for it; its admit renews the lease.
            live[entry.export_id] = _lease(now, "handed")
            tx.delete(keys.export_waiting(merchant_id, entry.created_at, entry.export_id), condition=ITEM_EXISTS,
                      rule=_TAKEN)
            tx.update(keys.export_job(merchant_id, entry.export_id), "SET outbox = :outbox",
                      condition=ITEM_EXISTS, rule=_JOB_GONE,
                      values={":outbox": outbox_entry(ExportRequested(merchant_id=merchant_id,
                                                                      export_id=entry.export_id))})
        try:
            self._commit_gate(gate, live, tx)
        except TransactionRefused as refused:
            if refused.rules != {_JOB_GONE}:
                raise
            self._forget_gone(merchant_id, entries)
            return self._promote(merchant_id)
        return [entry.export_id for entry in entries]

    def _forget_gone(self, merchant_id: str, entries: list[Waiting]) -> None:
        """Drops waiting entries whose job no longer exists (its record expired while it waited)."""
        for entry in entries:
            if self._table.get_item(Key=keys.export_job(merchant_id, entry.export_id),
                                    ConsistentRead=True).get("Item") is None:
                self._table.delete_item(Key=keys.export_waiting(merchant_id, entry.created_at, entry.export_id))
