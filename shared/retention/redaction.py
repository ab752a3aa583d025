"""Redaction rules (DESIGN.md §1.6, Chit Chats seed): what of a person's data becomes the word
`redacted`, and what is kept. Pure functions over the domain models; the retention function and
erasure on request apply them and write the results.

- Replaced: last name, address lines, postal code, phone, email.
- Kept: the first name; the whole `name` when no last name was given (a single name); company,
  city, region, country, language.
- Free text that may hold personal data becomes `redacted` too: carrier messages, order notes,
  cancellation reasons, refund notes, activity-log texts, notification failure reasons. A carrier
  location keeps only what is not finer than a city (its city, region and country as the carrier
  gave them apart), else becomes `redacted`.
- A value that was never given stays absent: there is nothing to redact.
Applying a rule twice gives the same result, and nothing here ever restores a value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.customers.model import Customer
from shared.orders.model import Order, OrderActivity, OrderCustomer
from shared.shipments.model import Parcel, Place, Shipment, TrackingEvent
from shared.values.models import Address

REDACTED = "redacted"
_ALWAYS_REPLACED = ("address_1", "address_2", "postal_code", "phone", "email")
# Activity-log changes that could carry a person's data as values (the orders area logs field
# names only for addresses; older or other entries carrying values are redacted all the same).
_PERSONAL_CHANGE_FIELDS = frozenset({"billing_address", "shipping_address", "customer", "customer.email",
                                     "customer.last_name", "email", "phone", "last_name", "name"})


def _name_changes(first_name: str | None, last_name: str | None, name: str | None) -> dict[str, str]:
    """The single-name rule: with a last name, it goes (and a full `name`, which contains it);
    without one, every name given is kept whole."""
    del first_name  # always kept: named here so that the rule reads whole
    if not last_name:
        return {}
    changes = {"last_name": REDACTED}
    if name:
        changes["name"] = REDACTED
    return changes


def redact_address(address: Address) -> Address:
    changes: dict[str, Any] = _name_changes(address.first_name, address.last_name, address.name)
    changes.update({field: REDACTED for field in _ALWAYS_REPLACED if getattr(address, field) is not None})
    return address.model_copy(update=changes)


def redact_text(text: str | None) -> str | None:
    """Free text that may hold personal data: `redacted`, or absent when it was never given."""
    return None if text is None else REDACTED


def redact_location(location: str | None, place: Place | None) -> str | None:
    """A carrier's location cut to city, region and country (what the carrier gave apart); the
    lines below the city (street, postal code, a free-text place) go."""
    if location is None:
        return None
    kept = place.text() if place is not None else None
    return kept or REDACTED


def redact_parcel(parcel: Parcel) -> Parcel:
    return parcel.model_copy(update={"carrier_message": redact_text(parcel.carrier_message),
                                     "location": redact_location(parcel.location, parcel.place)})


def redact_event(event: TrackingEvent) -> TrackingEvent:
    return event.model_copy(update={"carrier_message": redact_text(event.carrier_message),
                                    "location": redact_location(event.location, event.place)})


def redact_shipment(shipment: Shipment, now: datetime) -> Shipment:
    """The recipient and the carriers' free text on its parcels redacted; `redacted_at` set once
    (a second pass keeps the first time)."""
    return shipment.model_copy(update={"recipient": redact_address(shipment.recipient),
                                       "parcels": [redact_parcel(parcel) for parcel in shipment.parcels],
                                       "redacted_at": shipment.redacted_at or now})


def redact_order_customer(customer: OrderCustomer) -> OrderCustomer:
    changes: dict[str, Any] = {"email": REDACTED}
    if customer.last_name:
        changes["last_name"] = REDACTED
    return customer.model_copy(update=changes)


def redact_order(order: Order, now: datetime) -> Order:
    """Shipping and billing addresses and the customer's email (and last name) on the order."""
    cancellation = order.cancellation
    if cancellation is not None:
        cancellation = cancellation.model_copy(update={"reason": REDACTED})
    return order.model_copy(update={
        "shipping_address": redact_address(order.shipping_address),
        "billing_address": redact_address(order.billing_address),
        "customer": redact_order_customer(order.customer),
        "cancellation": cancellation,
        "redacted_at": order.redacted_at or now})


def redact_customer(customer: Customer, now: datetime) -> Customer:
    """Erasure: the same rules on the customer record; `erased_at` set once. The username is the
    merchant's identifier of the record and stays (customers are never deleted)."""
    changes: dict[str, Any] = _name_changes(customer.first_name, customer.last_name, customer.name)
    changes.update({field: REDACTED for field in ("phone", "email") if getattr(customer, field) is not None})
    if customer.address is not None:
        changes["address"] = redact_address(customer.address)
    changes["erased_at"] = customer.erased_at or now
    return customer.model_copy(update=changes)


# Activity-log details that are free text (a cancellation's reason, a refund's note).
_FREE_TEXT_DETAILS = frozenset({"note", "text", "message"})


def redact_activity(entry: OrderActivity) -> OrderActivity:
    """Its text (notes) and free-text details `redacted`, and personal values in its changes."""
    details = entry.details
    if details:
        details = {key: REDACTED if key in _FREE_TEXT_DETAILS and value not in (None, REDACTED) else value
                   for key, value in details.items()}
    return entry.model_copy(update={"text": redact_text(entry.text), "details": details,
                                    "changes": redact_activity_changes(entry) or entry.changes})


def redact_activity_changes(entry: OrderActivity) -> list[dict[str, Any]] | None:
    """The entry's `changes` with personal values replaced, or None when it holds none."""
    if not entry.changes:
        return None
    redacted, touched = [], False
    for change in entry.changes:
        if str(change.get("field")) in _PERSONAL_CHANGE_FIELDS:
            values: dict[str, Any] = {k: REDACTED for k in ("from", "to")
                                      if k in change and change[k] not in (None, REDACTED)}
            if values:
                change, touched = {**change, **values}, True
        redacted.append(change)
    return redacted if touched else None

