import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from markupsafe import escape
from pydantic import ValidationError

from functions.notify.brand import DEFAULT_ACCENT, Brand
from functions.notify.milestones import Milestone
from functions.notify.rendering import (
    CancellationEmailContext,
    MilestoneEmailContext,
    money,
    render_cancellation_email,
    render_milestone_email,
)
from functions.notify.texts import COUNTRY_LANGUAGES, SUPPORTED_LANGUAGES, catalogue, choose_language
from shared.merchants import model as merchants
from shared.shipments.statuses import TrackingStatus
from shared.values.money import CURRENT

LANGUAGES = ["en", "fr", "de", "nl", "es"]
PLACEHOLDER = re.compile(r"\{(\w*)\}")
LEFTOVER = re.compile(r"\{\{|\{%|\{\w*\}")
TRACKING_URL = "https://track.example.com/track/JJD0001"


def brand(**overrides):
    return Brand(**{"name": "Maison Lune", "logo_url": None, "color": "#0a7d5a", **overrides})


def milestone_context(**overrides):
    values = {
        "brand": brand(),
        "carrier": "DHL Express",
        "parcel_count": 2,
        "tracking_url": TRACKING_URL,
        "tracking_number": "JJD0001",
        "recipient_first_name": "Zoé",
        "occurred_at": datetime(2025, 3, 12, 14, 5, tzinfo=UTC),
        "estimated_delivery": date(2025, 3, 14),
    }
    return MilestoneEmailContext(**{**values, **overrides})


def cancellation_context(**overrides):
    values = {
        "brand": brand(),
        "order_number": "#1001",
        "reason": "Out of stock",
        "refund_total": Decimal("1234.50"),
        "currency": "EUR",
        "recipient_first_name": "Zoé",
        "cancelled_at": datetime(2025, 3, 12, 9, 0, tzinfo=UTC),
    }
    return CancellationEmailContext(**{**values, **overrides})


# --- the catalogues -------------------------------------------------------------------------


def test_supported_languages_are_the_catalogues_and_the_settings_list():
    assert sorted(SUPPORTED_LANGUAGES) == sorted(LANGUAGES)
    assert sorted(merchants.SUPPORTED_LANGUAGES) == sorted(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_english_key_is_translated_with_the_same_placeholders(language):
    english, translated = catalogue("en"), catalogue(language)
    assert set(translated) == set(english)
    for key, text in translated.items():
        assert isinstance(text, str) and text.strip(), key
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), key
        assert all(name for name in PLACEHOLDER.findall(text)), key


def test_the_catalogue_covers_every_milestone_and_status():
    english = catalogue("en")
    for milestone in Milestone:
        for part in ("subject", "heading", "body"):
            assert f"email.{milestone}.{part}" in english
    for status in TrackingStatus:
        assert f"status.{status}" in english
    assert {"parcels.one", "parcels.other"} <= set(english)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_are_not_english_copies(language):
    if language == "en":
        return
    english, translated = catalogue("en"), catalogue(language)
    # Every text a customer reads, in an email or on the tracking page (its progress bar, its
    # parcels); `label_value` is punctuation only.
    copied = [key for key in english if key != "label_value" and english[key] == translated[key]]
    assert copied == []


PAGE_KEYS = ["progress.label", "progress.done", "progress.current", "progress.upcoming", "parcels.delivered_of",
             "page.parcels", "page.this_parcel", "page.track_with"]


