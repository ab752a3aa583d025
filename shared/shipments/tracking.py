"""How one canonical carrier update changes a shipment (DESIGN.md §1.1, §3): pure rules."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

from shared.dynamo.keys import digest
from shared.dynamo.retry import retry_changed
from shared.dynamo.transactions import Requirement
from shared.errors import ChangedMeanwhile, NotFound, Unavailable
from shared.events.catalogue import ShipmentTrackingUpdated
from shared.events.outbox import outbox_entry
from shared.platform import clock
from shared.platform.observability import count
from shared.shipments.model import Place, Shipment, TrackingEvent, derive
from shared.shipments.orphans import OrphanStore
from shared.shipments.statuses import CanonicalUpdate, TrackingStatus
from shared.shipments.store import ShipmentRepository

Outcome = Literal["applied", "unchanged", "duplicate", "orphaned"]
MAX_CONFLICT_RETRIES = 8
RECENT_UPDATES_KEPT = 12
_V = TypeVar("_V")


@dataclass(frozen=True)
class AppliedUpdate:
    event: TrackingEvent
    shipment: Shipment | None  # the changed shipment to store, None when nothing on it changed
    status_change: ShipmentTrackingUpdated | None  # when the parcel's status moved


def place_of(update: CanonicalUpdate) -> Place | None:
    place = Place(city=update.city, region=update.region, country=update.country)
    return place if place.text() else None


def _replaces_current(current_status: TrackingStatus, current_at: datetime | None, update: CanonicalUpdate) -> bool:
    if update.status is TrackingStatus.unknown and current_status is not TrackingStatus.unknown:
        return False  # recorded, never shown over a known status
    return current_at is None or update.occurred_at >= current_at  # ties: the later arrival wins


def apply_update(merchant_id: str, shipment: Shipment, update: CanonicalUpdate, received_at: datetime) -> AppliedUpdate:
    parcel = shipment.parcel_by_number(update.tracking_number)
    if parcel is None:
        raise ValueError("the update's tracking number is not a parcel of this shipment")
    event = TrackingEvent(parcel_id=parcel.id, tracking_number=parcel.tracking_number, status=update.status,
                          carrier_code=update.carrier_code, carrier_message=update.carrier_message,
                          occurred_at=update.occurred_at, received_at=received_at, location=update.location,
                          place=place_of(update), source=update.source)
    if shipment.redacted_at is not None:
        # Redaction is final: what carriers send about a redacted shipment is stored redacted too.
        # Imported here: the redaction rules bring the order and customer stores, which the
        # webhook's cold start has no use for.
        from shared.retention.redaction import redact_event

        event = redact_event(event)
    replaces = _replaces_current(parcel.status, parcel.status_at, update)
    newest_seen = parcel.last_event_at is None or update.occurred_at > parcel.last_event_at
    if not replaces and not newest_seen:
        return AppliedUpdate(event, None, None)

    # Only this parcel and the shipment's own fields change: the other parcels and the addresses
    # are shared with `shipment`, never mutated (a deep copy was most of the hot path's own CPU).
    changed_parcel = parcel.model_copy()
    changed = shipment.model_copy(update={"parcels": [changed_parcel if p is parcel else p for p in shipment.parcels]})
    if newest_seen:
        changed_parcel.last_event_at = update.occurred_at
    previous_parcel_status = parcel.status
    if replaces:
        changed_parcel.status = update.status
        changed_parcel.status_at = update.occurred_at
        changed_parcel.carrier_code = update.carrier_code
        changed_parcel.carrier_message = event.carrier_message
        changed_parcel.location = event.location
        changed_parcel.place = event.place
        if update.estimated_delivery is not None:
            changed.estimated_delivery = update.estimated_delivery
    changed.status = derive(changed)
    changed.updated_at = received_at
    changed.version = shipment.version + 1
    status_change = None
    if changed_parcel.status is not previous_parcel_status:
        status_change = ShipmentTrackingUpdated(
            merchant_id=merchant_id, shipment_id=shipment.id, parcel_id=parcel.id,
            previous_parcel_status=previous_parcel_status, parcel_status=changed_parcel.status,
            previous_shipment_status=shipment.status, shipment_status=changed.status,
            occurred_at=update.occurred_at, parcel_count=len(shipment.parcels))
    return AppliedUpdate(event, changed, status_change)


class WarmState:
    """What a warm webhook function remembers between deliveries: which shipment each tracking
    number belongs to (fixed once the shipment exists) and the last state it read or wrote of each
    shipment.

    A remembered shipment may be stale; that is safe: every shipment write is conditional on the
    version it was computed from, and a conflict drops the memory and reads again.

    Each memory is a bounded LRU sized by what an entry costs: a shipment (its parcels and
    addresses as models) about 10 KB, a number's shipment id a few hundred bytes. The defaults hold
    about 50 MB at most, within the function's 512 MB, and cover the parcels one function instance
    sees in flight between its cold start and its recycling.
    """

    def __init__(self, shipments: int = 4096, numbers: int = 32768) -> None:
        self._numbers: _Lru[str] = _Lru(numbers)
        self._shipments: _Lru[Shipment] = _Lru(shipments)
        self._lock = threading.Lock()

    def _remember(self, store: _Lru[_V], key: tuple[str, str], value: _V) -> None:
        with self._lock:
            store.put(key, value)

    def _recall(self, store: _Lru[_V], key: tuple[str, str]) -> _V | None:
        with self._lock:
            return store.get(key)

    def shipment_id_for(self, shipments: ShipmentRepository, merchant_id: str, number: str) -> str | None:
        found = self._recall(self._numbers, (merchant_id, number))
        if found is not None:
            return found
        entry = shipments.find_by_tracking_number(merchant_id, number)
        if entry is None:
            return None
        self._remember(self._numbers, (merchant_id, number), entry.shipment_id)
        return entry.shipment_id

    def shipment(self, shipments: ShipmentRepository, merchant_id: str, shipment_id: str) -> Shipment:
        found = self._recall(self._shipments, (merchant_id, shipment_id))
        if found is not None:
            return found
        read = shipments.get(merchant_id, shipment_id, consistent=True)
        self._remember(self._shipments, (merchant_id, shipment_id), read)
        return read

    def wrote(self, merchant_id: str, shipment: Shipment) -> None:
        self._remember(self._shipments, (merchant_id, shipment.id), shipment)

    def forget(self, merchant_id: str, shipment_id: str, number: str | None = None) -> None:
        with self._lock:
            self._shipments.pop((merchant_id, shipment_id))
            if number is not None:
                self._numbers.pop((merchant_id, number))


class _Lru(Generic[_V]):
    """A bounded map that drops its least recently used key (callers hold the lock)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, str], _V] = OrderedDict()

    def get(self, key: tuple[str, str]) -> _V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[str, str], value: _V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def pop(self, key: tuple[str, str]) -> None:
        self._items.pop(key, None)


