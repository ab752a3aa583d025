"""Customer emails (DESIGN.md §1.2): which milestones an event reaches, and sending each at most once.

Every email goes through `deliver`: render, claim the (subject, milestone) with a conditional
write, send, record the outcome. Settings are read at send time, so a change of milestones,
brand or default language applies to the next email.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from functions.notify.brand import Brand
from functions.notify.milestones import (
    CLOSED_SHIPMENT,
    Milestone,
    enabled_milestones,
    milestones_for_change,
)
from functions.notify.rendering import (
    COLIS_BRAND,
    CancellationEmailContext,
    EndpointDisabledEmailContext,
    MilestoneEmailContext,
    ParcelLink,
    RenderedEmail,
    SupportContact,
    render_cancellation_email,
    render_endpoint_disabled_email,
    render_milestone_email,
)
from functions.notify.sender import EmailNotSent, EmailOutcomeUnknown, EmailSender
from functions.notify.texts import choose_language
from shared.errors import NotFound, Refused
from shared.events.catalogue import (
    OrderCancelled,
    ShipmentCreated,
    ShipmentTrackingUpdated,
    WebhookEndpointAutoDisabled,
)
from shared.merchants.model import Merchant
from shared.merchants.store import MerchantRepository
from shared.notifications.model import REDACTED, Notification, NotificationState, NotificationTarget
from shared.notifications.store import NotificationRepository
from shared.notifications.suppression import SuppressionList
from shared.platform import clock
from shared.platform.observability import count, logger
from shared.shipments.carrier_display import carrier_display
from shared.shipments.model import Parcel, Shipment
from shared.shipments.public_links import public_tracking_url
from shared.shipments.store import ShipmentRepository
from shared.values.time_zones import destination_zone_name, local_day, zone

ORDER_CANCELLED_MILESTONE = "order_cancelled"
# A claim still `claimed` after this long belongs to an invocation that died (the function's
# timeout is far shorter): its email may or may not have left, so it is recorded as `unknown`.
STALE_CLAIM = timedelta(minutes=15)


class Outcome(StrEnum):
    sent = "sent"
    duplicate = "duplicate"  # another delivery holds the claim: nothing sent by this one
    failed = "failed"  # SES refused it; the claim is released for a later event
    unknown = "unknown"  # the send may have happened: not retried
    skipped_no_email = "skipped_no_email"
    disabled = "disabled"  # the merchant has this milestone off: no record
    suppressed = "suppressed"  # closed shipment (cancelled, archived, deleted): no record
    suppressed_address = "suppressed_address"  # the address bounced for good or complained: record says so
    gone = "gone"  # the shipment, order or merchant no longer exists


class RetryLater(Exception):
    """A send failed before reaching SES: the claim is released and the event must be retried."""


class OrderReader(Protocol):
    def get(self, merchant_id: str, order_id: str) -> Any: ...


class EndpointReader(Protocol):
    def get(self, merchant_id: str, endpoint_id: str) -> Any: ...


@dataclass(frozen=True)
class Dependencies:
    shipments: ShipmentRepository
    merchants: MerchantRepository
    notifications: NotificationRepository
    sender: EmailSender
    tracking_base_url: str
    orders: OrderReader
    # Addresses that bounced for good or complained (SES feedback); None: nothing is suppressed.
    suppressions: SuppressionList | None = None
    # The merchants' webhook endpoints (an email about one names its URL).
    endpoints: EndpointReader | None = None

    def tracking_url(self, tracking_slug: str | None, tracking_number: str) -> str:
        """The parcel's public page under the merchant's current slug (a merchant without one,
        created before slugs, gets the page's root)."""
        if not tracking_slug:
            return f"{self.tracking_base_url.rstrip('/')}/track/"
        return public_tracking_url(self.tracking_base_url, tracking_slug, tracking_number)


Outcomes = dict[str, Outcome]


def on_shipment_created(deps: Dependencies, event: ShipmentCreated) -> Outcomes:
    return _each({Milestone.ready_to_ship: lambda: notify_milestone(
        deps, event.merchant_id, event.shipment_id, Milestone.ready_to_ship)})


def on_tracking_updated(deps: Dependencies, event: ShipmentTrackingUpdated) -> Outcomes:
    reached = milestones_for_change(event.previous_parcel_status, event.parcel_status,
                                    event.previous_shipment_status, event.shipment_status)
    return _each({milestone: _milestone_sender(deps, event, milestone) for milestone in reached})


def on_order_cancelled(deps: Dependencies, event: OrderCancelled) -> Outcomes:
    if not event.notify_customer:
        return {}
    return _each({ORDER_CANCELLED_MILESTONE: lambda: notify_cancellation(deps, event)})


def _milestone_sender(deps: Dependencies, event: ShipmentTrackingUpdated, milestone: Milestone) -> Callable[[], Outcome]:
    return lambda: notify_milestone(deps, event.merchant_id, event.shipment_id, milestone,
                                    parcel_id=event.parcel_id, occurred_at=event.occurred_at)


def _each(senders: dict[str, Callable[[], Outcome]]) -> Outcomes:
    """Runs every send even when one must be retried, then asks for the retry: the claims of
    those that went out make the retried event skip them."""
    outcomes: Outcomes = {}
    retry: RetryLater | None = None
    for milestone, send in senders.items():
        try:
            outcomes[milestone] = send()
        except RetryLater as error:
            retry = error
    if retry is not None:
        raise retry
    return outcomes


# --- milestones ---------------------------------------------------------------------------------
def notify_milestone(deps: Dependencies, merchant_id: str, shipment_id: str, milestone: Milestone, *,
                     parcel_id: str | None = None, occurred_at: datetime | None = None) -> Outcome:
    try:
        merchant = deps.merchants.get(merchant_id)
        shipment = deps.shipments.get(merchant_id, shipment_id, consistent=True)
    except NotFound:
        return _outcome(Outcome.gone, milestone, shipment_id=shipment_id)
    settings = merchant.settings
    if milestone not in enabled_milestones(settings.notifications.model_dump()):
        return _outcome(Outcome.disabled, milestone, shipment_id=shipment_id)
    if shipment.status in CLOSED_SHIPMENT:
        return _outcome(Outcome.suppressed, milestone, shipment_id=shipment_id)
    recipient = shipment.recipient
    language = choose_language(recipient.language, recipient.country, settings.default_language)
    target = NotificationTarget(merchant_id, milestone.value, shipment_id=shipment_id)
    # The milestone was decided from the change that triggered it (the creation, or one tracking
    # update's previous and new statuses), never from the parcels' statuses now: a first scan
    # handled before the creation's event does not swallow `ready_to_ship`.
    parcels = [ParcelLink(tracking_number=parcel.tracking_number, url=_parcel_page(deps, merchant, parcel))
               for parcel in shipment.parcels]
    # Times and days on the destination's clock, as the tracking page writes them.
    zone_name = destination_zone_name(recipient.country, recipient.region, recipient.postal_code)
    estimate = shipment.estimated_delivery
    context = MilestoneEmailContext(
        brand=merchant_brand(merchant), carrier=carrier_display(shipment.carrier).name, parcels=parcels,
        tracking_url=parcels[_parcel_index(shipment, parcel_id)].url,
        order_number=_order_number(deps, merchant_id, shipment.order_id), support=merchant_support(merchant),
        recipient_first_name=recipient.first_name, occurred_at=occurred_at, time_zone=zone_name,
        estimated_delivery=local_day(estimate, zone(zone_name)) if estimate is not None else None)
    outcome = deliver(deps, target, recipient.email, language, context.brand.name,
                      lambda: render_milestone_email(milestone, language, context))
    return _outcome(outcome, milestone, shipment_id=shipment_id)


def _parcel_index(shipment: Shipment, parcel_id: str | None) -> int:
    """The parcel the event is about, else the first: the email's button opens its page."""
    return next((index for index, parcel in enumerate(shipment.parcels) if parcel.id == parcel_id), 0)


def _parcel_page(deps: Dependencies, merchant: Merchant, parcel: Parcel) -> str:
    """The parcel's public page as the shipment recorded it (a former slug redirects), else under
    the merchant's current slug."""
    return parcel.public_tracking_url or deps.tracking_url(merchant.settings.tracking_slug, parcel.tracking_number)


def _order_number(deps: Dependencies, merchant_id: str, order_id: str | None) -> str | None:
    """The number customers know their order by, when the shipment fulfils one."""
    if order_id is None:
        return None
    try:
        order = deps.orders.get(merchant_id, order_id)
    except NotFound:
        return None
    return getattr(order, "order_number", None) or None


# --- order cancellation -------------------------------------------------------------------------
def notify_cancellation(deps: Dependencies, event: OrderCancelled) -> Outcome:
    try:
        merchant = deps.merchants.get(event.merchant_id)
        order = deps.orders.get(event.merchant_id, event.order_id)
    except NotFound:
        return _outcome(Outcome.gone, ORDER_CANCELLED_MILESTONE, order_id=event.order_id)
    customer = getattr(order, "customer", None)
    address = getattr(order, "shipping_address", None)
    language = choose_language(getattr(address, "language", None), getattr(address, "country", None),
                               merchant.settings.default_language)
    context = CancellationEmailContext(
        brand=merchant_brand(merchant),
        order_number=getattr(order, "order_number", None), support=merchant_support(merchant),
        refund_total=event.refund_total if event.refund_total else None,
        currency=event.currency if event.refund_total else None,
        recipient_first_name=getattr(customer, "first_name", None), cancelled_at=event.cancelled_at)
    to = getattr(customer, "email", None) or getattr(address, "email", None)
    target = NotificationTarget(event.merchant_id, ORDER_CANCELLED_MILESTONE, order_id=event.order_id)
    outcome = deliver(deps, target, to, language, context.brand.name,
                      lambda: render_cancellation_email(language, context))
    return _outcome(outcome, ORDER_CANCELLED_MILESTONE, order_id=event.order_id)


# --- to the merchant: a webhook endpoint disabled ------------------------------------------------
def endpoint_disabled_milestone(event: WebhookEndpointAutoDisabled) -> str:
    """One record (so one email) per disablement: an endpoint re-enabled and disabled again is a
    new one."""
    return f"endpoint_disabled_{clock.epoch_seconds(event.disabled_at)}"


def on_endpoint_disabled(deps: Dependencies, event: WebhookEndpointAutoDisabled) -> Outcomes:
    milestone = endpoint_disabled_milestone(event)
    return _each({milestone: lambda: notify_endpoint_disabled(deps, event, milestone)})


def notify_endpoint_disabled(deps: Dependencies, event: WebhookEndpointAutoDisabled, milestone: str) -> Outcome:
    """Emails the merchant's contact (settings `notification_email`, else `support_email`) in the
    merchant's `default_language`, once per disablement, through the same claim and suppression
    list as customer emails."""
    if deps.endpoints is None:
        raise RuntimeError("the notify function needs the webhook endpoints to write about one")
    try:
        merchant = deps.merchants.get(event.merchant_id)
        endpoint = deps.endpoints.get(event.merchant_id, event.endpoint_id)
    except NotFound:
        return _outcome(Outcome.gone, milestone, endpoint_id=event.endpoint_id)
    settings = merchant.settings
    language = choose_language(None, None, settings.default_language)
    context = EndpointDisabledEmailContext(account_name=merchant_brand(merchant).name, endpoint_id=endpoint.id,
                                           url=endpoint.url, failing_since=event.failing_since,
                                           disabled_at=event.disabled_at)
    target = NotificationTarget(event.merchant_id, milestone, endpoint_id=event.endpoint_id)
    outcome = deliver(deps, target, settings.merchant_contact(), language, COLIS_BRAND.name,
                      lambda: render_endpoint_disabled_email(language, context))
    return _outcome(outcome, milestone, endpoint_id=event.endpoint_id)


# --- the one way an email leaves ---------------------------------------------------------------
def deliver(deps: Dependencies, target: NotificationTarget, to: str | None, language: str, from_name: str,
            render: Callable[[], RenderedEmail]) -> Outcome:
    """Claim, send, record. At most one email per target, whatever runs concurrently."""
    address = (to or "").strip()
    if not address or address == REDACTED:
        reason = "recipient_redacted" if address == REDACTED else "recipient_has_no_email"
        claim = deps.notifications.claim(target, language=language, recipient_email=None,
                                         state=NotificationState.skipped_no_email, reason=reason)
        return Outcome.skipped_no_email if claim.won else Outcome.duplicate
    suppressed = deps.suppressions.reason(target.merchant_id, address) if deps.suppressions else None
    if suppressed is not None:  # it bounced for good, or its owner complained: never again
        claim = deps.notifications.claim(target, language=language, recipient_email=None,
                                         state=NotificationState.skipped, reason=f"address_{suppressed.value}")
        return Outcome.suppressed_address if claim.won else Outcome.duplicate
    email = render()  # before claiming: a rendering bug must fail loudly, not burn the claim
    claim = deps.notifications.claim(target, language=language, recipient_email=address)
    if not claim.won:
        _close_interrupted(deps.notifications, claim.record)
        return Outcome.duplicate
    try:
        message_id = deps.sender.send(address, email, from_name=from_name, tags=feedback_tags(target))
    except EmailNotSent as error:
        deps.notifications.finish(claim.record, NotificationState.failed, reason=error.reason)
        if error.retryable:
            count("NotificationRetried")
            raise RetryLater(f"{target.milestone}: {error.reason}") from error
        count("EmailRejected")  # SES refused it for good (alarmed: the sender or the content is wrong)
        return Outcome.failed
    except EmailOutcomeUnknown as error:
        deps.notifications.finish(claim.record, NotificationState.unknown, reason=error.reason)
        return Outcome.unknown
    deps.notifications.finish(claim.record, NotificationState.sent, ses_message_id=message_id)
    return Outcome.sent


def feedback_tags(target: NotificationTarget) -> dict[str, str]:
    """Ids SES hands back with a bounce or complaint, naming the merchant and the record (ids only:
    tags are visible to whoever reads SES events)."""
    tags = {"merchant_id": target.merchant_id, "milestone": target.milestone}
    if target.shipment_id is not None:
        tags["shipment_id"] = target.shipment_id
    if target.order_id is not None:
        tags["order_id"] = target.order_id
    if target.endpoint_id is not None:
        tags["endpoint_id"] = target.endpoint_id
    return tags


def target_of_tags(tags: Mapping[str, Any]) -> NotificationTarget | None:
    """The record an SES event is about, from the tags `feedback_tags` gave the email (SES hands
    each tag back as a list of values)."""
    def one(name: str) -> str | None:
        value = tags.get(name)
        value = value[0] if isinstance(value, list) and value else value
        return value if isinstance(value, str) and value else None

    merchant, milestone = one("merchant_id"), one("milestone")
    shipment, order, endpoint = one("shipment_id"), one("order_id"), one("endpoint_id")
    if merchant is None or milestone is None or [shipment, order, endpoint].count(None) != 2:
        return None
    return NotificationTarget(merchant, milestone, shipment_id=shipment, order_id=order, endpoint_id=endpoint)


def _close_interrupted(notifications: NotificationRepository, record: Notification) -> None:
    """A claim left `claimed` long ago: its invocation died mid-send. Say so, never resend."""
    if record.state is NotificationState.claimed and clock.now() - record.claimed_at > STALE_CLAIM:
        try:
            notifications.finish(record, NotificationState.unknown, reason="interrupted")
        except Refused:  # someone else closed it first: theirs stands
            logger.info("interrupted claim already closed", extra={"milestone": record.milestone})


def _outcome(outcome: Outcome, milestone: str, **ids: str) -> Outcome:
    # Ids only: never an address or a name in the logs.
    logger.info("notification", extra={"milestone": str(milestone), "outcome": outcome.value, **ids})
    count(f"Notification_{outcome.value}")
    return outcome


def merchant_brand(merchant: Merchant) -> Brand:
    """What customers see of the merchant, from the settings as they are now."""
    return Brand.of_merchant(merchant.name, merchant.settings.brand)


def merchant_support(merchant: Merchant) -> SupportContact:
    """Where customers reach the shop, from the settings as they are now."""
    settings = merchant.settings
    return SupportContact(email=settings.support_email,
                          url=None if settings.support_url is None else str(settings.support_url))