@pytest.mark.parametrize("key", PAGE_KEYS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_tracking_pages_texts_are_in_every_language(language, key):
    text = catalogue(language)[key].format(delivered="2", count="3", carrier="DHL")
    assert text.strip() and LEFTOVER.search(text) is None


# --- milestone emails -----------------------------------------------------------------------


@pytest.mark.parametrize("milestone", list(Milestone))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_renders_every_milestone(language, milestone):
    email = render_milestone_email(milestone, language, milestone_context())
    texts = catalogue(language)

    assert email.language == language
    assert email.subject == texts[f"email.{milestone}.subject"].replace("{brand}", "Maison Lune")
    parcels = texts["parcels.other"].replace("{count}", "2")
    heading = texts[f"email.{milestone}.heading"]
    body = texts[f"email.{milestone}.body"].format(brand="Maison Lune", carrier="DHL Express", parcels=parcels)
    for part, shown in ((email.text, str), (email.html, escape)):
        assert shown(heading) in part
        assert shown(body) in part
        assert "Maison Lune" in part
        assert "DHL Express" in part
        assert "JJD0001" in part
        assert TRACKING_URL in part
        assert parcels in part
        assert LEFTOVER.search(part) is None
    assert LEFTOVER.search(email.subject) is None
    assert f'href="{TRACKING_URL}"' in email.html
    assert f'<html lang="{language}">' in email.html


@pytest.mark.parametrize(
    ("language", "estimated", "updated"),
    [
        ("en", "March 14, 2025", "March 12, 2025, 2:05\u202fPM UTC"),
        ("fr", "14 mars 2025", "12 mars 2025, 14:05 TU"),
        ("de", "14. März 2025", "12. März 2025, 14:05 UTC"),
        ("nl", "14 maart 2025", "12 maart 2025, 14:05 UTC"),
        ("es", "14 de marzo de 2025", "12 de marzo de 2025, 14:05 UTC"),
    ],
)
def test_dates_are_written_the_way_each_language_writes_them(language, estimated, updated):
    email = render_milestone_email(Milestone.in_transit, language, milestone_context())
    assert estimated in email.text and estimated in email.html
    assert updated in email.text


def test_the_same_date_reads_differently_in_every_language():
    renders = {
        language: render_milestone_email(Milestone.delivered, language, milestone_context()).text
        for language in LANGUAGES
    }
    lines = {next(line for line in text.splitlines() if "2025" in line) for text in renders.values()}
    assert len(lines) == len(LANGUAGES)


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("en", 1, "1 parcel"),
        ("en", 3, "3 parcels"),
        ("en", 1000, "1,000 parcels"),
        ("fr", 1, "1 colis"),
        ("fr", 3, "3 colis"),
        ("de", 1, "1 Paket"),
        ("de", 3, "3 Pakete"),
        ("nl", 1, "1 pakket"),
        ("nl", 3, "3 pakketten"),
        ("es", 1, "1 paquete"),
        ("es", 3, "3 paquetes"),
        # CLDR gives French and Spanish a "many" form for millions: it falls back to "other".
        ("es", 1_000_000, "1.000.000 paquetes"),
    ],
)
def test_parcel_count_is_pluralised(language, count, expected):
    email = render_milestone_email(Milestone.ready_to_ship, language, milestone_context(parcel_count=count))
    assert f"({expected})" in email.text
    assert f"({expected})" in email.html


def test_one_parcel_is_singular_in_the_body():
    email = render_milestone_email(Milestone.in_transit, "en", milestone_context(parcel_count=1))
    assert "Your order (1 parcel) has been picked up by DHL Express" in email.text


def test_greeting_uses_the_first_name_or_none():
    named = render_milestone_email(Milestone.delivered, "fr", milestone_context())
    anonymous = render_milestone_email(Milestone.delivered, "fr", milestone_context(recipient_first_name=None))
    assert "Bonjour Zoé," in named.text
    assert "Bonjour," in anonymous.text and "Zoé" not in anonymous.text


def test_optional_dates_are_left_out_when_unknown():
    email = render_milestone_email(
        Milestone.in_transit,
        "en",
        milestone_context(occurred_at=None, estimated_delivery=None),
    )
    assert "Estimated delivery" not in email.text and "Last update" not in email.text


def test_estimated_delivery_given_as_a_carrier_datetime_is_shown_as_its_day():
    context = milestone_context(estimated_delivery="2025-03-14T18:00:00Z")
    assert context.estimated_delivery == date(2025, 3, 14)


def test_naive_event_time_is_utc():
    context = milestone_context(occurred_at=datetime(2025, 3, 12, 14, 5))
    assert context.occurred_at == datetime(2025, 3, 12, 14, 5, tzinfo=UTC)


def test_brand_name_is_escaped_in_html():
    hostile = '<script>alert("x")</script>'
    email = render_milestone_email(
        Milestone.delivered,
        "en",
        milestone_context(brand=brand(name=hostile), recipient_first_name="<b>Eve</b>", carrier="<i>DHL</i>"),
    )
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in email.html
    assert "<b>Eve</b>" not in email.html and "&lt;b&gt;Eve&lt;/b&gt;" in email.html
    assert "<i>DHL</i>" not in email.html
    # The text part is plain text: shown as typed.
    assert hostile in email.text


