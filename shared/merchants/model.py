"""A merchant and its settings (brand, tracking slug, notifications, retention, fees), as validated
values."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from shared.values.models import WebUrl
from shared.values.money import currency_code, strict_decimal

SUPPORTED_LANGUAGES = ("en", "fr", "de", "nl", "es")
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
# C0 and C1 controls, DEL and the Unicode line and paragraph separators: in a brand name they break
# email headers (a CR or LF in a From display name or a subject) and the layout of every page.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# DESIGN.md §1.2: 3-40 of a-z, 0-9 and `-`.
TRACKING_SLUG = re.compile(r"^[a-z0-9-]{3,40}$")
SLUG_TAKEN = "tracking_slug_taken"
EMAIL_ADDRESS = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$")

# Settings fields the merchant never writes: `PATCH /v1/settings` refuses them and
# `save_settings` leaves them as they are.
OPERATOR_OWNED: frozenset[str] = frozenset({"fees"})

Percent = Annotated[Decimal, BeforeValidator(strict_decimal), Field(ge=0, le=100, max_digits=6, decimal_places=3)]


class Brand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    logo_url: WebUrl | None = None
    color: str | None = None

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("name must not contain control characters (line breaks, tabs, ...)")
        return value

    @field_validator("color")
    @classmethod
    def _hex_color(cls, value: str | None) -> str | None:
        if value is not None and not _COLOR.fullmatch(value):
            raise ValueError("color must be a hex colour like #1a2b3c")
        return value


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ready_to_ship: bool = True
    in_transit: bool = True
    delayed: bool = True
    ready_for_pickup: bool = False
    out_for_delivery: bool = False
    delivered: bool = True


class RetentionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    redact_after_days: int = Field(default=90, ge=1, le=3650)
    delete_after_months: int = Field(default=15, ge=1, le=120)


class FeeSettings(BaseModel):
    """Colis fee terms, copied onto each order at import (`fixed` is in the checkout currency)."""

    model_config = ConfigDict(extra="forbid")
    rate_percent: Percent = Decimal("5.0")
    fixed: Annotated[Decimal, BeforeValidator(strict_decimal), Field(ge=0, le=1000, max_digits=9, decimal_places=2)] = Decimal("0.30")
    card_percent: Percent = Decimal("2.9")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brand: Brand = Field(default_factory=Brand)
    # The merchant's public tracking pages live under /track/{tracking_slug}/ (None: a merchant
    # created before slugs existed, who has no public page until one is set).
    tracking_slug: str | None = None
    # Where shoppers reach the shop: shown on the tracking page (and its JSON) and in emails.
    support_email: str | None = Field(default=None, max_length=254)
    support_url: WebUrl | None = None
    # Where Colis writes to the merchant's own team (never shown to shoppers): e.g. a webhook
    # endpoint disabled after failing for 5 days. Unset: `support_email` is written to instead.
    notification_email: str | None = Field(default=None, max_length=254)
    default_language: str = "en"
    display_currency: str | None = None
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    # Shown to the merchant, set only by the operator (`colis set-fees`): see `set_fees`.
    fees: FeeSettings = Field(default_factory=FeeSettings, json_schema_extra={"readOnly": True})

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not _LANGUAGE.match(value):
            raise ValueError("default_language must be a BCP 47 language tag such as 'fr'")
        return value

    @field_validator("support_email", "notification_email")
    @classmethod
    def _email(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not EMAIL_ADDRESS.fullmatch(value):
            raise ValueError(f"{info.field_name} must be an email address such as help@shop.example")
        return value

    def merchant_contact(self) -> str | None:
        """The address Colis writes to about the merchant's account."""
        return self.notification_email or self.support_email

    @field_validator("support_url")
    @classmethod
    def _support_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("support_url must be an https:// address")
        return value

    @field_validator("tracking_slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not TRACKING_SLUG.match(value):
            raise ValueError("tracking_slug must be 3 to 40 of a-z, 0-9 and '-'")
        return value

    @field_validator("display_currency")
    @classmethod
    def _currency(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else currency_code(value, info)


class Merchant(BaseModel):
    id: str
    name: str
    created_at: str
    settings: Settings = Field(default_factory=Settings)
