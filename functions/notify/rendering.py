"""Customer emails (milestones, order cancellation): their contexts, contents and rendering.

Texts come from the catalogues (`functions.notify.texts`); layout lives in `templates/`, compiled to
`email_templates.py` (`python -m cli.templates --write`). Message texts are plain text with
`{name}` placeholders: they are escaped when they land in HTML, so a brand name can never inject
markup.
"""


from copy import copy
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlsplit

from babel import Locale
from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from functions.notify import email_templates
from functions.notify.brand import Brand
from functions.notify.milestones import Milestone
from functions.notify.texts import Messages, delivery_day
from shared.merchants.model import EMAIL_ADDRESS as _EMAIL
from shared.shipments.statuses import as_utc
from shared.values.money import is_known_currency, minor_units, round_half_up
from shared.values.time_zones import in_zone, zone


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return value


# An absolute http(s) link: what an email may point a customer to.
WebLink = Annotated[str, AfterValidator(_http_url)]


class ParcelLink(BaseModel):
    """One parcel as an email lists it: its number and its public tracking page."""

    tracking_number: str = Field(min_length=1)
    url: WebLink


class SupportContact(BaseModel):
    """Where customers reach the shop (settings `support_email`, `support_url`)."""

    email: str | None = None
    url: WebLink | None = None

    @field_validator("email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and (not _EMAIL.fullmatch(value)):
            raise ValueError("must be an email address")
        return value


class MilestoneEmailContext(BaseModel):
    brand: Brand
    carrier: str = Field(min_length=1)
    # Every parcel of the shipment, in order; `tracking_url` (the button) is the page of the one
    # the event is about.
    parcels: list[ParcelLink] = Field(min_length=1)
    tracking_url: WebLink
    order_number: str | None = None
    support: SupportContact = Field(default_factory=SupportContact)
    recipient_first_name: str | None = None
    occurred_at: datetime | None = None
    # The day at the destination (a carrier's datetime is read as its UTC day).
    estimated_delivery: date | None = None
    # The destination's IANA zone: times are written on its clock with their offset, as on the page.
    time_zone: str = "UTC"

    @property
    def parcel_count(self) -> int:
        return len(self.parcels)

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @field_validator("estimated_delivery", mode="before")
    @classmethod
    def _day_of(cls, value: object) -> object:
        return delivery_day(value)


class CancellationEmailContext(BaseModel):
    brand: Brand
    order_number: str | None = None
    support: SupportContact = Field(default_factory=SupportContact)
    reason: str | None = None
    refund_total: Decimal | None = None
    currency: str | None = None
    recipient_first_name: str | None = None
    cancelled_at: datetime | None = None

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        # The currency of a recorded order: one ISO has withdrawn since still has its minor units.
        if value is not None and not is_known_currency(value):
            raise ValueError("currency must be an ISO 4217 code")
        return None if value is None else value.upper()

    @field_validator("cancelled_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @model_validator(mode="after")
    def _refund_has_currency(self) -> "CancellationEmailContext":
        if self.refund_total is not None and self.currency is None:
            raise ValueError("refund_total needs a currency")
        return self


class EndpointDisabledEmailContext(BaseModel):
    """To the merchant (not a customer): one of its webhook endpoints was disabled."""

    account_name: str = Field(min_length=1)
    endpoint_id: str = Field(min_length=1)
    url: str = Field(min_length=1)
    failing_since: datetime
    disabled_at: datetime

    @field_validator("failing_since", "disabled_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


# Colis writes to merchants in its own name, not in a merchant's brand.
COLIS_BRAND = Brand(name="Colis")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str
    # Where a customer's reply goes: the shop's support address, when it has one.
    reply_to: str | None = None


@dataclass(frozen=True)
class EmailAction:
    label: str
    url: str


@dataclass(frozen=True)
class EmailLink:
    """A labelled link: a parcel's number to its page, the shop's support address or site."""

    label: str
    text: str
    url: str


@dataclass(frozen=True)
class EmailSupport:
    heading: str
    links: list[EmailLink]


@dataclass(frozen=True)
class EmailContent:
    """What an email says, already in its language; `base.html` and `base.txt` lay it out."""

    subject: str
    heading: str
    greeting: str
    paragraphs: list[str]
    details: list[tuple[str, str]]
    parcels: list[EmailLink]
    action: EmailAction | None
    support: EmailSupport | None
    footer: str


def render_milestone_email(milestone: Milestone | str, language: str, context: MilestoneEmailContext) -> RenderedEmail:
    milestone = Milestone(milestone)
    messages = Messages(language)
    params = {
        "brand": context.brand.name,
        "carrier": context.carrier,
        "parcels": messages.plural("parcels", context.parcel_count),
    }
    details = [("label.carrier", context.carrier)]
    if context.order_number:
        details.append(("label.order_number", context.order_number))
    details.append(("label.shipment", params["parcels"]))
    if context.estimated_delivery is not None:
        details.append(("label.estimated_delivery", messages.date(context.estimated_delivery)))
    if context.occurred_at is not None:
        local = in_zone(context.occurred_at, zone(context.time_zone))
        details.append(("label.updated_at", messages.local_moment(local)))
    content = EmailContent(
        subject=messages.text(f"email.{milestone}.subject", **params),
        heading=messages.text(f"email.{milestone}.heading"),
        greeting=_greeting(messages, context.recipient_first_name),
        paragraphs=[messages.text(f"email.{milestone}.body", **params)],
        details=[(messages.text(label), value) for label, value in details],
        parcels=_parcel_links(messages, context.parcels),
        action=EmailAction(messages.text("email.track_button"), context.tracking_url),
        support=_support(messages, context.brand.name, context.support),
        footer=messages.text("email.footer", brand=context.brand.name),
    )
    return _render(content, messages, context.brand, context.support)


def render_cancellation_email(language: str, context: CancellationEmailContext) -> RenderedEmail:
    messages = Messages(language)
    brand = context.brand.name
    subject = _about_order(messages, "cancellation.subject", brand, context.order_number)
    paragraphs = [_about_order(messages, "cancellation.body", brand, context.order_number)]
    if context.refund_total is not None and context.currency is not None:
        amount = money(context.refund_total, context.currency, messages.language)
        paragraphs.append(messages.text("cancellation.refund", amount=amount))
        paragraphs.append(messages.text("cancellation.refund_delay"))
    support = _support(messages, brand, context.support)
    if support is None:  # no contact to give: at least who to ask
        paragraphs.append(messages.text("cancellation.questions", brand=brand))
    details: list[tuple[str, str]] = []
    if context.cancelled_at is not None:
        details.append(("label.cancelled_at", messages.date(context.cancelled_at.date())))
    if context.reason:
        details.append(("label.reason", context.reason))
    content = EmailContent(
        subject=subject,
        heading=messages.text("cancellation.heading"),
        greeting=_greeting(messages, context.recipient_first_name),
        paragraphs=paragraphs,
        details=[(messages.text(label), value) for label, value in details],
        parcels=[],
        action=None,
        support=support,
        footer=messages.text("email.footer", brand=brand),
    )
    return _render(content, messages, context.brand, context.support)


def _parcel_links(messages: Messages, parcels: list[ParcelLink]) -> list[EmailLink]:
    """Every parcel's number linked to its page; with several, each says which it is."""
    if len(parcels) == 1:
        return [EmailLink(messages.text("label.tracking_number"), parcels[0].tracking_number, parcels[0].url)]
    count = messages.number(len(parcels))
    return [EmailLink(messages.text("label.parcel", index=messages.number(index), count=count),
                      parcel.tracking_number, parcel.url)
            for index, parcel in enumerate(parcels, start=1)]


def _support(messages: Messages, brand: str, contact: SupportContact) -> EmailSupport | None:
    links = []
    if contact.email:
        links.append(EmailLink(messages.text("email.support.email"), contact.email, f"mailto:{contact.email}"))
    if contact.url:
        links.append(EmailLink(messages.text("email.support.url"), contact.url, contact.url))
    return EmailSupport(messages.text("email.support.heading", brand=brand), links) if links else None


def render_endpoint_disabled_email(language: str, context: EndpointDisabledEmailContext) -> RenderedEmail:
    messages = Messages(language)
    since = messages.moment(context.failing_since)
    content = EmailContent(
        subject=messages.text("endpoint_disabled.subject"),
        heading=messages.text("endpoint_disabled.heading"),
        greeting=messages.text("email.greeting_anonymous"),
        paragraphs=[messages.text("endpoint_disabled.body", url=context.url, since=since),
                    messages.text("endpoint_disabled.fix", endpoint_id=context.endpoint_id)],
        details=[(messages.text("label.endpoint"), f"{context.endpoint_id} ({context.url})"),
                 (messages.text("label.failing_since"), since),
                 (messages.text("label.disabled_at"), messages.moment(context.disabled_at))],
        parcels=[],
        action=None,
        support=None,
        footer=messages.text("endpoint_disabled.footer", brand=context.account_name),
    )
    # No Reply-To: the merchant's own support address is where its customers write, not Colis.
    return _render(content, messages, COLIS_BRAND, SupportContact())


def money(amount: Decimal, currency: str, language: str) -> str:
    """An amount written the language's way (Babel's currency pattern and symbol, which only emails
    need) with its currency's ISO 4217 minor units, those of `shared.values.money`: CLDR's own
    digits differ for some (it writes IQD and RSD without decimals), and an amount is shown exactly
    as it is kept."""
    locale = Locale.parse(language)
    units = minor_units(currency)
    pattern = copy(locale.currency_formats["standard"])
    pattern.frac_prec = (units, units)
    return pattern.apply(round_half_up(amount, currency), locale, currency=currency.upper(), currency_digits=False)


def _about_order(messages: Messages, key: str, brand: str, order_number: str | None) -> str:
    if order_number:
        return messages.text(f"{key}_with_number", brand=brand, order_number=order_number)
    return messages.text(key, brand=brand)


def _greeting(messages: Messages, first_name: str | None) -> str:
    if first_name and first_name.strip():
        return messages.text("email.greeting", first_name=first_name.strip())
    return messages.text("email.greeting_anonymous")


def _render(content: EmailContent, messages: Messages, brand: Brand, support: SupportContact) -> RenderedEmail:
    # A subject is a single header line whatever a brand name or order number contains.
    subject = " ".join(content.subject.split())
    values = {"email": content, "subject": subject, "brand": brand, "m": messages}
    return RenderedEmail(
        subject=subject,
        text=email_templates.base_txt(values),
        html=email_templates.base_html(values),
        language=messages.language,
        reply_to=support.email,
    )
