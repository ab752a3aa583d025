"""The public tracking page (DESIGN.md §1.2): its view model, its language and its HTML.

It holds no personal data by construction: the view has no field for a name or an address, and an
event has no field for a carrier's free text: its description comes from the carrier's fixed status
vocabulary (`descriptions.py`), its location is the city, region and country the carrier gave apart.
Texts come from the notification catalogues (`functions/notify/messages`), so a status reads the
same in an email and on the page. Layout lives in `templates/`, compiled to `page_templates.py`
(`python -m cli.templates --write`).
"""


from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from pydantic import BaseModel, Field, field_validator

from functions.notify.brand import Brand
from functions.notify.texts import FALLBACK_LANGUAGE, Messages, delivery_day, supported_language
from functions.tracking import page_templates
from shared.merchants.model import Settings
from shared.shipments.statuses import TrackingStatus, as_utc
from shared.values.models import empty_list
from shared.values.time_zones import in_zone


class TrackingPageEvent(BaseModel):
    status: TrackingStatus
    occurred_at: datetime
    location: str | None = Field(default=None, description="City, region and country, never finer")
    description: str = Field(description="The carrier's fixed text for its status code, else the status's")

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class TrackingPageMerchant(Brand):
    """The merchant's brand and support contact as the page shows them (its own name in the
    OpenAPI document)."""

    support_email: str | None = None
    support_url: str | None = None

    @property
    def has_support(self) -> bool:
        return bool(self.support_email or self.support_url)

    @classmethod
    def of_settings(cls, merchant_name: str, settings: Settings) -> "TrackingPageMerchant":
        brand = cls.of_merchant(merchant_name, settings.brand)
        return brand.model_copy(update={"support_email": settings.support_email, "support_url": settings.support_url})


class TrackingPageView(BaseModel):
    """The JSON of `GET /track/{tracking_slug}/{tracking_number}` (API.md, Public tracking)."""

    tracking_number: str
    carrier: str
    carrier_name: str
    carrier_url: str | None = None
    status: TrackingStatus
    shipment_status: TrackingStatus
    parcel_count: int = Field(ge=1)
    estimated_delivery: date | None = None
    events: list[TrackingPageEvent] = Field(default_factory=empty_list)
    merchant: TrackingPageMerchant
    language: str

    @field_validator("estimated_delivery", mode="before")
    @classmethod
    def _day_of(cls, value: object) -> object:
        return delivery_day(value)


S = TrackingStatus
# The milestones of the progress bar, in order: label created, in transit, out for delivery (or
# ready for pickup), delivered. Each status stands on one of them; the statuses that are news of
# their own (a delay, a problem, a failed attempt, ...) are written on the step they stand on.
MILESTONES: tuple[TrackingStatus, ...] = (S.pre_transit, S.in_transit, S.out_for_delivery, S.delivered)
MILESTONE_OF: dict[TrackingStatus, int] = {
    S.unknown: 0, S.pre_transit: 0, S.cancelled: 0,
    S.in_transit: 1, S.delayed: 1, S.exception: 1, S.returned_to_sender: 1,
    S.out_for_delivery: 2, S.failed_attempt: 2, S.available_for_pickup: 2,
    S.delivered: 3,
    # Merchant statuses never reach a parcel; were one to, it reads as the label stage.
    S.archived: 0, S.deleted: 0,
}
NOTED: frozenset[TrackingStatus] = frozenset(
    {S.delayed, S.exception, S.returned_to_sender, S.failed_attempt, S.cancelled, S.unknown})
# Shapes beside the words, so that no state is told by colour alone.
MARKERS = {"done": "✓", "current": "●", "alert": "!", "upcoming": "○"}


@dataclass(frozen=True)
class ProgressStep:
    label: str
    state: str  # done | current | upcoming
    state_text: str  # the state in words, for screen readers
    note: str = ""  # the status that is news of its own on the current step (delayed, ...)

    @property
    def current(self) -> bool:
        return self.state == "current"

    @property
    def marker(self) -> str:
        return MARKERS["alert" if self.note else self.state]

    @property
    def css(self) -> str:
        return f"step step-{self.state}" + (" step-alert" if self.note else "")


def progress_steps(status: TrackingStatus, messages: Messages) -> list[ProgressStep]:
    """The progress bar of a parcel in `status`: steps before its milestone done, its milestone
    current (with the status written on it when it is news of its own), the rest to come. A
    parcel ready for pickup has that milestone instead of out for delivery; a delivered parcel's
    last step is done, not current."""
    reached = MILESTONE_OF[status]
    steps: list[ProgressStep] = []
    for index, milestone in enumerate(MILESTONES):
        shown = S.available_for_pickup if index == 2 and status is S.available_for_pickup else milestone
        if index < reached or status is S.delivered:
            state = "done"
        elif index == reached:
            state = "current"
        else:
            state = "upcoming"
        note = messages.status(status) if state == "current" and status in NOTED else ""
        steps.append(ProgressStep(label=messages.status(shown), state=state,
                                  state_text=messages.text(f"progress.{state}"), note=note))
    return steps


@dataclass(frozen=True)
class ParcelLine:
    """A parcel of the shipment as a multi-parcel page lists it (the page's own parcel included)."""

    tracking_number: str
    status: TrackingStatus
    carrier_url: str | None = None
    page_url: str | None = None
    current: bool = False


@dataclass(frozen=True)
class LocalClock:
    """Times as the destination reads them: on its clock, with the offset (ISO for `datetime`)."""

    zone: tzinfo
    messages: Messages

    def iso(self, moment: datetime) -> str:
        return in_zone(moment, self.zone).isoformat()

    def text(self, moment: datetime) -> str:
        return self.messages.local_moment(in_zone(moment, self.zone))


@dataclass(frozen=True)
class TrackingPage:
    """What the HTML page shows: the JSON view (API.md) and what only the page needs, the
    destination's zone and the shipment's other parcels."""

    view: TrackingPageView
    zone: tzinfo = UTC
    parcels: Sequence[ParcelLine] = field(default_factory=tuple)

    @property
    def multi_parcel(self) -> bool:
        return len(self.parcels) > 1

    @property
    def delivered_count(self) -> int:
        return sum(1 for parcel in self.parcels if parcel.status == S.delivered)


def render_tracking_page(page: TrackingPage) -> str:
    view, messages = page.view, Messages(page.view.language)
    newest_first = sorted(view.events, key=lambda event: event.occurred_at, reverse=True)
    return page_templates.track_html({
        "view": view, "page": page, "events": newest_first, "brand": view.merchant, "m": messages,
        "clock": LocalClock(page.zone, messages), "progress": progress_steps(view.status, messages),
        "summary": messages.text("parcels.delivered_of", delivered=messages.number(page.delivered_count),
                                 count=messages.number(len(page.parcels))),
    })


def render_lookup_page(tracking_slug: str, brand: TrackingPageMerchant, language: str) -> str:
    return page_templates.lookup_html({"tracking_slug": tracking_slug, "brand": brand, "m": Messages(language)})


def render_not_found_page(tracking_number: str, language: str) -> str:
    return page_templates.not_found_html({"tracking_number": tracking_number, "m": Messages(language)})


def choose_page_language(
    lang_query: str | None, accept_language_header: str | None, fallback_chain_language: str
) -> str:
    """`?lang=`, then the browser's preferences, then the email language chain's answer."""
    for candidate in (lang_query, *accepted_languages(accept_language_header)):
        language = supported_language(candidate)
        if language is not None:
            return language
    return supported_language(fallback_chain_language) or FALLBACK_LANGUAGE


def accepted_languages(header: str | None) -> list[str]:
    """Language ranges of an `Accept-Language` header, most wanted first (RFC 9110 §12.5.4).

    Ranges refused with `q=0`, the wildcard and malformed weights are left out; equal weights
    keep the header's order.
    """
    weighted: list[tuple[float, str]] = []
    for item in (header or "").split(","):
        tag, _, parameters = item.partition(";")
        tag = tag.strip()
        weight = _weight(parameters)
        if tag and tag != "*" and weight is not None and weight > 0:
            weighted.append((weight, tag))
    weighted.sort(key=lambda pair: pair[0], reverse=True)
    return [tag for _, tag in weighted]


def _weight(parameters: str) -> float | None:
    """The `q` of `;q=0.8`, 1 when absent, None when it is not a number in [0, 1]."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return None
            return weight if 0 <= weight <= 1 else None
    return 1.0


def prefers_json(accept_header: str | None) -> bool:
    """Whether `Accept` asks for JSON rather than HTML (RFC 9110 §12.5.1: the most specific
    matching range gives each type its weight). Browsers (`text/html,...,*/*;q=0.8`) get the page;
    `application/json` gets JSON, also beside a wildcard (`application/json, */*`); no header, a
    lone `*/*` or a tie between explicit types get the page."""
    json_weight, json_specificity = _quality("application", "json", accept_header)
    html_weight, html_specificity = _quality("text", "html", accept_header)
    if json_weight != html_weight:
        return json_weight > html_weight
    return json_weight > 0 and json_specificity > html_specificity


def _quality(kind: str, subtype: str, accept_header: str | None) -> tuple[float, int]:
    """(weight, specificity) of `kind/subtype` under the most specific matching media range."""
    best: tuple[int, float] | None = None
    for item in (accept_header or "").split(","):
        media_range, _, parameters = item.partition(";")
        range_kind, _, range_subtype = media_range.strip().lower().partition("/")
        weight = _weight(parameters)
        if weight is None or not range_kind:
            continue
        if (range_kind, range_subtype) == (kind, subtype):
            specificity = 2
        elif (range_kind, range_subtype) == (kind, "*"):
            specificity = 1
        elif (range_kind, range_subtype) == ("*", "*"):
            specificity = 0
        else:
            continue
        if best is None or specificity > best[0]:
            best = (specificity, weight)
    return (0.0, -1) if best is None else (best[1], best[0])
