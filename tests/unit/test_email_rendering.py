import html
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from markupsafe import escape
from pydantic import ValidationError

from functions.notify.brand import DEFAULT_ACCENT, Brand, contrast
from functions.notify.milestones import Milestone
from functions.notify.rendering import (
    CancellationEmailContext,
    MilestoneEmailContext,
    ParcelLink,
    SupportContact,
    money,
    render_cancellation_email,
    render_milestone_email,
)
from functions.notify.texts import COUNTRY_LANGUAGES, SUPPORTED_LANGUAGES, Messages, catalogue, choose_language
from shared.merchants import model as merchants
from shared.shipments.model import MAX_PARCELS
from shared.shipments.statuses import TrackingStatus
from shared.values.money import CURRENT

LANGUAGES = ["en", "fr", "de", "nl", "es"]
PLACEHOLDER = re.compile(r"\{(\w*)\}")
LEFTOVER = re.compile(r"\{\{|\{%|\{\w*\}")
TRACKING_URL = "https://track.example.com/track/maison-lune/JJD0001"
SECOND_URL = "https://track.example.com/track/maison-lune/JJD0002"


def parcels(count=2):
    return [ParcelLink(tracking_number=f"JJD{index:04d}", url=f"https://track.example.com/track/maison-lune/JJD{index:04d}")
            for index in range(1, count + 1)]


def brand(**overrides):
    return Brand(**{"name": "Maison Lune", "logo_url": None, "color": "#0a7d5a", **overrides})


def milestone_context(**overrides):
    values = {
        "brand": brand(),
        "carrier": "DHL Express",
        "parcels": parcels(),
        "tracking_url": TRACKING_URL,
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
        ("en", "March 14, 2025", "March 12, 2025, 3:05\u202fPM UTC+1"),
        ("fr", "14 mars 2025", "12 mars 2025, 15:05 UTC+1"),
        ("de", "14. März 2025", "12. März 2025, 15:05 UTC+1"),
        ("nl", "14 maart 2025", "12 maart 2025, 15:05 UTC+1"),
        ("es", "14 de marzo de 2025", "12 de marzo de 2025, 15:05 UTC+1"),
    ],
)
def test_dates_are_written_the_way_each_language_writes_them(language, estimated, updated):
    email = render_milestone_email(Milestone.in_transit, language, milestone_context(time_zone="Europe/Paris"))
    assert estimated in email.text and estimated in email.html
    assert updated in email.text


@pytest.mark.parametrize(
    ("time_zone", "updated"),
    [("UTC", "March 12, 2025, 2:05\u202fPM UTC"), ("America/St_Johns", "March 12, 2025, 11:35\u202fAM UTC-2:30"),
     ("Asia/Tokyo", "March 12, 2025, 11:05\u202fPM UTC+9"), ("Pacific/Kiritimati", "March 13, 2025, 4:05\u202fAM UTC+14"),
     ("Not/A_Zone", "March 12, 2025, 2:05\u202fPM UTC")],
)
def test_the_last_update_is_on_the_destinations_clock_with_its_offset(time_zone, updated):
    email = render_milestone_email(Milestone.delayed, "en", milestone_context(time_zone=time_zone))
    assert f"Last update: {updated}" in email.text and updated in email.html


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
    assert Messages(language).plural("parcels", count) == expected
    if count > MAX_PARCELS:
        return
    email = render_milestone_email(Milestone.ready_to_ship, language, milestone_context(parcels=parcels(count)))
    assert f"({expected})" in email.text
    assert f"({expected})" in email.html


def test_one_parcel_is_singular_in_the_body():
    email = render_milestone_email(Milestone.in_transit, "en", milestone_context(parcels=parcels(1)))
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
        milestone_context(parcels=[])


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


# --- every parcel, the order, the shop's contact (issue 17) ---------------------------------

SUPPORT = SupportContact(email="help@maison-lune.example", url="https://maison-lune.example/help")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_parcel_is_listed_with_the_link_to_its_page(language):
    email = render_milestone_email(Milestone.in_transit, language, milestone_context(parcels=parcels(3)))
    texts = catalogue(language)
    for index in (1, 2, 3):
        number, url = f"JJD{index:04d}", f"https://track.example.com/track/maison-lune/JJD{index:04d}"
        label = texts["label.parcel"].format(index=index, count=3)
        assert f'<a href="{url}"' in email.html and f">{number}</a>" in email.html
        assert f"{escape(label)}</th>" in email.html
        assert f"{texts['label_value'].format(label=label, value=number)}\n{url}\n" in email.text


