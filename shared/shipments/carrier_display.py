"""How shoppers see a carrier: its display name and a link to its own page of a parcel (DESIGN.md
§1.2). The table is data (`carrier_display.json`); the rules of reading it are here:

- a carrier is found by its code in any spelling carriers and integrators emit (`DHLExpress`,
  `dhl_express`, `DHL Express`): case and every character but letters and digits are ignored;
- a code the table does not know reads as a name, never as a raw code: a lowercase code has its
  `_`/`-` turned into spaces and its words capitalised (`canada_post` -> `Canada Post`); anything
  else (`DHL & Co`) is what the merchant typed, kept as it is;
- the link is the parcel's own `tracking_url` when the merchant or carrier gave one over https,
  else the carrier's template filled with the URL-encoded number, else none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlsplit

TABLE_PATH = Path(__file__).resolve().parent / "carrier_display.json"
NUMBER = "{number}"
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_WORD_BREAK = re.compile(r"[\s_\-]+")


@dataclass(frozen=True)
class CarrierDisplay:
    code: str  # our key in the table, or the given code when the table does not know it
    name: str
    url_template: str | None = None

    def tracking_url(self, number: str) -> str | None:
        """The carrier's page of the parcel `number`, or None when the carrier has none."""
        if self.url_template is None:
            return None
        return self.url_template.replace(NUMBER, quote(number, safe=""))


def lookup_key(code: str) -> str:
    """The spelling-free form of a code: `DHL-Express`, `dhl_express` and `DHLExpress` are one."""
    return _NOT_ALNUM.sub("", code.casefold())


@cache
def carriers() -> Mapping[str, CarrierDisplay]:
    """Every spelling's lookup key -> its carrier (the table read once per process)."""
    raw = json.loads(TABLE_PATH.read_text(encoding="utf-8"))["carriers"]
    found: dict[str, CarrierDisplay] = {}
    for code, entry in raw.items():
        display = CarrierDisplay(code=code, name=entry["name"], url_template=entry["tracking_url"])
        for spelling in (code, entry["name"], *entry["codes"]):
            found.setdefault(lookup_key(spelling), display)
    return found


def carrier_display(code: str | None) -> CarrierDisplay:
    """The carrier as shoppers see it; an unknown or missing code still gets a readable name."""
    given = (code or "").strip()
    known = carriers().get(lookup_key(given))
    if known is not None:
        return known
    return CarrierDisplay(code=given, name=readable_name(given))


def readable_name(code: str) -> str:
    """A name for a code the table does not know: `canada_post` -> `Canada Post`; a code that
    already carries capitals or other writing is a name someone typed, kept as it is."""
    if code != code.lower():
        return code
    words = [word for word in _WORD_BREAK.split(code) if word]
    return " ".join(word[:1].upper() + word[1:] for word in words) or code


def is_https_url(url: str | None) -> bool:
    """Whether `url` is an absolute https URL with a host (what a shopper's link may point to)."""
    if not url:
        return False
    parts = urlsplit(url.strip())
    return parts.scheme.lower() == "https" and bool(parts.hostname)


def parcel_tracking_url(carrier: str | None, number: str, given_url: str | None) -> str | None:
    """The link to the carrier's page of a parcel: the parcel's own `tracking_url` when it is
    https, else the carrier's template for `number`, else None."""
    if given_url is not None and is_https_url(given_url):
        return given_url.strip()
    return carrier_display(carrier).tracking_url(number)
