"""The public tracking page's use cases: the merchant behind a slug, and the page of one of that
merchant's parcels, showing nothing of its recipient and none of the carrier's free text."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from functions.notify.texts import Messages, choose_language
from functions.tracking.descriptions import describe_event
from functions.tracking.page import (
    ParcelLine,
    TrackingPage,
    TrackingPageEvent,
    TrackingPageMerchant,
    TrackingPageView,
    choose_page_language,
)
from shared.errors import NotFound
from shared.merchants.model import Merchant
from shared.merchants.store import MerchantRepository
from shared.shipments.carrier_display import carrier_display, parcel_tracking_url
from shared.shipments.model import Parcel, Shipment, TrackingEvent, valid_tracking_number
from shared.shipments.statuses import TrackingStatus, derive_shipment_status
from shared.shipments.store import ShipmentRepository
from shared.values.time_zones import destination_zone, local_day

# Enough history for any real parcel, and a bound on the page's size.
MAX_EVENTS = 100
# Formats that never say where a scan happened: the place stored with their older events was the
# recipient's city (Sendcloud's parcel address), so it is not shown either (issue 17).
NO_SCAN_PLACE = frozenset({"sendcloud"})


@dataclass(frozen=True)
class SlugOwner:
    merchant: Merchant
    current: bool  # False: a former slug of the merchant, which redirects to the current one


def slug_owner(merchants: MerchantRepository, tracking_slug: str) -> SlugOwner | None:
    """The merchant whose slug this is or was; None when no merchant ever had it."""
    merchant_id = merchants.merchant_for_slug(tracking_slug)
    if merchant_id is None:
        return None
    try:
        merchant = merchants.get(merchant_id)
    except NotFound:
        return None
    return SlugOwner(merchant, merchant.settings.tracking_slug == tracking_slug)


def tracking_page(shipments: ShipmentRepository, merchant: Merchant, tracking_number: str,
                  lang_query: str | None, accept_language: str | None) -> TrackingPage | None:
    """The page of this merchant's parcel with that number; None when the merchant has none.
    Reached by keys only: another merchant's shipment with the same number is never looked at.
    A shipment the merchant archived or deleted is still shown, with its carriers' statuses,
    until retention removes it."""
    try:
        number = valid_tracking_number(tracking_number)
    except ValueError:
        return None  # not a number any shipment could have: no lookup
    entry = shipments.find_by_tracking_number(merchant.id, number)
    if entry is None:
        return None
    try:
        shipment = shipments.get(merchant.id, entry.shipment_id)
    except NotFound:
        return None  # removed by retention between the two reads
    parcel = shipment.parcel_by_number(number)
    if parcel is None:
        return None
    recipient, settings = shipment.recipient, merchant.settings
    chain = choose_language(recipient.language, recipient.country, settings.default_language)
    language = choose_page_language(lang_query, accept_language, chain)
    messages = Messages(language)
    # Region and postal code only choose the zone; neither is shown (the offset is all that shows).
    zone = destination_zone(recipient.country, recipient.region, recipient.postal_code)
    events = [public_event(event, messages) for event in shipments.events(merchant.id, shipment.id)
              if event.parcel_id == parcel.id][:MAX_EVENTS]
    estimate = shipment.estimated_delivery
    view = TrackingPageView(
        tracking_number=parcel.tracking_number, carrier=shipment.carrier,
        carrier_name=carrier_display(shipment.carrier).name,
        carrier_url=_carrier_url(shipment, parcel), status=parcel.status,
        shipment_status=_shown_status(shipment), parcel_count=len(shipment.parcels),
        estimated_delivery=local_day(estimate, zone) if estimate is not None else None, events=events,
        merchant=TrackingPageMerchant.of_settings(merchant.name, settings), language=language)
    lines = [ParcelLine(tracking_number=other.tracking_number, status=other.status,
                        carrier_url=_carrier_url(shipment, other), page_url=sibling_page(other.tracking_number, language),
                        current=other.id == parcel.id) for other in shipment.parcels]
    return TrackingPage(view=view, zone=zone, parcels=lines)


def sibling_page(tracking_number: str, language: str) -> str:
    """The page of another parcel of the shipment, relative to this one (`/track/{slug}/` is
    theirs too, under the current slug, whatever stage or domain serves it), in this language."""
    return f"{quote(tracking_number, safe='')}?{urlencode({'lang': language})}"


def _carrier_url(shipment: Shipment, parcel: Parcel) -> str | None:
    return parcel_tracking_url(shipment.carrier, parcel.tracking_number, parcel.tracking_url)


def _shown_status(shipment: Shipment) -> TrackingStatus:
    """Archiving and deleting are the merchant's housekeeping: shoppers see the carriers' status."""
    kept = shipment.merchant_status if shipment.merchant_status is TrackingStatus.cancelled else None
    return derive_shipment_status([parcel.status for parcel in shipment.parcels], kept)


def public_event(event: TrackingEvent, messages: Messages) -> TrackingPageEvent:
    """The event as shoppers see it: the vocabulary's text for its code, and its place no finer
    than a city. The carrier's message and free-text location are never read here."""
    return TrackingPageEvent(status=event.status, occurred_at=event.occurred_at,
                             location=scan_place(event),
                             description=describe_event(event.source, event.carrier_code, event.status, messages))


def scan_place(event: TrackingEvent) -> str | None:
    """Where the carrier says the scan happened, no finer than a city; None when it did not say."""
    if event.place is None or event.source in NO_SCAN_PLACE:
        return None
    return event.place.text()
