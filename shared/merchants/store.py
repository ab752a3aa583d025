"""Merchants and their settings."""


import re
import secrets
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from shared.dynamo import keys, writes
from shared.dynamo.transactions import Transaction, TransactionRefused
from shared.dynamo.writes import ITEM_EXISTS, ITEM_IS_NEW
from shared.errors import NotFound, Refused
from shared.platform import aws, clock
from shared.platform.ids import new_id
from shared.values.models import WebUrl
from shared.values.money import is_currency, strict_decimal

SUPPORTED_LANGUAGES = ("en", "fr", "de", "nl", "es")
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
# C0 and C1 controls, DEL and the Unicode line and paragraph separators: in a brand name they break
# email headers (a CR or LF in a From display name or a subject) and the layout of every page.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# DESIGN.md §1.2: 3-40 of a-z, 0-9 and `-`.
TRACKING_SLUG = re.compile(r"^[a-z0-9-]{3,40}$")
SLUG_TAKEN = "tracking_slug_taken"
_SLUG_SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
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

    @field_validator("tracking_slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not TRACKING_SLUG.match(value):
            raise ValueError("tracking_slug must be 3 to 40 of a-z, 0-9 and '-'")
        return value

    @field_validator("display_currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not is_currency(value):
            raise ValueError("display_currency must be an ISO 4217 code")
        return value.upper() if value else value


class Merchant(BaseModel):
    id: str
    name: str
    created_at: str
    settings: Settings = Field(default_factory=Settings)


class MerchantRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def create(self, name: str, tracking_slug: str | None = None) -> Merchant:
        """The merchant with its tracking slug: the one asked for (taken → Refused), else one made
        from the name with a random suffix."""
        for _ in range(5):
            slug = tracking_slug or default_slug(name)
            merchant = Merchant(id=new_id("mer"), name=name, created_at=clock.isoformat(clock.now()),
                                settings=Settings(tracking_slug=slug))
            index, partition = keys.merchants_list()
            item = {**keys.merchant(merchant.id), **keys.index_entry(index, partition, merchant.id),
                    **_to_item(merchant)}
            transaction = Transaction(self._table).put(item, condition=ITEM_IS_NEW, rule="merchant_exists")
            transaction.put(_slug_item(slug, merchant.id), condition=ITEM_IS_NEW, rule=SLUG_TAKEN)
            try:
                transaction.commit()
            except TransactionRefused as refused:
                if SLUG_TAKEN in refused.rules and tracking_slug is None:
                    continue  # another suffix
                if SLUG_TAKEN in refused.rules:
                    raise _slug_refusal(slug) from refused
                raise
            return merchant
        raise Refused("No free tracking slug was found for this name; give one.", rule=SLUG_TAKEN)

    def get(self, merchant_id: str) -> Merchant:
        item = self._table.get_item(Key=keys.merchant(merchant_id)).get("Item")
        if not item:
            raise NotFound(f"Merchant {merchant_id} does not exist.")
        return Merchant.model_validate(keys.strip_keys(item))

    def save_settings(self, merchant_id: str, settings: Settings, *, claim_slug: bool = False) -> Settings:
        """Stores the merchant's own settings. Field by field, leaving the operator's (`fees`) as
        stored: a merchant's read-modify-write can never put back fee terms the operator changed
        meanwhile. `claim_slug`: the settings carry a new tracking slug, claimed in the same
        transaction: a slug another merchant holds (or ever held) → Refused (`tracking_slug_taken`);
        one this merchant held before is theirs again."""
        data = settings.model_dump(mode="json", exclude=OPERATOR_OWNED)
        names = {"#settings": "settings", **{f"#{field}": field for field in data}}
        values = {f":{field}": value for field, value in data.items()}
        assignments = ", ".join(f"#settings.#{field} = :{field}" for field in data)
        transaction = Transaction(self._table).update(
            keys.merchant(merchant_id), f"SET {assignments}", condition=ITEM_EXISTS, rule="merchant_exists",
            names=names, values=values)
        if claim_slug and settings.tracking_slug:
            transaction.put(_slug_item(settings.tracking_slug, merchant_id),
                            condition="attribute_not_exists(pk) OR merchant_id = :m", rule=SLUG_TAKEN,
                            values={":m": merchant_id})
        try:
            transaction.commit()
        except TransactionRefused as refused:
            if SLUG_TAKEN in refused.rules:
                raise _slug_refusal(settings.tracking_slug or "") from refused
            raise NotFound(f"Merchant {merchant_id} does not exist.") from refused
        return settings

    def set_fees(self, merchant_id: str, fees: FeeSettings) -> FeeSettings:
        """The operator's fee terms; orders imported from now on copy them (DESIGN.md §1.3)."""
        writes.update(self._table, keys.merchant(merchant_id), "SET #settings.#fees = :fees",
                      condition=writes.ITEM_EXISTS, rule="merchant_exists",
                      names={"#settings": "settings", "#fees": "fees"},
                      values={":fees": fees.model_dump(mode="json")},
                      detail=f"Merchant {merchant_id} does not exist.")
        return fees

    def merchant_for_slug(self, slug: str) -> str | None:
        """The merchant a slug belongs (or belonged) to, None when no merchant ever had it."""
        if not TRACKING_SLUG.match(slug):
            return None
        item = self._table.get_item(Key=keys.tracking_slug(slug)).get("Item")
        return str(item["merchant_id"]) if item else None


def default_slug(name: str) -> str:
    """`atelier-lune-x7k2q9` from "Atelier Lune": readable, and unlikely to be taken."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    words = "-".join(re.findall(r"[a-z0-9]+", plain))[:30].strip("-") or "shop"
    suffix = "".join(secrets.choice(_SLUG_SUFFIX_ALPHABET) for _ in range(6))
    return f"{words}-{suffix}"


def _slug_item(slug: str, merchant_id: str) -> dict[str, Any]:
    return {**keys.tracking_slug(slug), "merchant_id": merchant_id, "claimed_at": clock.isoformat(clock.now())}


def _slug_refusal(slug: str) -> Refused:
    return Refused(f"The tracking slug {slug!r} is taken by another merchant; choose another.", rule=SLUG_TAKEN)


def _to_item(merchant: Merchant) -> dict[str, Any]:
    return merchant.model_dump(mode="json")
