"""Erasure on request (GDPR Art. 17, DESIGN.md §1.6): `POST /v1/customers/{id}/erase` applies the
retention redaction at once to the customer record and the records merged into it, their orders,
and the shipments of those orders. Records stay (customers are never deleted), marked `erased_at`.

Everything is idempotent, so a request cut short (a customer with very many orders: it answers 503
before API Gateway's 29 s) is finished by sending it again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from functions.retention.actions import MAX_ATTEMPTS, Repositories, redact_order_data, redact_shipment_data
from shared.customers.model import Customer
from shared.customers.rules import email_key
from shared.customers.store import CustomerRepository
from shared.dynamo import keys
from shared.dynamo.retry import retry_changed
from shared.errors import Unavailable
from shared.events.catalogue import CustomerErased
from shared.events.outbox import outbox_entry
from shared.platform import clock
from shared.platform.observability import count, logger
from shared.retention.redaction import REDACTED, redact_customer

STOP_WITH_SECONDS_LEFT = 5.0


def erase_customer(repos: Repositories, customers: CustomerRepository, merchant_id: str, customer_id: str,
                   now: datetime, seconds_left: Callable[[], float]) -> Customer:
    """The master of `customer_id` (an absorbed id answers with its master), erased."""
    master = customers.get(merchant_id, customer_id, consistent=True)
    record_ids = [master.id, *customers.absorbed_ids(merchant_id, master.id)]
    # Records first: their email stops resolving to them, so no new order attaches meanwhile.
    for record_id in record_ids:
        _erase_record(customers, merchant_id, record_id, master.id, now)
    done: set[str] = set()
    for record_id in record_ids:  # a merge may still be relinking orders: absorbed ids count too
        for order_id in repos.orders.order_ids_for_customer(merchant_id, record_id):
            if order_id in done:
                continue
            if seconds_left() < STOP_WITH_SECONDS_LEFT:
                raise Unavailable(f"Erasure is under way ({len(done)} orders done so far); send the same "
                                         "request again to finish it.")
            _erase_order(repos, merchant_id, order_id, now)
            done.add(order_id)
    count("CustomersErased")
    logger.info("customer erased", extra={"merchant_id": merchant_id, "customer_id": master.id,
                                          "records": len(record_ids), "orders": len(done)})
    erased = customers.get(merchant_id, master.id, consistent=True)
    _announce(customers, merchant_id, erased, record_ids[1:])
    return erased


def _announce(customers: CustomerRepository, merchant_id: str, erased: Customer, absorbed_ids: list[str]) -> None:
    """`CustomerErased`, once the whole erasure is done (a request cut short announces nothing;
    the request that finishes it does), and once per erasure."""
    if erased.erased_at is None:
        return
    event = CustomerErased(merchant_id=merchant_id, customer_id=erased.id, absorbed_ids=absorbed_ids,
                           erased_at=erased.erased_at)
    customers.announce_erasure(merchant_id, erased.id, clock.isoformat(erased.erased_at), outbox_entry(event))


def _erase_order(repos: Repositories, merchant_id: str, order_id: str, now: datetime) -> None:
    """The shipments of the order, then the order. A shipment is linked to its order in the write
    that creates it, so the order names every one; the order is read again after its redaction, so
    a shipment created for it meanwhile is erased too."""
    erased: set[str] = set()
    for _ in range(MAX_ATTEMPTS):
        order = repos.orders.find(merchant_id, order_id, consistent=True)
        if order is None:
            return
        new = [shipment_id for shipment_id in order.shipment_ids if shipment_id not in erased]
        for shipment_id in new:
            redact_shipment_data(repos, merchant_id, shipment_id, now, order_id)
            erased.add(shipment_id)
        redact_order_data(repos, merchant_id, order_id, now)  # idempotent: a second pass writes nothing
        if not new:
            return


def _erase_record(customers: CustomerRepository, merchant_id: str, record_id: str, master_id: str,
                  now: datetime) -> None:
    def erase() -> None:  # re-read on every try: a record changed meanwhile is erased in its newer version
        record = customers.find(merchant_id, record_id, consistent=True)
        if record is None:
            return
        erased = redact_customer(record, now)
        if erased == record:
            return
        # Before the record forgets them: the email's unique-key item (it would still resolve the
        # address to this customer) and the duplicate-address entry (a fingerprint of the address).
        _release_email(customers, merchant_id, record, master_id)
        customers.delete_address_entry(merchant_id, record.id)
        erased.version, erased.updated_at = record.version + 1, now
        customers.replace(merchant_id, record, erased)

    retry_changed(erase, tries=MAX_ATTEMPTS)


def _release_email(customers: CustomerRepository, merchant_id: str, record: Customer, master_id: str) -> None:
    if not record.email or record.email == REDACTED:
        return
    claim = keys.customer_email(merchant_id, email_key(record.email))
    # A merge repoints an absorbed record's email to the master: either may own it.
    for owner in {record.id, master_id}:
        customers.release_claim(claim, owner)
