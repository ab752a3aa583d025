"""`PATCH /v1/settings`: any subset of the settings, merged into the current ones.

Apart from `shared.merchants` because only the account function takes settings patches: every
other function would build these models at cold start for nothing.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.json_schema import SkipJsonSchema

from shared.merchants.model import OPERATOR_OWNED, Settings
from shared.values.money import RECORDED


class BrandPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    logo_url: str | None = None
    color: str | None = None


class NotificationsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ready_to_ship: bool | None = None
    in_transit: bool | None = None
    delayed: bool | None = None
    ready_for_pickup: bool | None = None
    out_for_delivery: bool | None = None
    delivered: bool | None = None


class RetentionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    redact_after_days: int | None = None
    delete_after_months: int | None = None


class SettingsPatch(BaseModel):
    """Any subset of the settings; nested objects merge field by field, and the merged result
    is validated as a whole (so the rules live once, on `Settings`)."""

    model_config = ConfigDict(extra="forbid")
    brand: BrandPatch | None = None
    tracking_slug: str | None = None
    support_email: str | None = None
    support_url: str | None = None
    notification_email: str | None = None
    default_language: str | None = None
    display_currency: str | None = None
    notifications: NotificationsPatch | None = None
    retention: RetentionPatch | None = None
    # Named, not merely forbidden, so that the 422 says why: Colis's fee is the operator's term,
    # never the merchant's (DESIGN.md §1.3). Hidden from the OpenAPI document: it is not patchable.
    fees: SkipJsonSchema[Any] = None

    @field_validator("fees", mode="before")
    @classmethod
    def _fees_are_the_operators(cls, value: Any) -> Any:
        raise ValueError("fees are read-only: the operator sets them (colis set-fees)")

    @field_validator("tracking_slug")
    @classmethod
    def _slug_kept(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("every merchant has a tracking slug: give another one rather than null")
        return value


def apply_settings_patch(current: Settings, patch: SettingsPatch) -> Settings:
    """Merge the patch into the current settings and validate the whole result."""
    merged = current.model_dump(mode="json")
    changes = patch.model_dump(mode="json", exclude_unset=True, exclude=OPERATOR_OWNED)
    for field, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(field), dict):
            merged[field] = {**merged[field], **value}
        else:
            merged[field] = value
    # A display currency ISO withdrew after it was set stays until the merchant changes it: a
    # patch of anything else is not refused for it, a new one must be current.
    kept_currency = "display_currency" not in changes
    return Settings.model_validate(merged, context=RECORDED if kept_currency else None)