def test_a_single_parcel_is_its_tracking_number():
    email = render_milestone_email(Milestone.delivered, "en", milestone_context(parcels=parcels(1)))
    assert f"Tracking number: JJD0001\n{TRACKING_URL}\n" in email.text
    assert "Parcel 1 of 1" not in email.text


def test_the_button_opens_the_page_of_the_parcel_the_event_is_about():
    email = render_milestone_email(Milestone.delayed, "en", milestone_context(tracking_url=SECOND_URL))
    assert f'class="track" href="{SECOND_URL}"' in email.html
    assert f"Track your order: {SECOND_URL}" in email.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_order_number_is_shown_when_the_shipment_fulfils_an_order(language):
    label = catalogue(language)["label.order_number"]
    linked = render_milestone_email(Milestone.ready_to_ship, language, milestone_context(order_number="#1001"))
    unlinked = render_milestone_email(Milestone.ready_to_ship, language, milestone_context())
    assert catalogue(language)["label_value"].format(label=label, value="#1001") in linked.text
    assert f"{escape(label)}</th>" in linked.html and "#1001" in linked.html
    assert label not in unlinked.text and "#1001" not in unlinked.html


def _every_email(language, support=SUPPORT):
    for milestone in Milestone:
        yield render_milestone_email(milestone, language, milestone_context(support=support))
    yield render_cancellation_email(language, cancellation_context(support=support))
    yield render_cancellation_email(language, cancellation_context(support=support, refund_total=None, currency=None,
                                                                   cancelled_at=None, reason=None))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_email_gives_the_shops_support_contact_in_both_parts(language):
    texts = catalogue(language)
    heading = texts["email.support.heading"].format(brand="Maison Lune")
    for email in _every_email(language):
        assert heading in email.text and escape(heading) in email.html
        assert texts["label_value"].format(label=texts["email.support.email"], value=SUPPORT.email) in email.text
        assert texts["label_value"].format(label=texts["email.support.url"], value=SUPPORT.url) in email.text
        assert f'href="mailto:{SUPPORT.email}"' in email.html
        assert f'href="{SUPPORT.url}"' in email.html
        assert email.reply_to == SUPPORT.email


def test_a_cancellation_no_longer_ends_with_contact_the_shop_when_there_is_a_contact():
    email = render_cancellation_email("en", cancellation_context(support=SupportContact(url=SUPPORT.url)))
    assert "please contact Maison Lune." not in email.text
    assert email.text.index("Questions about your order? Contact Maison Lune:") < email.text.index("--\n")
    assert f"Help centre: {SUPPORT.url}" in email.text
    assert email.reply_to is None


def test_without_any_contact_a_cancellation_still_says_who_to_ask():
    email = render_cancellation_email("en", cancellation_context())
    assert "If you have any questions about this cancellation, please contact Maison Lune." in email.text
    assert "mailto:" not in email.html and email.reply_to is None
    milestone = render_milestone_email(Milestone.delivered, "en", milestone_context())
    assert "Questions about your order?" not in milestone.text


@pytest.mark.parametrize("contact", [{"email": "not an address"}, {"url": "javascript:alert(1)"}, {"url": "ftp://x.example"}])
def test_a_contact_that_is_not_an_address_or_a_web_link_is_refused(contact):
    with pytest.raises(ValidationError):
        SupportContact(**contact)


def test_support_contact_is_escaped_in_html():
    email = render_cancellation_email(
        "en", cancellation_context(support=SupportContact(email='a"<b>@x.example', url="https://x.example/?a=1&b=<2>")))
    assert "<b>" not in email.html and "&lt;b&gt;" in email.html
    assert 'href="https://x.example/?a=1&amp;b=&lt;2&gt;"' in email.html


HREF = re.compile(r'href="([^"]+)"')


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__()
        self.texts, self._in_body = [], False

    def handle_starttag(self, tag, attrs):
        self._in_body = self._in_body or tag == "body"

    def handle_data(self, data):
        if self._in_body and data.strip():
            self.texts.append(data.strip())


