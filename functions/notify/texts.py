"""What customers read, in their language: the message catalogues, the choice of language, and the
dates, times and counts written the way that language writes them.

Texts live in `messages/<language>.json` (one flat catalogue per language, shared by the emails and
the tracking page). Message texts are plain text with `{name}` placeholders. Dates, times and
counts follow CLDR, from the extract in `locale_data.py` (`python -m cli.locales --write`).
"""


import json
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from functions.notify.locale_data import LOCALES
from shared.shipments.statuses import as_utc

MESSAGES_DIR = Path(__file__).parent / "messages"

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


class Messages:
    """One language's catalogue plus its locale-aware formatting, as handed to templates."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._catalogue = catalogue(language)
        self._locale: Mapping[str, Any] = LOCALES[language]

    def text(self, key: str, **params: object) -> str:
        """The message `key` with its placeholders filled; a placeholder left unfilled raises."""
        return self._catalogue[key].format_map(params)

    def plural(self, key: str, count: int) -> str:
        """`key.one` / `key.other` (or any other CLDR form the catalogue has) chosen for `count`."""
        form = self._locale["plural"](count)
        chosen = f"{key}.{form}" if f"{key}.{form}" in self._catalogue else f"{key}.other"
        return self.text(chosen, count=self.number(count))

    def number(self, count: int) -> str:
        """A whole number with the language's thousands separator (`1,000`, `1.000`)."""
        digits = str(abs(count))
        groups = [digits[max(end - 3, 0):end] for end in range(len(digits), 0, -3)]
        sign = self._locale["minus"] if count < 0 else ""
        return sign + self._locale["group"].join(reversed(groups))

    def status(self, status: str) -> str:
        return self.text(f"status.{status}")

    def date(self, day: date) -> str:
        """The long date (`March 14, 2025`, `14 mars 2025`)."""
        fields = {"d": str(day.day), "MMMM": self._locale["months"][day.month - 1], "y": str(day.year)}
        return self._locale["date_long"] % fields

    def moment(self, moment: datetime) -> str:
        """Long date and short time in UTC, with the zone named: recipients' zones are unknown."""
        return self._long_moment(as_utc(moment), self._locale["utc"])

    def local_moment(self, moment: datetime) -> str:
        """Long date and short time on the clock `moment` carries, with its UTC offset (`UTC+2`,
        `UTC-3:30`, `UTC` at zero): the tracking page writes times in the destination's zone."""
        offset = moment.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        sign = "+" if minutes > 0 else self._locale["minus"] if minutes < 0 else ""
        hours, rest = divmod(abs(minutes), 60)
        zone = f"UTC{sign}{hours}:{rest:02d}" if rest else f"UTC{sign}{hours}" if hours else "UTC"
        return self._long_moment(moment, zone)

    def _long_moment(self, moment: datetime, zone: str) -> str:
        hour = moment.hour
        fields = {"h": str(hour % 12 or 12), "H": str(hour), "HH": f"{hour:02d}", "mm": f"{moment.minute:02d}",
                  "a": self._locale["pm" if hour >= 12 else "am"]}
        time = self._locale["time_short"] % fields
        pattern = self._locale["datetime_long"].replace("'", "")
        return pattern.replace("{1}", self.date(moment.date())).replace("{0}", f"{time} {zone}")


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


def delivery_day(value: object) -> object:
    """Carriers give estimated delivery as a datetime; customers are shown its day."""
    if isinstance(value, datetime):
        return as_utc(value).date()
    if isinstance(value, str) and "T" in value:
        return as_utc(datetime.fromisoformat(value)).date()
    return value
