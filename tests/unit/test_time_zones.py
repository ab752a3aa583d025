"""The destination's time zone (shared/values/time_zones.json) and times on its clock: the table
walked entry by entry, the rule (postal prefix, region, country, UTC), DST both ways, day-only
estimates, and hostile times at the calendar's edges."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import pytest

from functions.notify.texts import Messages
from shared.values.time_zones import (
    TABLE_PATH,
    destination_zone,
    destination_zone_name,
    in_zone,
    local_day,
    region_key,
    zone,
)

RAW = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
ZONE_TAB = Path("/usr/share/zoneinfo/zone.tab")


def every_zone_named() -> list[str]:
    named = set(RAW["countries"].values())
    named |= {name for regions in RAW["regions"].values() for name in regions.values()}
    named |= {name for prefixes in RAW["postal_prefixes"].values() for name in prefixes.values()}
    return sorted(named)


@pytest.mark.parametrize("name", every_zone_named())
def test_every_zone_of_the_table_is_in_the_zone_database(name: str) -> None:
    assert name in available_timezones()
    assert isinstance(zone(name), ZoneInfo)


def test_every_country_key_is_an_iso_code_and_every_region_country_has_a_main_zone() -> None:
    assert all(len(code) == 2 and code.isupper() for code in RAW["countries"])
    assert set(RAW["regions"]) <= set(RAW["countries"])
    assert set(RAW["postal_prefixes"]) <= set(RAW["countries"])


@pytest.mark.skipif(not ZONE_TAB.exists(), reason="no zone.tab on this system")
def test_each_countrys_main_zone_is_one_of_its_own_zones() -> None:
    own: dict[str, set[str]] = {}
    for line in ZONE_TAB.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            country, _, name = line.split("\t")[:3]
            own.setdefault(country, set()).add(name)
    assert set(own) <= set(RAW["countries"])  # every country the database knows has a main zone
    wrong = {country: name for country, name in RAW["countries"].items() if country in own and name not in own[country]}
    assert wrong == {}


@pytest.mark.parametrize(("country", "region", "postal", "expected"), [
    ("FR", None, "75011", "Europe/Paris"),
    ("fr ", None, None, "Europe/Paris"),
    ("NL", "Utrecht", "3511 ED", "Europe/Amsterdam"),
    # several zones: the region chooses, by code or by name, case and accents ignored
    ("US", "CA", "94103", "America/Los_Angeles"),
    ("US", "california", None, "America/Los_Angeles"),
    ("US", "AZ", None, "America/Phoenix"),
    ("US", "HI", None, "Pacific/Honolulu"),
    ("US", None, None, "America/New_York"),
    ("US", "Nowhere", None, "America/New_York"),
    ("CA", "BC", "V6B 1A1", "America/Vancouver"),
    ("CA", "Québec", None, "America/Toronto"),
    ("CA", "QUEBEC", None, "America/Toronto"),
    ("CA", "SK", None, "America/Regina"),
    ("AU", "WA", "6000", "Australia/Perth"),
    ("AU", "Western Australia", None, "Australia/Perth"),
    ("BR", "AM", None, "America/Manaus"),
    ("BR", "SP", None, "America/Sao_Paulo"),
    ("MX", "ROO", None, "America/Cancun"),
    ("RU", "Primorsky", None, "Europe/Moscow"),  # no regions: the main zone
    # the postal code chooses where it cheaply can
    ("ES", "Canarias", "35001", "Atlantic/Canary"),
    ("ES", None, "28013", "Europe/Madrid"),
    ("PT", None, "9500-123", "Atlantic/Azores"),
    ("PT", None, "1100-148", "Europe/Lisbon"),
    ("ES", None, "redacted", "Europe/Madrid"),  # after redaction: the country's main zone
    # no country we know: UTC
    ("ZZ", None, None, "UTC"),
    ("", None, None, "UTC"),
    (None, None, None, "UTC"),
])
def test_the_destination_zone_rule(country: str | None, region: str | None, postal: str | None, expected: str) -> None:
    assert destination_zone_name(country, region, postal) == expected


def test_region_keys_ignore_case_accents_and_punctuation() -> None:
    assert region_key(" Québec ") == region_key("QUEBEC") == "quebec"
    assert region_key("Baja California Sur") == "bajacaliforniasur"


def test_an_unknown_zone_name_reads_as_utc() -> None:
    assert zone("Mars/Olympus_Mons") is UTC
    assert zone("../../etc/passwd") is UTC


PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("instant", "where", "expected"), [
    # Paris springs forward at 01:00 UTC on 29 March 2026
    (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), PARIS, "2026-03-29T01:59:00+01:00"),
    (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), PARIS, "2026-03-29T03:00:00+02:00"),
    # New York falls back at 06:00 UTC on 1 November 2026: 01:30 happens twice, told apart by the offset
    (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NEW_YORK, "2026-11-01T01:30:00-04:00"),
    (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NEW_YORK, "2026-11-01T01:30:00-05:00"),
    # a half-hour zone, and a naive time read as UTC
    (datetime(2026, 1, 5, 12, 0), ZoneInfo("Asia/Kolkata"), "2026-01-05T17:30:00+05:30"),
    # an instant given in another offset is the same instant
    (datetime(2026, 7, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))), NEW_YORK, "2026-07-01T08:00:00-04:00"),
])
def test_times_are_written_on_the_destinations_clock_with_its_offset(
        instant: datetime, where: ZoneInfo, expected: str) -> None:
    assert in_zone(instant, where).isoformat() == expected


@pytest.mark.parametrize("instant", [datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)])
def test_a_time_at_the_calendars_edge_stays_in_utc_rather_than_failing(instant: datetime) -> None:
    shifted = in_zone(instant, ZoneInfo("Pacific/Kiritimati") if instant.year == 9999 else ZoneInfo("America/Los_Angeles"))
    assert shifted == instant and shifted.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("estimate", "where", "day"), [
    (datetime(2026, 5, 6, 0, 0, tzinfo=UTC), ZoneInfo("America/Los_Angeles"), date(2026, 5, 6)),  # a day-only estimate
    (datetime(2026, 5, 6, 3, 0, tzinfo=UTC), ZoneInfo("America/Los_Angeles"), date(2026, 5, 5)),  # 20:00 the day before
    (datetime(2026, 5, 6, 23, 0, tzinfo=UTC), ZoneInfo("Europe/Paris"), date(2026, 5, 7)),
    (datetime(2026, 5, 6, 18, 0, tzinfo=UTC), ZoneInfo("Europe/Paris"), date(2026, 5, 6)),
    (datetime(2026, 5, 6, 2, 0, tzinfo=timezone(timedelta(hours=2))), ZoneInfo("Europe/Paris"), date(2026, 5, 6)),
])
def test_the_estimated_day_is_the_destinations(estimate: datetime, where: ZoneInfo, day: date) -> None:
    assert local_day(estimate, where) == day


@pytest.mark.parametrize(("language", "instant", "where", "text"), [
    ("en", datetime(2026, 3, 29, 1, 0, tzinfo=UTC), PARIS, "March 29, 2026, 3:00\u202fAM UTC+2"),
    ("fr", datetime(2026, 3, 29, 0, 30, tzinfo=UTC), PARIS, "29 mars 2026, 01:30 UTC+1"),
    ("de", datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NEW_YORK, "1. November 2026, 01:30 UTC-5"),
    ("nl", datetime(2026, 1, 5, 12, 0, tzinfo=UTC), ZoneInfo("Asia/Kolkata"), "5 januari 2026, 17:30 UTC+5:30"),
    ("es", datetime(2026, 1, 5, 12, 0, tzinfo=UTC), ZoneInfo("America/St_Johns"), "5 de enero de 2026, 8:30 UTC-3:30"),
    ("en", datetime(2026, 1, 5, 12, 0, tzinfo=UTC), ZoneInfo("Europe/London"), "January 5, 2026, 12:00\u202fPM UTC"),
])
def test_a_local_time_reads_with_its_offset_in_each_language(language: str, instant: datetime, where: ZoneInfo,
                                                             text: str) -> None:
    assert Messages(language).local_moment(in_zone(instant, where)) == text


def test_the_zone_of_a_destination() -> None:
    assert destination_zone("US", "WA") == ZoneInfo("America/Los_Angeles")