class _NoMemory(WarmState):
    """Every lookup reads the table (API paths, orphan attachment)."""

    def _remember(self, store: _Lru[_V], key: tuple[str, str], value: _V) -> None:
        return None


def apply_canonical_update(shipments: ShipmentRepository, merchant_id: str, update: CanonicalUpdate,
                           warm: WarmState | None = None, *, connection_id: str | None = None,
                           requirement: Requirement | None = None) -> Outcome:
    """Record one update: on its parcel's shipment, or as an orphan until that shipment exists
    (counted against `connection_id`'s cap: over it, `TooManyRequests`). Every write holds only
    while `requirement` does (the delivery's connection still exists)."""
    memory = warm or _NoMemory()
    shipment_id = memory.shipment_id_for(shipments, merchant_id, update.tracking_number)
    if shipment_id is not None:
        try:
            return apply_to_shipment(shipments, merchant_id, shipment_id, update, memory, requirement)
        except NotFound:
            # The shipment was deleted (retention) since this function remembered its number.
            memory.forget(merchant_id, shipment_id, update.tracking_number)
            entry = shipments.find_by_tracking_number(merchant_id, update.tracking_number)
            if entry is not None:
                return apply_to_shipment(shipments, merchant_id, entry.shipment_id, update, memory, requirement)
    recorded = OrphanStore(shipments.table).record(merchant_id, update, connection_id, requirement)
    count("TrackingUpdateOrphaned" if recorded else "TrackingUpdateDuplicate")
    return "orphaned" if recorded else "duplicate"


def apply_to_shipment(shipments: ShipmentRepository, merchant_id: str, shipment_id: str,
                      update: CanonicalUpdate, warm: WarmState | None = None,
                      requirement: Requirement | None = None) -> Outcome:
    """At most two reads (tracking number, shipment; none when warm) and one write: the changed
    shipment (under an optimistic lock) with its history event in one transaction, or the event
    alone (a conditional put) when the shipment does not change.

    The parcel keeps the digests of its latest updates, so a repeat is seen on the shipment read
    and costs no write; an older repeat is refused by the event's condition.
    """
    memory = warm or _NoMemory()
    key = update_digest(update)

    def attempt() -> Outcome:
        shipment = memory.shipment(shipments, merchant_id, shipment_id)
        parcel = shipment.parcel_by_number(update.tracking_number)
        if parcel is not None and key in parcel.recent_updates:
            count("TrackingUpdateDuplicate")
            return "duplicate"
        applied = apply_update(merchant_id, shipment, update, clock.now())
        if applied.shipment is None:
            recorded = shipments.record_event(merchant_id, shipment_id, applied.event, update.dedup_key(),
                                              requirement)
            count("TrackingUpdateApplied" if recorded else "TrackingUpdateDuplicate")
            return "unchanged" if recorded else "duplicate"
        changed_parcel = applied.shipment.parcel_by_number(update.tracking_number)
        assert changed_parcel is not None
        changed_parcel.recent_updates = [*changed_parcel.recent_updates, key][-RECENT_UPDATES_KEPT:]
        outbox = outbox_entry(applied.status_change) if applied.status_change else None
        try:
            recorded = shipments.save_with_event(merchant_id, applied.shipment, shipment.version, outbox,
                                                 applied.event, update.dedup_key(), requirement)
        except ChangedMeanwhile:
            memory.forget(merchant_id, shipment_id)
            if not shipments.exists(merchant_id, shipment_id):
                raise NotFound(f"Shipment {shipment_id} does not exist.") from None
            raise
        if not recorded:  # an update whose digest the parcel no longer keeps: recorded before
            count("TrackingUpdateDuplicate")
            return "duplicate"
        memory.wrote(merchant_id, applied.shipment)
        count("TrackingUpdateApplied")
        return "applied" if applied.status_change else "unchanged"

    try:
        return retry_changed(attempt, tries=MAX_CONFLICT_RETRIES)
    except ChangedMeanwhile:
        # 503, not 409: carriers deliver again on a server error, and the race is over by then.
        raise Unavailable("The shipment kept changing; retry the delivery.") from None


def update_digest(update: CanonicalUpdate) -> str:
    return digest(update.dedup_key())[:16]
