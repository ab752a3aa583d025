"""The public tracking page's use case: find the parcel behind a number, and show it without a
trace of its recipient."""

from __future__ import annotations

from dataclasses import dataclass

from functions.notify.texts import choose_language
from functions.tracking.page import TrackingPageEvent, TrackingPageMerchant, TrackingPageView, choose_page_language
from functions.tracking.privacy import Recipient, public_text
from shared.errors import NotFound
from shared.merchants.store import Merchant, MerchantRepository
from shared.shipments.statuses import TrackingStatus
from shared.shipments.store import Parcel, Shipment, ShipmentRepository, TrackingEvent, valid_tracking_number

# Enough history for any real parcel, and a bound on the page's size.
MAX_EVENTS = 100


@dataclass(frozen=True)
class Found:
    merchant: Merchant
    shipment: Shipment
    parcel: Parcel


def tracking_view(shipments: ShipmentRepository, merchants: MerchantRepository, tracking_number: str,
                  lang_query: str | None, accept_language: str | None) -> TrackingPageView | None:
    """The page of the newest shipment carrying this number, or None when there is none."""
    found = find_parcel(shipments, merchants, tracking_number)
    if found is None:
        return None
    recipient, settings = found.shipment.recipient, found.merchant.settings
    chain = choose_language(recipient.language, recipient.country, settings.default_language)
    private = Recipient.of(recipient)
    events = [public_event(event, private)
              for event in shipments.events(found.merchant.id, found.shipment.id)
              if event.parcel_id == found.parcel.id][:MAX_EVENTS]
    return TrackingPageView(
        tracking_number=found.parcel.tracking_number, carrier=found.shipment.carrier, status=found.parcel.status,
        shipment_status=found.shipment.status, parcel_count=len(found.shipment.parcels),
        estimated_delivery=found.shipment.estimated_delivery, events=events,
        merchant=TrackingPageMerchant.of_merchant(found.merchant.name, settings.brand),
        language=choose_page_language(lang_query, accept_language, chain))


def find_parcel(shipments: ShipmentRepository, merchants: MerchantRepository, tracking_number: str) -> Found | None:
    """Newest shipment first (DESIGN.md §1.2); a shipment its merchant deleted is not shown."""
    try:
        number = valid_tracking_number(tracking_number)
    except ValueError:
        return None  # not a number any shipment could have: no lookup
    entries = sorted(shipments.entries_for_tracking_number(number), key=lambda entry: entry.created_at, reverse=True)
    for entry in entries:
        try:
            shipment = shipments.get(entry.merchant_id, entry.shipment_id)
            merchant = merchants.get(entry.merchant_id)
        except NotFound:
            continue  # removed by retention between the two reads
        parcel = shipment.parcel_by_number(number)
        if parcel is not None and shipment.status is not TrackingStatus.deleted:
            return Found(merchant, shipment, parcel)
    return None


def public_event(event: TrackingEvent, recipient: Recipient) -> TrackingPageEvent:
    return TrackingPageEvent(status=event.status, occurred_at=event.occurred_at,
                             location=public_text(event.location, recipient),
                             message=public_text(event.carrier_message, recipient))
