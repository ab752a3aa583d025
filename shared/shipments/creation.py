"""Creating a shipment: shared by the shipments API and the orders' "tracking number by hand".

A new shipment is `pre_transit`. One with an `order_id` ships its order in the same transaction
(DESIGN.md §1.3): from the answer on, the order is `shipped` and a cancellation is refused; an
order that does not exist (or is another merchant's) is a field error, a cancelled one a refusal,
and neither leaves a shipment behind. Its `ShipmentCreated` event (outbox) carries the `order_id`
too; the orders function's link from it finds the link made. Carrier updates that arrived before
the shipment existed (orphans) are applied: the oldest INLINE_ATTACH_LIMIT at once, within the
request, and the rest by the orphan worker (`functions/shipments/orphan_events.py`), which every
ShipmentCreated reaches, so that a number with thousands of orphans never holds up a creation.
"""

from __future__ import annotations

from shared.dynamo.retry import retry_changed
from shared.dynamo.transactions import Transaction
from shared.errors import Invalid, NotFound
from shared.events.catalogue import ShipmentCreated
from shared.events.outbox import outbox_entry
from shared.merchants.model import RetentionSettings, Settings
from shared.merchants.store import MerchantRepository
from shared.orders.shipping import shipped_by
from shared.orders.store import OrderRepository
from shared.platform import clock
from shared.platform.ids import new_id
from shared.platform.observability import count
from shared.platform.settings import settings as environment  # `settings` is the merchant's here
from shared.retention.timers import shipment_timer_items
from shared.shipments.model import Parcel, Shipment, ShipmentIn
from shared.shipments.orphans import OrphanStore
from shared.shipments.public_links import public_tracking_url
from shared.shipments.statuses import TrackingStatus
from shared.shipments.store import ShipmentRepository
from shared.shipments.tracking import WarmState, apply_to_shipment

# Orphans a creating request attaches itself: about two writes each, so the request stays well
# within its function's timeout however many a number has.
INLINE_ATTACH_LIMIT = 25


def create_shipment(shipments: ShipmentRepository, merchant_id: str, body: ShipmentIn,
                    retention: RetentionSettings | None = None, *, public_base_url: str | None = None,
                    orders: OrderRepository | None = None) -> Shipment:
    """`retention`: the merchant's periods when the caller has them (else read from the settings).
    `public_base_url`: where the public tracking pages are served (else `TRACKING_BASE_URL`).
    `orders`: where the order it ships is (else the shipments' table)."""
    now = clock.now()
    settings = _settings(shipments, merchant_id)
    base = public_base_url or environment().tracking_base_url
    slug = settings.tracking_slug if settings else None
    parcels = [Parcel(id=new_id("prc"), index=number, tracking_number=p.tracking_number,
                      tracking_url=str(p.tracking_url) if p.tracking_url else None, weight=p.weight,
                      public_tracking_url=public_tracking_url(base, slug, p.tracking_number) if base and slug else None)
               for number, p in enumerate(body.parcels, start=1)]
    shipment = Shipment(**body.model_dump(exclude={"parcels"}), id=new_id("shp"), status=TrackingStatus.pre_transit,
                        created_at=now, updated_at=now, parcels=parcels)
    created = outbox_entry(ShipmentCreated(merchant_id=merchant_id, shipment_id=shipment.id, parcel_count=len(parcels),
                                           order_id=shipment.order_id, created_at=now))
    # Retention timers go in the creation's transaction, with the periods the settings say now: a
    # later change of settings applies to shipments created afterwards (DESIGN.md §1.6).
    periods = retention or (settings.retention if settings else RetentionSettings())
    timers = shipment_timer_items(merchant_id, shipment.id, now, shipment.order_id, periods)
    order_store = orders if orders is not None else OrderRepository(shipments.table)

    def write() -> None:  # the order is read again on every try: it may have changed meanwhile
        tx = Transaction(shipments.table)
        if shipment.order_id:
            _stage_order_shipped(tx, order_store, merchant_id, shipment)
        shipments.create(merchant_id, shipment, created, also=timers, tx=tx)

    retry_changed(write)
    count(ShipmentCreated.name)
    if attach_orphan_updates(shipments, merchant_id, shipment):
        return shipments.get(merchant_id, shipment.id, consistent=True)
    return shipment


def _settings(shipments: ShipmentRepository, merchant_id: str) -> Settings | None:
    try:
        return MerchantRepository(shipments.table).get(merchant_id).settings
    except NotFound:
        return None


def _stage_order_shipped(tx: Transaction, orders: OrderRepository, merchant_id: str, shipment: Shipment) -> None:
    """The order the shipment ships, `shipped` and naming it, if it is still the version read."""
    assert shipment.order_id is not None
    order = orders.find(merchant_id, shipment.order_id, consistent=True)
    if order is None:
        raise Invalid(f"Order {shipment.order_id} does not exist.", errors=[
            {"field": "body.order_id", "type": "not_found", "message": "no order of this merchant has this id"}])
    linked = shipped_by(order, shipment.id)
    if linked is not None:
        orders.stage_save(tx, merchant_id, *linked)


def attach_orphan_updates(shipments: ShipmentRepository, merchant_id: str, shipment: Shipment, *,
                          limit: int | None = INLINE_ATTACH_LIMIT) -> int:
    """Updates that arrived before the shipment existed, applied oldest first per parcel, each then
    dropped and uncounted: at most `limit` (None: all). Safe to run twice, or beside another run:
    an update already applied is a duplicate, an orphan already dropped is skipped."""
    orphans = OrphanStore(shipments.table)
    memory = WarmState()  # the shipment is read once, then known from the writes
    attached = 0
    for parcel in shipment.parcels:
        left = None if limit is None else limit - attached
        if left is not None and left <= 0:
            break
        for orphan in orphans.pending(merchant_id, parcel.tracking_number, limit=left):
            apply_to_shipment(shipments, merchant_id, shipment.id, orphan.update, memory)
            orphans.settle(orphan)
            attached += 1
    if attached:
        count("OrphanUpdatesAttached", attached)
    return attached
