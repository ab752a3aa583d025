"""The merchant's brand as customers see it in emails and on the tracking page."""


import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_ACCENT = "#2563eb"
WHITE = "#ffffff"
INK = "#111827"  # the emails' and page's near-black text
BLACK = "#000000"
# WCAG 2 AA for normal text (1.4.3): every text colour chosen here reaches it on its background.
AA_CONTRAST = 4.5
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
        """Text colour on the accent (the button's label): white or near-black, whichever contrasts
        more; pure black or white when neither reaches WCAG AA (4.5:1), which one of them always
        does (the better of the two contrasts at least sqrt(21), about 4.58)."""
        for candidates in ((WHITE, INK), (WHITE, BLACK)):
            best = max(candidates, key=lambda text: contrast(text, self.accent))
            if contrast(best, self.accent) >= AA_CONTRAST:
                return best
        raise AssertionError("black or white always reaches 4.5:1")

    @property
    def accent_text(self) -> str:
        """The accent as text or a link on the white email and page (the brand name without a logo):
        the accent itself when it contrasts 4.5:1 with white, else the accent darkened (mixed with
        black, so it keeps its hue) just enough."""
        return readable_on(self.accent, WHITE)

    @property
    def logo_src(self) -> str | None:
        if self.logo_url is None:
            return None
        parts = urlsplit(self.logo_url)
        return self.logo_url if parts.scheme in ("http", "https") and parts.netloc else None


def readable_on(color: str, background: str) -> str:
    """`color` (`#rrggbb`), or the nearest shade of it towards black or white (whichever the
    background is not) that contrasts at least 4.5:1 with `background`."""
    color = _long_hex(color)
    if contrast(color, background) >= AA_CONTRAST:
        return color
    target = (0, 0, 0) if relative_luminance(background) > 0.18 else (255, 255, 255)
    start = _channels(color)
    for step in range(1, 101):
        share = step / 100
        mixed = "#" + "".join(f"{round(c + (t - c) * share):02x}" for c, t in zip(start, target, strict=True))
        if contrast(mixed, background) >= AA_CONTRAST:
            return mixed
    raise AssertionError("black on a light background, white on a dark one, always reach 4.5:1")


def contrast(color: str, other: str) -> float:
    """WCAG 2 contrast ratio of two colours (`#rgb` / `#rrggbb`), from 1 to 21."""
    lighter, darker = sorted((relative_luminance(color), relative_luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def relative_luminance(hex_color: str) -> float:
    """WCAG 2 relative luminance of `#rgb` / `#rrggbb`."""
    red, green, blue = (
        channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4
        for channel in (value / 255 for value in _channels(hex_color))
    )
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _long_hex(hex_color: str) -> str:
    digits = hex_color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return "#" + digits.lower()


def _channels(hex_color: str) -> tuple[int, int, int]:
    digits = _long_hex(hex_color)[1:]
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