def test_subject_is_one_line_whatever_the_brand_name_holds():
    email = render_milestone_email(
        Milestone.delivered, "en", milestone_context(brand=brand(name="Evil\r\nBcc: x@example.com"))
    )
    assert "\n" not in email.subject and "\r" not in email.subject


def test_logo_is_shown_when_the_brand_has_one():
    with_logo = render_milestone_email(
        Milestone.delivered,
        "en",
        milestone_context(brand=brand(logo_url="https://cdn.example.com/logo.png")),
    )
    without_logo = render_milestone_email(Milestone.delivered, "en", milestone_context())
    assert '<img src="https://cdn.example.com/logo.png" alt="Maison Lune"' in with_logo.html
    assert "<img" not in without_logo.html


def test_a_logo_that_is_not_http_is_dropped():
    email = render_milestone_email(
        Milestone.delivered,
        "en",
        milestone_context(brand=brand(logo_url="javascript:alert(1)")),
    )
    assert "<img" not in email.html and "javascript:" not in email.html


def test_brand_colour_is_the_accent():
    email = render_milestone_email(Milestone.delivered, "en", milestone_context())
    assert "border-top:4px solid #0a7d5a" in email.html
    assert "background-color:#0a7d5a" in email.html


@pytest.mark.parametrize(
    "color",
    [
        "red",
        "#12345",
        "#0a7d5a;background:url(https://evil.example)",
        "#fff\n",
        "",
        None,
        "#ggg",
        "expression(alert(1))",
    ],
)
def test_a_colour_that_is_not_hex_falls_back_to_the_default(color):
    email = render_milestone_email(Milestone.delivered, "en", milestone_context(brand=brand(color=color)))
    assert brand(color=color).accent == DEFAULT_ACCENT
    assert f"border-top:4px solid {DEFAULT_ACCENT};" in email.html
    assert "evil.example" not in email.html and "expression(" not in email.html


@pytest.mark.parametrize(("color", "text_color"), [("#ffeb3b", "#111827"), ("#fff", "#111827"), ("#0a3d91", "#ffffff")])
def test_button_text_stays_readable_on_the_brand_colour(color, text_color):
    assert brand(color=color).on_accent == text_color


def test_tracking_url_must_be_http():
    with pytest.raises(ValidationError):
        milestone_context(tracking_url="javascript:alert(1)")


def test_at_least_one_parcel():
    with pytest.raises(ValidationError):
        milestone_context(parcel_count=0)


def test_an_unsupported_language_is_refused():
    with pytest.raises(ValueError):
        render_milestone_email(Milestone.delivered, "it", milestone_context())


# --- cancellation emails --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "subject", "refund"),
    [
        ("en", "Your Maison Lune order #1001 has been cancelled", "€1,234.50"),
        ("fr", "Votre commande Maison Lune #1001 a été annulée", "1\u202f234,50\xa0€"),
        ("de", "Ihre Bestellung #1001 bei Maison Lune wurde storniert", "1.234,50\xa0€"),
        ("nl", "Je bestelling #1001 bij Maison Lune is geannuleerd", "€\xa01.234,50"),
        ("es", "Tu pedido #1001 de Maison Lune se ha cancelado", "1.234,50\xa0€"),
    ],
)
def test_every_language_renders_the_cancellation_email(language, subject, refund):
    email = render_cancellation_email(language, cancellation_context())
    texts = catalogue(language)

    assert email.subject == subject
    assert email.language == language
    for part, shown in ((email.text, str), (email.html, escape)):
        assert shown(texts["cancellation.heading"]) in part
        assert refund in part
        assert shown(texts["cancellation.refund_delay"]) in part
        assert "Out of stock" in part
        assert "#1001" in part
        assert LEFTOVER.search(part) is None


def test_cancellation_without_refund_or_order_number():
    email = render_cancellation_email(
        "en",
        cancellation_context(order_number=None, refund_total=None, currency=None, reason=None, cancelled_at=None),
    )
    assert email.subject == "Your Maison Lune order has been cancelled"
    assert "Maison Lune has cancelled your order." in email.text
    assert "refund" not in email.text.lower()
    assert "Reason" not in email.text
    assert LEFTOVER.search(email.text) is None and LEFTOVER.search(email.html) is None


def test_refund_is_formatted_in_its_currency_minor_units():
    email = render_cancellation_email("en", cancellation_context(refund_total=Decimal("1500"), currency="jpy"))
    assert "A refund of ¥1,500 has been issued" in email.text


