"""Order use cases: import, read, list, edit, notes, activity, tracking numbers, and keeping the
order's shipping status in step with its shipments (DESIGN.md §1.3).

A change that lost a race to another (`ChangedMeanwhile`) is made again on the order read again,
under the kernel's retry policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.orders.edits import EditOutcome, OrderPatch, apply_patch
from shared.customers.items import address_entry_item
from shared.customers.store import CustomerRepository
from shared.dynamo import keys
from shared.dynamo.paging import decode_cursor, list_scope
from shared.dynamo.retry import retry_changed
from shared.dynamo.transactions import Transaction, TransactionRefused
from shared.errors import ChangedMeanwhile, Refused, Unavailable
from shared.events.outbox import outbox_entry
from shared.merchants.store import MerchantRepository
from shared.orders.model import (
    Order,
    OrderActivity,
    OrderIn,
    OrderStatus,
    RefundedAmounts,
    estimated_weight,
    import_fingerprint,
    now_ms,
    order_created,
    order_fee,
    order_total,
)
from shared.orders.shipment_links import follow_shipment
from shared.orders.shipping import check_claimable, check_takes_shipments, recipient_of, shipped_by
from shared.orders.store import (
    IMPORT_KEY_TAKEN,
    NUMBER_TAKEN,
    ImportKeyRecord,
    OrderRepository,
    has_tag,
    search_terms,
    status_is,
)
from shared.platform import clock
from shared.platform.ids import new_id
from shared.platform.observability import count, logger
from shared.refunds.store import ledger_item
from shared.shipments.creation import create_shipment
from shared.shipments.model import Package, ParcelIn, Shipment, ShipmentIn, valid_tracking_number
from shared.shipments.store import TRACKING_NUMBER_TAKEN, ShipmentRepository, month_partitions
from shared.values.models import Address, ShortText, WebUrl
from shared.values.money import zero
from shared.values.search_terms import MAX_QUERY_LENGTH, MIN_QUERY_LENGTH, QUERY_PATTERN, matches, query_pieces

MAX_ATTEMPTS = 10
MANUAL_STORE = "manual"


class CustomerDirectory(Protocol):
    """What order import needs of the customers domain (shared/customers.py)."""

    def find_or_create_for_order(self, merchant_id: str, *, store: str, username: str | None, email: str,
                                 first_name: str | None, last_name: str | None) -> Any: ...

    def address_entry(self, merchant_id: str, owner_id: str, customer_id: str, email: str,
                      address: Address) -> dict[str, Any] | None: ...


class Customers:
    """The customers domain behind `CustomerDirectory`."""

    def __init__(self, table: Any | None = None) -> None:
        self._repository = CustomerRepository(table)

    def find_or_create_for_order(self, merchant_id: str, *, store: str, username: str | None, email: str,
                                 first_name: str | None, last_name: str | None) -> Any:
        return self._repository.find_or_create_for_order(merchant_id, store=store, username=username, email=email,
                                                         first_name=first_name, last_name=last_name)

    def address_entry(self, merchant_id: str, owner_id: str, customer_id: str, email: str,
                      address: Address) -> dict[str, Any] | None:
        return address_entry_item(merchant_id, owner_id, customer_id, email, address)


# --- import ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportAnswer:
    order: Order
    replayed: bool  # the order an earlier request with the same Idempotency-Key created


def import_order(orders: OrderRepository, merchants: MerchantRepository, customers: CustomerDirectory,
                 merchant_id: str, body: OrderIn,
                 idempotency_key: str | None = None) -> ImportAnswer:
    """Imports the order once per `Idempotency-Key` (optional): a storefront that retries an
    import whose answer it lost gets the order the first request created, not a second one."""
    fingerprint = import_fingerprint(body)
    if idempotency_key:
        replayed = _replay(orders, merchant_id, idempotency_key, fingerprint)
        if replayed is not None:
            return ImportAnswer(replayed, replayed=True)
    try:
        return ImportAnswer(_import(orders, merchants, customers, merchant_id, body,
                                    (idempotency_key, fingerprint) if idempotency_key else None), replayed=False)
    except (TransactionRefused, ChangedMeanwhile) as failure:
        rules = failure.rules if isinstance(failure, TransactionRefused) else frozenset()
        if idempotency_key and IMPORT_KEY_TAKEN in rules:  # a concurrent request with the key won
            replayed = _replay(orders, merchant_id, idempotency_key, fingerprint)
            if replayed is not None:
                return ImportAnswer(replayed, replayed=True)
        raise Unavailable("Another request is importing this order; retry.") from None


def _replay(orders: OrderRepository, merchant_id: str, idempotency_key: str, fingerprint: str) -> Order | None:
    record = orders.import_key_record(merchant_id, idempotency_key)
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise Refused("This Idempotency-Key was used for another order import; use a new key for a new order.")
    return orders.get(merchant_id, record.order_id)


def _import(orders: OrderRepository, merchants: MerchantRepository, customers: CustomerDirectory,
            merchant_id: str, body: OrderIn,
            import_key: tuple[str, str] | None) -> Order:
    if body.order_number and orders.id_for_number(merchant_id, body.order_number):
        raise _number_taken(body.order_number)
    terms = merchants.get(merchant_id).settings.fees
    customer = customers.find_or_create_for_order(
        merchant_id, store=body.store or MANUAL_STORE, username=body.customer.username, email=body.customer.email,
        first_name=body.customer.first_name, last_name=body.customer.last_name)
    now = now_ms()
    total = order_total(body.amounts)
    currency = body.currency
    order = Order(
        **body.model_dump(), id=new_id("ord"), customer_id=customer.id,
        tags=list(dict.fromkeys(customer.tags or [])), status=OrderStatus.paid if body.payment_mode == "platform"
        else OrderStatus.open, total=total,
        refunded=RefundedAmounts(**{n: zero(currency) for n in ("subtotal", "shipping", "duties_taxes", "total")}),
        estimated_weight=estimated_weight(body.lines, body.package_dimensions),
        fee_terms=terms, fee=order_fee(total, terms, currency), created_at=now, updated_at=now)
    created = OrderActivity(type="created", at=now, details={
        "store": order.store, "payment_mode": order.payment_mode, "customer_id": order.customer_id})
    entry = customers.address_entry(merchant_id, order.id, order.customer_id, order.customer.email,
                                    order.shipping_address)
    try:
        orders.create(merchant_id, order, created, alongside=[ledger_item(merchant_id, order), *([entry] if entry else [])],
                      import_key=(import_key[0], ImportKeyRecord(order.id, import_key[1])) if import_key else None,
                      outbox=outbox_entry(order_created(merchant_id, order)))
    except TransactionRefused as refused:
        if NUMBER_TAKEN in refused.rules and IMPORT_KEY_TAKEN not in refused.rules:
            raise _number_taken(order.order_number or "") from None
        raise
    count("OrderImported")
    logger.info("order imported", extra={"order_id": order.id, "customer_id": order.customer_id})
    return order


def _number_taken(number: str) -> Refused:
    return Refused(f"Order number {number} is already used by another order; choose another number.",
                   rule=NUMBER_TAKEN)


# --- reads ----------------------------------------------------------------------------------------
class OrderFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: OrderStatus | None = None
    order_number: str | None = Field(default=None, min_length=1, max_length=64)
    customer_id: str | None = Field(default=None, min_length=1, max_length=64)
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    q: str | None = Field(default=None, min_length=MIN_QUERY_LENGTH, max_length=MAX_QUERY_LENGTH,
                          pattern=QUERY_PATTERN)

    def accepts(self, order: Order) -> bool:
        """The filters other than `q` and the order number, on one order."""
        return ((not self.status or order.status is self.status)
                and (not self.customer_id or order.customer_id == self.customer_id)
                and (not self.tag or self.tag in order.tags))


def get_order(orders: OrderRepository, merchant_id: str, order_id: str) -> Order:
    return orders.get(merchant_id, order_id)


def list_orders(orders: OrderRepository, merchant_id: str, filters: OrderFilter, limit: int,
                cursor: str | None) -> tuple[list[Order], str | None]:
    """Newest first, always through an index: order number (unique item), `q` (search entries, in
    the order of the matched term), customer, status, tag, or all of the merchant's orders; the
    other filters narrow the chosen index."""
    pieces = query_pieces(filters.q) if filters.q is not None else None
    if pieces == []:
        return [], None  # nothing searchable in it (control characters only): nothing matches
    if filters.order_number:
        found, _ = _by_number(orders, merchant_id, filters, cursor)
        return [order for order in found if pieces is None or matches(pieces, search_terms(order))], None
    if pieces is not None:
        return orders.search_page(merchant_id, pieces, limit=limit, cursor=cursor, accept=filters.accepts)
    extra = []
    if filters.customer_id:
        index, partition = keys.GSI3, keys.orders_by_customer(merchant_id, filters.customer_id)
        if filters.status:
            extra.append(status_is(filters.status.value))
        if filters.tag:
            extra.append(has_tag(filters.tag))
    elif filters.status:
        index, partition = keys.GSI2, keys.orders_by_status(merchant_id, filters.status.value)
        if filters.tag:
            extra.append(has_tag(filters.tag))
    elif filters.tag:
        return orders.page_by_tag(merchant_id, filters.tag, limit=limit, cursor=cursor)
    else:
        index, partition = keys.GSI1, keys.orders_of_merchant(merchant_id)
    expression = None
    for part in extra:
        expression = part if expression is None else expression & part
    return orders.page(merchant_id, index=index, partition=partition, limit=limit, cursor=cursor,
                       filter_expression=expression)


def _by_number(orders: OrderRepository, merchant_id: str, filters: OrderFilter,
               cursor: str | None) -> tuple[list[Order], str | None]:
    if cursor:  # this list is one order: it never gave a cursor (400, whatever list gave it)
        decode_cursor(merchant_id, cursor, scope=list_scope("orders-by-number"))
        return [], None
    order_id = orders.id_for_number(merchant_id, filters.order_number or "")
    order = orders.find(merchant_id, order_id) if order_id else None
    if order is None or not filters.accepts(order):
        return [], None
    return [order], None


# --- edits and notes ------------------------------------------------------------------------------
def edit_order(orders: OrderRepository, customers: CustomerDirectory | None, merchant_id: str, order_id: str,
               patch: OrderPatch) -> EditOutcome:
    def edit() -> EditOutcome:
        order = orders.get(merchant_id, order_id, consistent=True)
        if order.status is OrderStatus.cancelled:
            raise Refused("This order is cancelled and can no longer be edited; you can still add notes.",
                          rule="order_cancelled")
        outcome = apply_patch(order, patch)
        if not outcome.changes:
            return EditOutcome(order, [], [])
        changed = outcome.order
        changed.version, changed.updated_at = order.version + 1, now_ms()
        entry = OrderActivity(type="edited", at=changed.updated_at, changes=outcome.changes,
                              details={"warnings": outcome.warnings} if outcome.warnings else None)
        address_entry = customers.address_entry(merchant_id, order.id, order.customer_id, order.customer.email,
                                                changed.shipping_address) \
            if outcome.shipping_address_changed and customers is not None else None
        try:
            orders.save(merchant_id, changed, [entry], renumbered_from=outcome.number_changed_from,
                        alongside=[address_entry] if address_entry else [], previous=order)
        except TransactionRefused as refused:
            if NUMBER_TAKEN in refused.rules:
                raise _number_taken(changed.order_number or "") from None
            raise
        count("OrderEdited")
        return outcome

    return retry_changed(edit, tries=MAX_ATTEMPTS)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(min_length=1, max_length=5000)


def add_note(orders: OrderRepository, merchant_id: str, order_id: str, text: str) -> OrderActivity:
    """Notes are allowed on every order, cancelled ones included."""
    def note() -> OrderActivity:
        order = orders.get(merchant_id, order_id, consistent=True)
        entry = OrderActivity(id=new_id("note"), type="note", at=now_ms(), text=text)
        orders.add_note(merchant_id, order, entry)
        return entry

    return retry_changed(note, tries=MAX_ATTEMPTS)


def activity(orders: OrderRepository, merchant_id: str, order_id: str, limit: int,
             cursor: str | None) -> tuple[list[OrderActivity], str | None]:
    orders.get(merchant_id, order_id)
    return orders.activity_page(merchant_id, order_id, limit=limit, cursor=cursor)


# --- tracking numbers and shipments ---------------------------------------------------------------
class TrackingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    carrier: ShortText
    tracking_number: str
    tracking_url: WebUrl | None = None

    @field_validator("tracking_number")
    @classmethod
    def _number(cls, value: str) -> str:
        return valid_tracking_number(value)


@dataclass
class TrackingOutcome:
    order: Order
    shipment: Shipment


def add_tracking_number(orders: OrderRepository, shipments: ShipmentRepository, merchants: MerchantRepository,
                        merchant_id: str, order_id: str, body: TrackingIn, *,
                        public_base_url: str | None = None) -> TrackingOutcome:
    """Link the merchant's shipment with that tracking number when the order may take it
    (`shared.orders.shipping`), or create one from the order; either way the shipment and the
    order change in one write, and the order is `shipped`."""
    order = orders.get(merchant_id, order_id, consistent=True)
    check_takes_shipments(order)
    for _ in range(2):
        entry = shipments.find_by_tracking_number(merchant_id, body.tracking_number)
        if entry is not None:
            return _claim_shipment(orders, shipments, merchant_id, order_id, entry.shipment_id)
        try:
            shipment = create_shipment(shipments, merchant_id, _shipment_for(shipments, merchants, merchant_id, order,
                                                                             body),
                                       public_base_url=public_base_url, orders=orders)
        except Refused as refused:
            if not (refused.rule or "").startswith(TRACKING_NUMBER_TAKEN):
                raise
            continue  # the same number added at the same moment: the shipment that won is there now
        return TrackingOutcome(orders.get(merchant_id, order_id, consistent=True), shipment)
    raise Unavailable("The tracking number kept changing hands; retry.")


def _claim_shipment(orders: OrderRepository, shipments: ShipmentRepository, merchant_id: str, order_id: str,
                    shipment_id: str) -> TrackingOutcome:
    """The shipment takes the order's id and the order the shipment, in one transaction conditioned
    on the versions read (so neither a cancellation nor another order's claim can slip between)."""
    def claim() -> TrackingOutcome:
        order = orders.get(merchant_id, order_id, consistent=True)
        shipment = shipments.get(merchant_id, shipment_id, consistent=True)
        check_claimable(order, shipment)
        linked = shipped_by(order, shipment.id)
        tx = Transaction(shipments.table)
        claimed = shipment
        if shipment.order_id is None:
            claimed = shipment.model_copy(deep=True)
            claimed.order_id, claimed.version, claimed.updated_at = order_id, shipment.version + 1, clock.now()
            shipments.stage_save(tx, merchant_id, claimed, shipment.version)
        if linked is not None:
            orders.stage_save(tx, merchant_id, *linked)
        tx.commit()
        return TrackingOutcome(linked[0] if linked is not None else order, claimed)

    return retry_changed(claim, tries=MAX_ATTEMPTS)


def _shipment_for(shipments: ShipmentRepository, merchants: MerchantRepository, merchant_id: str, order: Order,
                  body: TrackingIn) -> ShipmentIn:
    """A minimal shipment for a label bought elsewhere: the order's shipping address as recipient
    (with the customer's email and the order's language, so that the customer's emails reach them),
    the merchant's latest return address (else a placeholder with the brand name: the customer's
    billing address would put their personal data where retention does not redact it), the
    order's dimensions and estimated weight (else the smallest measures), the subtotal as value."""
    dims = order.package_dimensions
    one = Decimal(1)
    weight = order.estimated_weight.value if order.estimated_weight and order.estimated_weight.value > 0 \
        else Decimal("0.001")
    package = Package(type="parcel", size_unit=dims.size_unit if dims else "cm",
                      length=dims.length if dims else one, width=dims.width if dims else one,
                      height=dims.height if dims else one, weight_unit="kg", weight=weight, contents="merchandise",
                      value=order.amounts.subtotal, currency=order.currency)
    return ShipmentIn(order_id=order.id, store=order.store, recipient=recipient_of(order),
                      return_address=_return_address(shipments, merchants, merchant_id, order), package=package,
                      postage_type="manual", carrier=body.carrier,
                      parcels=[ParcelIn(tracking_number=body.tracking_number, tracking_url=body.tracking_url)])


def _return_address(shipments: ShipmentRepository, merchants: MerchantRepository, merchant_id: str,
                    order: Order) -> Address:
    now = now_ms()
    for partition in month_partitions(merchant_id, now, now - timedelta(days=92)):
        latest, _ = shipments.page_by_index(merchant_id, keys.GSI1, partition, limit=1, cursor_position=None,
                                            lower=None, upper=None)
        if latest:
            return latest[0].return_address
    merchant = merchants.get(merchant_id)
    return Address(name=merchant.settings.brand.name or merchant.name, address_1="Not provided", city="Not provided",
                   country=order.shipping_address.country)


def link_shipment(orders: OrderRepository, shipments: ShipmentRepository, merchant_id: str, order_id: str,
                  shipment_id: str) -> Order | None:
    """Add the shipment to the order and derive its status again. Idempotent (events repeat)."""
    return follow_shipment(orders, shipments, merchant_id, order_id, shipment_id, linking=True)


def shipment_voided(orders: OrderRepository, shipments: ShipmentRepository, merchant_id: str, order_id: str,
                    shipment_id: str) -> Order | None:
    """A linked label was voided: back to `paid`/`open` unless another linked shipment is active."""
    return follow_shipment(orders, shipments, merchant_id, order_id, shipment_id, linking=False)
