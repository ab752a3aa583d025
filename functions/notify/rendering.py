"""Customer emails (milestones, order cancellation): language choice, texts, rendering.

Texts live in `messages/<language>.json` (one flat catalogue per language, also used by the
tracking page); layout lives in `templates/`. Message texts are plain text with `{name}`
placeholders: Jinja escapes them when they land in HTML, so a brand name can never inject markup.
"""


import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from functions.notify.milestones import Milestone
from shared.money import is_currency
from shared.tracking_status import as_utc

MESSAGES_DIR = Path(__file__).parent / "messages"
TEMPLATES_DIR = Path(__file__).parent / "templates"

# A language is supported when it has a catalogue.
SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(sorted(path.stem for path in MESSAGES_DIR.glob("*.json")))
FALLBACK_LANGUAGE = "en"

# Destination country (ISO 3166-1 alpha-2) -> its main language, for supported languages only.
# Belgium -> nl: Dutch is the first language of the majority (Flanders); a Walloon or Brussels
# recipient who wants French sets `language` on the address, which comes first in the chain.
# Switzerland -> de for the same reason (majority); Luxembourg -> fr (language of administration
# and commerce); Canada -> en (majority).
COUNTRY_LANGUAGES: Mapping[str, str] = {
    country: language
    for language, countries in {
        "en": "GB IE US CA AU NZ GG JE IM GI JM BS BB TT",
        "fr": "FR MC LU GP MQ GF RE YT PM BL MF NC PF WF",
        "de": "DE AT CH LI",
        "nl": "NL BE SR AW CW SX BQ",
        "es": "ES MX AR CO CL PE VE EC GT CU BO DO HN PY SV NI CR PA UY PR GQ",
    }.items()
    for country in countries.split()
}

DEFAULT_ACCENT = "#2563eb"
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")


class Brand(BaseModel):
    """The merchant's brand as shown to customers. Values are shown, never trusted: `accent` and
    `logo_src` only ever yield a hex colour and an http(s) URL."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    logo_url: str | None = None
    color: str | None = None

    @field_validator("logo_url", mode="before")
    @classmethod
    def _url_as_text(cls, value: object) -> object:
        # Settings hold a pydantic URL object; the view only needs its text.
        return None if value is None else str(value)

    @classmethod
    def of_merchant(cls, merchant_name: str, settings_brand: Any) -> "Brand":
        """The brand settings (`shared.merchants.Brand`), the account name standing in for a brand
        name the merchant has not set."""
        return cls(name=(settings_brand.name or "").strip() or merchant_name, logo_url=settings_brand.logo_url,
                   color=settings_brand.color)

    @property
    def accent(self) -> str:
        if self.color is not None and _HEX_COLOR.fullmatch(self.color):
            return self.color
        return DEFAULT_ACCENT

    @property
    def on_accent(self) -> str:
        """Text colour readable on the accent (a pale brand colour gets dark text)."""
        accent = _luminance(self.accent)
        return max(("#ffffff", "#111827"), key=lambda text: _contrast(accent, _luminance(text)))

    @property
    def logo_src(self) -> str | None:
        if self.logo_url is None:
            return None
        parts = urlsplit(self.logo_url)
        return self.logo_url if parts.scheme in ("http", "https") and parts.netloc else None


class MilestoneEmailContext(BaseModel):
    brand: Brand
    carrier: str = Field(min_length=1)
    parcel_count: int = Field(ge=1)
    tracking_url: str
    tracking_number: str = Field(min_length=1)
    recipient_first_name: str | None = None
    occurred_at: datetime | None = None
    estimated_delivery: date | None = None

    @field_validator("tracking_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("tracking_url must be an http(s) URL")
        return value

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
    reason: str | None = None
    refund_total: Decimal | None = None
    currency: str | None = None
    recipient_first_name: str | None = None
    cancelled_at: datetime | None = None

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        if value is not None and not is_currency(value):
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


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str


class Messages:
    """One language's catalogue plus its locale-aware formatting, as handed to templates."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.locale = Locale.parse(language)
        self._catalogue = catalogue(language)

    def text(self, key: str, **params: object) -> str:
        """The message `key` with its placeholders filled; a placeholder left unfilled raises."""
        return self._catalogue[key].format_map(params)

    def plural(self, key: str, count: int) -> str:
        """`key.one` / `key.other` (or any other CLDR form the catalogue has) chosen for `count`."""
        form = self.locale.plural_form(count)
        chosen = f"{key}.{form}" if f"{key}.{form}" in self._catalogue else f"{key}.other"
        return self.text(chosen, count=format_decimal(count, locale=self.locale))

    def status(self, status: str) -> str:
        return self.text(f"status.{status}")

    def date(self, day: date) -> str:
        return format_date(day, "long", locale=self.locale)

    def moment(self, moment: datetime) -> str:
        """Long date and short time in UTC, with the zone named: recipients' zones are unknown."""
        moment = as_utc(moment)
        time = format_time(moment, "short", tzinfo=UTC, locale=self.locale)
        zone = format_time(moment, "z", tzinfo=UTC, locale=self.locale)
        pattern = get_datetime_format("long", locale=self.locale).replace("'", "")
        return pattern.replace("{1}", self.date(moment.date())).replace("{0}", f"{time} {zone}")

    def money(self, amount: Decimal, currency: str) -> str:
        return format_currency(amount, currency, locale=self.locale)


