"""The merchant's brand as customers see it in emails and on the tracking page."""


import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
