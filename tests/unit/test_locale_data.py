"""The CLDR extract (`functions/notify/locale_data.py`) says what Babel says: the committed module is
the generator's output, and customer texts format dates, times and counts exactly as Babel would."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_decimal

from cli import locales
from functions.notify.locale_data import LOCALES
from functions.notify.texts import SUPPORTED_LANGUAGES, Messages

COUNTS = [*range(-1100, 2101), 9_999, 10_000, 123_456, 999_999, 1_000_000, 1_000_001, 2_000_000, -1_000_000,
          1_234_567_890, 10**12]
DAYS = [date(2025, month, day) for month in range(1, 13) for day in (1, 9, 28)] + [date(1999, 12, 31), date(2100, 2, 28)]
MOMENTS = [datetime(2025, 3, 12, hour, minute, tzinfo=UTC) for hour in range(24) for minute in (0, 5, 59)]


def test_the_committed_module_is_the_generators_output():
    assert locales.MODULE.read_text(encoding="utf-8") == locales.generate(), "run: python -m cli.locales --write"


def test_every_supported_language_has_its_locale_data():
    assert locales.languages() == sorted(SUPPORTED_LANGUAGES)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_plural_forms_and_counts_are_babels(language):
    locale, messages = Locale.parse(language), Messages(language)
    for count in COUNTS:
        assert LOCALES[language]["plural"](count) == locale.plural_form(count), count
        assert messages.number(count) == format_decimal(count, locale=locale), count


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_long_dates_are_babels(language):
    locale, messages = Locale.parse(language), Messages(language)
    for day in DAYS:
        assert messages.date(day) == format_date(day, "long", locale=locale), day


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_moments_are_babels(language):
    locale, messages = Locale.parse(language), Messages(language)
    paris = timezone(timedelta(hours=1))
    for moment in [*MOMENTS, datetime(2025, 7, 1, 0, 30, tzinfo=paris), datetime(2025, 12, 31, 23, 59)]:
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        time = format_time(utc, "short", tzinfo=UTC, locale=locale)
        zone = format_time(utc, "z", tzinfo=UTC, locale=locale)
        pattern = get_datetime_format("long", locale=locale).replace("'", "")
        expected = pattern.replace("{1}", format_date(utc.date(), "long", locale=locale)).replace("{0}", f"{time} {zone}")
        assert messages.moment(moment) == expected, moment


def test_the_plural_rules_compile_to_whole_number_tests():
    source = locales.plural_function("fr")
    assert "if n != 0 and n % 1000000 == 0:\n        return 'many'" in source
    assert "if n == 0 or n == 1:\n        return 'one'" in source