@cache
def catalogue(language: str) -> Mapping[str, str]:
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"no message catalogue for {language!r}")
    with (MESSAGES_DIR / f"{language}.json").open(encoding="utf-8") as file:
        return json.load(file)


def primary_language(tag: str | None) -> str | None:
    """The primary language subtag of a BCP 47 tag, lower-cased (`fr-CA` -> `fr`)."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def supported_language(tag: str | None) -> str | None:
    language = primary_language(tag)
    return language if language in SUPPORTED_LANGUAGES else None


def choose_language(recipient_language: str | None, destination_country: str | None, default_language: str) -> str:
    """Recipient's language, else the destination country's, else the merchant's, else English."""
    country_language = COUNTRY_LANGUAGES.get((destination_country or "").strip().upper())
    for candidate in (recipient_language, country_language, default_language):
        language = supported_language(candidate)
        if language is not None:
            return language
    return FALLBACK_LANGUAGE


@cache
def template_environment(directory: Path) -> Environment:
    """Jinja environment for a template folder: `.html` autoescaped, undefined names fail."""
    return Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class EmailAction:
    label: str
    url: str


@dataclass(frozen=True)
class EmailContent:
    """What an email says, already in its language; `base.html` and `base.txt` lay it out."""

    subject: str
    heading: str
    greeting: str
    paragraphs: list[str]
    details: list[tuple[str, str]]
    action: EmailAction | None
    footer: str


def render_milestone_email(milestone: Milestone | str, language: str, context: MilestoneEmailContext) -> RenderedEmail:
    milestone = Milestone(milestone)
    messages = Messages(language)
    params = {
        "brand": context.brand.name,
        "carrier": context.carrier,
        "parcels": messages.plural("parcels", context.parcel_count),
    }
    details = [
        ("label.carrier", context.carrier),
        ("label.tracking_number", context.tracking_number),
        ("label.shipment", params["parcels"]),
    ]
    if context.estimated_delivery is not None:
        details.append(("label.estimated_delivery", messages.date(context.estimated_delivery)))
    if context.occurred_at is not None:
        details.append(("label.updated_at", messages.moment(context.occurred_at)))
    content = EmailContent(
        subject=messages.text(f"email.{milestone}.subject", **params),
        heading=messages.text(f"email.{milestone}.heading"),
        greeting=_greeting(messages, context.recipient_first_name),
        paragraphs=[messages.text(f"email.{milestone}.body", **params)],
        details=[(messages.text(label), value) for label, value in details],
        action=EmailAction(messages.text("email.track_button"), context.tracking_url),
        footer=messages.text("email.footer", brand=context.brand.name),
    )
    return _render(content, messages, context.brand)


def render_cancellation_email(language: str, context: CancellationEmailContext) -> RenderedEmail:
    messages = Messages(language)
    brand = context.brand.name
    subject = _about_order(messages, "cancellation.subject", brand, context.order_number)
    paragraphs = [_about_order(messages, "cancellation.body", brand, context.order_number)]
    if context.refund_total is not None and context.currency is not None:
        amount = messages.money(context.refund_total, context.currency)
        paragraphs.append(messages.text("cancellation.refund", amount=amount))
        paragraphs.append(messages.text("cancellation.refund_delay"))
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
        action=None,
        footer=messages.text("email.footer", brand=brand),
    )
    return _render(content, messages, context.brand)


def _about_order(messages: Messages, key: str, brand: str, order_number: str | None) -> str:
    if order_number:
        return messages.text(f"{key}_with_number", brand=brand, order_number=order_number)
    return messages.text(key, brand=brand)


def _greeting(messages: Messages, first_name: str | None) -> str:
    if first_name and first_name.strip():
        return messages.text("email.greeting", first_name=first_name.strip())
    return messages.text("email.greeting_anonymous")


def _render(content: EmailContent, messages: Messages, brand: Brand) -> RenderedEmail:
    # A subject is a single header line whatever a brand name or order number contains.
    subject = " ".join(content.subject.split())
    values = {"email": content, "subject": subject, "brand": brand, "m": messages}
    return RenderedEmail(
        subject=subject,
        text=_template("base.txt").render(values),
        html=_template("base.html").render(values),
        language=messages.language,
    )


def _template(name: str) -> Template:
    return template_environment(TEMPLATES_DIR).get_template(name)


def delivery_day(value: object) -> object:
    """Carriers give estimated delivery as a datetime; customers are shown its day."""
    if isinstance(value, datetime):
        return as_utc(value).date()
    if isinstance(value, str) and "T" in value:
        return as_utc(datetime.fromisoformat(value)).date()
    return value


def _contrast(luminance: float, other: float) -> float:
    """WCAG contrast ratio of two relative luminances."""
    return (max(luminance, other) + 0.05) / (min(luminance, other) + 0.05)


def _luminance(hex_color: str) -> float:
    """WCAG relative luminance of `#rgb` / `#rrggbb`."""
    digits = hex_color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    red, green, blue = (
        channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4 for channel in channels
    )
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue
