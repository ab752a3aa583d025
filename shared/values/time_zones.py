"""The destination's time zone, for the times shown to shoppers in their own clock (DESIGN.md §1.2).

The table is data (`time_zones.json`, its `_doc` states the rule): a postal-code prefix, else the
region, else the country's main zone, else UTC. Zones come from the IANA database through
`zoneinfo` (the `tzdata` package where the system has none, as in Lambda).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TABLE_PATH = Path(__file__).resolve().parent / "time_zones.json"
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class ZoneTable:
    countries: Mapping[str, str]
    regions: Mapping[str, Mapping[str, str]]  # country -> region key -> zone
    postal_prefixes: Mapping[str, Mapping[str, str]]  # country -> prefix -> zone


def region_key(region: str) -> str:
    """`Québec`, `quebec` and `QUEBEC ` are one region: accents, case and punctuation ignored."""
    plain = unicodedata.normalize("NFKD", region).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALNUM.sub("", plain.casefold())


@cache
def table() -> ZoneTable:
    raw: dict[str, Any] = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    regions = {country: {region_key(name): zone for name, zone in names.items()}
               for country, names in raw["regions"].items()}
    return ZoneTable(countries=raw["countries"], regions=regions, postal_prefixes=raw["postal_prefixes"])


def destination_zone_name(country: str | None, region: str | None = None, postal_code: str | None = None) -> str:
    """The IANA name of the zone a destination keeps its clock in (the rule in `time_zones.json`)."""
    code = (country or "").strip().upper()
    zones = table()
    postal = (postal_code or "").strip()
    prefixes = zones.postal_prefixes.get(code, {})
    for length in sorted({len(prefix) for prefix in prefixes}, reverse=True):
        if postal[:length] in prefixes:
            return prefixes[postal[:length]]
    by_region = zones.regions.get(code, {}).get(region_key(region or ""))
    return by_region or zones.countries.get(code, "UTC")


@cache
def zone(name: str) -> tzinfo:
    """The zone of that name; UTC if the zone database lacks it (a stale tzdata never breaks a page)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def destination_zone(country: str | None, region: str | None = None, postal_code: str | None = None) -> tzinfo:
    return zone(destination_zone_name(country, region, postal_code))


def in_zone(moment: datetime, where: tzinfo) -> datetime:
    """`moment` on the clocks of `where`, with its offset; an instant the zone cannot write (the
    calendar's very edges) stays in UTC rather than failing."""
    instant = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    try:
        return instant.astimezone(where)
    except (OverflowError, ValueError):
        return instant.astimezone(UTC)


def local_day(moment: datetime, where: tzinfo) -> date:
    """The day `moment` falls on at the destination. Carriers write a day-only estimate as midnight
    UTC: such a time is that day wherever the parcel goes (else a US recipient would read the day
    before)."""
    instant = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if instant.time() == time(0):
        return instant.date()
    return in_zone(instant, where).date()