def test_cancellation_reason_and_order_number_are_escaped():
    email = render_cancellation_email(
        "en", cancellation_context(reason="<img src=x onerror=alert(1)>", order_number="<b>1</b>")
    )
    assert "<img src=x" not in email.html and "&lt;img src=x onerror=alert(1)&gt;" in email.html
    assert "<b>1</b>" not in email.html


def test_a_refund_needs_a_known_currency():
    with pytest.raises(ValidationError):
        cancellation_context(currency=None)
    with pytest.raises(ValidationError):
        cancellation_context(currency="EURO")


# --- language chain -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recipient", "country", "default", "expected"),
    [
        ("fr", "US", "en", "fr"),
        ("fr-CA", "US", "en", "fr"),
        ("FR", None, "de", "fr"),
        ("es_MX", "US", "en", "es"),
        ("de-AT", "FR", "en", "de"),
        (" NL ", "ES", "en", "nl"),
        ("pt-BR", "ES", "de", "es"),
        ("pt-BR", "BR", "de", "de"),
        ("zh-Hant-TW", "DE", "en", "de"),
        (None, "FR", "en", "fr"),
        (None, "BE", "en", "nl"),
        (None, "LU", "en", "fr"),
        (None, "MC", "en", "fr"),
        (None, "ch", "en", "de"),
        (None, "AT", "fr", "de"),
        (None, "DE", "fr", "de"),
        (None, "NL", "en", "nl"),
        (None, "ES", "en", "es"),
        (None, "MX", "en", "es"),
        (None, "AR", "en", "es"),
        (None, "CO", "en", "es"),
        (None, "CL", "en", "es"),
        (None, "PE", "en", "es"),
        (None, "GB", "fr", "en"),
        (None, "US", "fr", "en"),
        (None, "IE", "fr", "en"),
        (None, "CA", "fr", "en"),
        (None, "AU", "fr", "en"),
        (None, "NZ", "fr", "en"),
        (None, "JP", "fr", "fr"),
        (None, "JP", "fr-BE", "fr"),
        (None, None, "nl", "nl"),
        (None, "JP", "ja", "en"),
        ("", "", "xx", "en"),
        ("not a tag!", "ZZ", "", "en"),
    ],
)
def test_choose_language(recipient, country, default, expected):
    assert choose_language(recipient, country, default) == expected


def test_every_country_maps_to_a_supported_language():
    assert set(COUNTRY_LANGUAGES.values()) <= set(SUPPORTED_LANGUAGES)
    assert all(len(code) == 2 and code.isupper() for code in COUNTRY_LANGUAGES)


# --- amounts in their currency's ISO 4217 minor units ---------------------------------------


@pytest.mark.parametrize(
    ("language", "iqd", "rsd"),
    [
        ("en", "IQD12.345", "RSD1,500.50"),
        ("fr", "12,345\xa0IQD", "1\u202f500,50\xa0RSD"),
        ("de", "12,345\xa0IQD", "1.500,50\xa0RSD"),
        ("nl", "IQD\xa012,345", "RSD\xa01.500,50"),
        ("es", "12,345\xa0IQD", "1.500,50\xa0RSD"),
    ],
)
def test_amounts_are_written_with_their_currencys_minor_units_the_languages_way(language, iqd, rsd):
    assert money(Decimal("12.345"), "IQD", language) == iqd
    assert money(Decimal("1500.50"), "RSD", language) == rsd
    email = render_cancellation_email(language, cancellation_context(refund_total=Decimal("12.345"), currency="IQD"))
    assert iqd in email.text and iqd in email.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_current_currency_shows_exactly_its_minor_units(language):
    decimal_sign = {"en": "."}.get(language, ",")
    for currency, units in CURRENT.items():
        written = money(Decimal("1.5"), currency, language)
        digits = re.search(r"\d[\d.,\u202f\xa0]*\d|\d", written).group()
        fraction = digits.rpartition(decimal_sign)[2] if units else ""
        assert len(fraction) == units and (units == 0) == (decimal_sign not in digits), (currency, written)


def test_a_refund_in_a_withdrawn_currency_of_a_recorded_order_is_still_written():
    email = render_cancellation_email("en", cancellation_context(refund_total=Decimal("10"), currency="BGN"))
    assert "BGN10.00" in email.text