def visible_texts(page):
    """Every piece of text a reader sees in the HTML part (its body's text nodes)."""
    parser = _Visible()
    parser.feed(page)
    return parser.texts


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_text_part_says_what_the_html_part_says(language):
    for email in _every_email(language):
        links = {html.unescape(link) for link in HREF.findall(email.html)}
        for link in links:
            assert link.removeprefix("mailto:") in email.text, link
        for number in ("JJD0001", "JJD0002"):
            assert (number in email.html) == (number in email.text)
        # Only the hint under the button is the HTML part's own: the text part has no button.
        button_hint = catalogue(language)["email.link_hint"]
        for shown in visible_texts(email.html):
            assert shown in email.text or shown == button_hint, shown


# --- every new string, in every language ------------------------------------------------------

NEW_KEYS = [
    "label.order_number", "label.parcel", "email.support.heading", "email.support.email", "email.support.url",
    "email.out_for_delivery.subject", "email.out_for_delivery.heading", "email.out_for_delivery.body",
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", NEW_KEYS)
def test_every_new_string_is_translated_and_shown(language, key):
    texts = catalogue(language)
    assert texts[key].strip() and (language == "en" or texts[key] != catalogue("en")[key])
    filled = texts[key].format_map({"brand": "Maison Lune", "carrier": "DHL Express", "index": 1, "count": 2,
                                    "parcels": texts["parcels.other"].format(count=2)})
    shown = [email for email in _every_email(language)]
    shown.append(render_milestone_email(Milestone.out_for_delivery, language, milestone_context(order_number="#1")))
    assert any(filled in email.text or filled == email.subject for email in shown), key
    assert any(escape(filled) in email.html or filled == email.subject for email in shown), key


# --- colours: every text at least 4.5:1 whatever the brand colour (WCAG AA) -----------------

BRAND_COLOURS = [
    "#ffffff", "#fff", "#fffde7", "#ffff99", "#ffeb3b", "#fff176", "#f5f5dc", "#f3f4f6", "#e5e7eb", "#cccccc",
    "#c0c0c0", "#aaaaaa", "#999999", "#888888", "#808080", "#777777", "#767676", "#757575", "#666666", "#555555",
    "#333333", "#000000", "#000", "#ff0000", "#f00", "#00ff00", "#0000ff", "#00ffff", "#ff00ff", "#ffa500",
    "#ff7f50", "#ffc0cb", "#add8e6", "#90ee90", "#e6e6fa", "#000080", "#0a3d91", "#2563eb", "#0a7d5a", "#800000",
    "#008080", "#4b0082", "#7fff00", "#40e0d0", "#d2691e", "#ABCDEF", "#123", "#fe9", "#1da1f2", "#e60023",
]


@pytest.mark.parametrize(
    ("one", "other", "ratio"),
    [("#ffffff", "#000000", 21.0), ("#000", "#000", 1.0), ("#777777", "#ffffff", 4.48), ("#767676", "#ffffff", 4.54),
     ("#ff0000", "#ffffff", 4.0), ("#0000ff", "#ffffff", 8.59), ("#ffff00", "#000000", 19.56)],
)
def test_contrast_is_the_wcag_ratio_of_relative_luminances(one, other, ratio):
    assert contrast(one, other) == pytest.approx(ratio, abs=0.01)
    assert contrast(other, one) == contrast(one, other)


@pytest.mark.parametrize("color", BRAND_COLOURS)
def test_every_text_colour_reaches_aa_on_its_background_whatever_the_brand_colour(color):
    chosen = brand(color=color)
    assert contrast(chosen.on_accent, chosen.accent) >= 4.5  # the button's label on the button
    assert contrast(chosen.accent_text, "#ffffff") >= 4.5  # the brand name and links on the white card
    email = render_milestone_email(Milestone.delivered, "en", milestone_context(brand=chosen, support=SUPPORT))
    assert f"background-color:{chosen.accent};" in email.html
    assert f"color:{chosen.on_accent};\">Track your order</a>" in email.html
    assert f'color:{chosen.accent_text};">Maison Lune</span>' in email.html
    for text_color, background in {(c, "#ffffff") for c in re.findall(r"[;\"]color:(#[0-9a-fA-F]{3,6})", email.html)
                                   if c not in (chosen.on_accent,)}:
        assert contrast(text_color, background) >= 4.5, text_color


def test_a_readable_brand_colour_is_kept_and_a_pale_one_darkened_in_its_own_hue():
    assert brand(color="#0a3d91").accent_text == "#0a3d91"
    darker = brand(color="#ffeb3b").accent_text
    red, green, blue = (int(darker[i:i + 2], 16) for i in (1, 3, 5))
    assert red > blue and green > blue  # still a yellow, only darker
    assert contrast(darker, "#ffffff") < 4.7  # just enough, not black
