import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from functions.notify.brand import DEFAULT_ACCENT
from functions.notify.texts import catalogue
from functions.tracking.page import (
    MILESTONE_OF,
    ParcelLine,
    TrackingPage,
    TrackingPageView,
    accepted_languages,
    choose_page_language,
    render_tracking_page,
)
from shared.shipments.statuses import TrackingStatus

LANGUAGES = ["en", "fr", "de", "nl", "es"]
LEFTOVER = re.compile(r"\{\{|\{%|\{\w*\}")
VOID_TAGS = {"meta", "img", "br", "link", "input", "hr"}


class Page(HTMLParser):
    """Text of the elements carrying an id or a class, as a browser test would see them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.by_class: dict[str, list[str]] = {}
        self.attributes: dict[str, dict[str, str | None]] = {}
        self._open: list[tuple[str, str | None, list[str], list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            return
        attributes = dict(attrs)
        element_id = attributes.get("id")
        if element_id:
            self.attributes[element_id] = attributes
        self._open.append((tag, element_id, (attributes.get("class") or "").split(), []))

    def handle_endtag(self, tag):
        opened, element_id, classes, chunks = self._open.pop()
        assert opened == tag, f"<{opened}> closed by </{tag}>"
        text = " ".join("".join(chunks).split())
        if element_id:
            self.by_id[element_id] = text
        for name in classes:
            self.by_class.setdefault(name, []).append(text)

    def handle_data(self, data):
        for _, _, _, chunks in self._open:
            chunks.append(data)


def view(**overrides):
    values = {
        "tracking_number": "JJD0001",
        "carrier": "dhl",
        "carrier_name": "DHL Express",
        "carrier_url": None,
        "status": "out_for_delivery",
        "shipment_status": "in_transit",
        "parcel_count": 3,
        "estimated_delivery": "2025-03-14",
        "events": [
            {
                "status": "in_transit",
                "occurred_at": "2025-03-11T08:00:00Z",
                "location": "Lyon, FR",
                "description": "In transit",
            },
            {
                "status": "out_for_delivery",
                "occurred_at": "2025-03-13T07:30:00Z",
                "location": "Paris, FR",
                "description": "Out for delivery",
            },
            {"status": "pre_transit", "occurred_at": "2025-03-10T17:00:00", "location": None, "description": "Label created"},
        ],
        "merchant": {"name": "Maison Lune", "logo_url": None, "color": "#0a7d5a"},
        "language": "en",
    }
    return TrackingPageView.model_validate({**values, **overrides})


def render(language="en", zone=UTC, parcels=(), **overrides):
    html = render_tracking_page(TrackingPage(view=view(language=language, **overrides), zone=zone, parcels=parcels))
    return html, Page(html)


THREE_PARCELS = (ParcelLine("JJD0001", TrackingStatus.out_for_delivery, "https://dhl.example/1", None, True),
                 ParcelLine("JJD0002", TrackingStatus.delivered, "https://dhl.example/2",
                            "https://api.colis.test/track/maison-lune/JJD0002"),
                 ParcelLine("JJD0003", TrackingStatus.delivered, None, "https://api.colis.test/track/maison-lune/JJD0003"))


def test_view_mirrors_the_public_tracking_json():
    assert set(TrackingPageView.model_fields) == {
        "tracking_number",
        "carrier",
        "carrier_name",
        "carrier_url",
        "status",
        "shipment_status",
        "parcel_count",
        "estimated_delivery",
        "events",
        "merchant",
        "language",
    }
    dumped = view().model_dump(mode="json")
    assert set(dumped["merchant"]) == {"name", "logo_url", "color", "support_email", "support_url"}
    assert set(dumped["events"][0]) == {"status", "occurred_at", "location", "description"}
    assert dumped["estimated_delivery"] == "2025-03-14"


@pytest.mark.parametrize("status", list(TrackingStatus))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_status_has_a_label_in_every_language(language, status):
    html, page = render(
        language,
        status=status.value,
        shipment_status=status.value,
        events=[{"status": status.value, "occurred_at": "2025-03-13T07:30:00Z",
                 "description": catalogue(language)[f"status.{status}"]}],
    )
    label = catalogue(language)[f"status.{status}"]
    assert page.by_id["status"] == label
    assert page.by_class["event-status"] == [label]
    assert page.attributes["status"]["data-status"] == status.value
    assert LEFTOVER.search(html) is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_page_shows_one_headline_carrier_count_and_estimate(language):
    html, page = render(language)
    texts = catalogue(language)
    assert f'<html lang="{language}">' in html
    assert page.by_id["status"] == texts["status.out_for_delivery"]
    assert "shipment-status" not in page.by_id and "parcels" not in page.by_id  # one parcel: one headline
    assert page.by_id["carrier"] == "DHL Express"
    assert page.by_id["parcel-count"] == texts["parcels.other"].replace("{count}", "3")
    assert page.by_id["tracking-number"] == "JJD0001"
    assert '<time datetime="2025-03-14">' in html
    assert len(page.by_class["event"]) == 3
    assert LEFTOVER.search(html) is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_multi_parcel_page_sums_the_shipment_up_and_lists_each_parcel(language):
    html, page = render(language, parcels=THREE_PARCELS)
    texts = catalogue(language)
    assert page.by_id["status"] == texts["status.out_for_delivery"]  # this parcel's headline
    assert page.by_id["shipment-status"] == texts["parcels.delivered_of"].format(delivered="2", count="3")
    assert page.by_class["parcel-status"] == [texts["status.out_for_delivery"], texts["status.delivered"],
                                              texts["status.delivered"]]
    assert page.by_class["parcel-number"] == ["JJD0001", "JJD0002", "JJD0003"]
    # each other parcel links to its own page, and to the carrier's when there is a link
    assert 'href="https://api.colis.test/track/maison-lune/JJD0002">JJD0002</a>' in html
    assert 'href="https://api.colis.test/track/maison-lune/JJD0003">JJD0003</a>' in html
    carrier_links = page.by_class["parcel-carrier"]
    track_with = texts["page.track_with"].format(carrier="DHL Express")
    assert carrier_links == [f"{track_with} JJD0001", f"{track_with} JJD0002"]
    assert 'href="https://dhl.example/1"' in html and 'href="https://dhl.example/2"' in html
    assert html.count('aria-current="page"') == 1 and texts["page.this_parcel"] in page.by_id["parcels"]
    assert LEFTOVER.search(html) is None


@pytest.mark.parametrize(("status", "states", "note"), [
    ("pre_transit", ["current", "upcoming", "upcoming", "upcoming"], None),
    ("unknown", ["current", "upcoming", "upcoming", "upcoming"], "unknown"),
    ("in_transit", ["done", "current", "upcoming", "upcoming"], None),
    ("delayed", ["done", "current", "upcoming", "upcoming"], "delayed"),
    ("exception", ["done", "current", "upcoming", "upcoming"], "exception"),
    ("returned_to_sender", ["done", "current", "upcoming", "upcoming"], "returned_to_sender"),
    ("out_for_delivery", ["done", "done", "current", "upcoming"], None),
    ("failed_attempt", ["done", "done", "current", "upcoming"], "failed_attempt"),
    ("available_for_pickup", ["done", "done", "current", "upcoming"], None),
    ("delivered", ["done", "done", "done", "done"], None),
    ("cancelled", ["current", "upcoming", "upcoming", "upcoming"], "cancelled"),
])
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_progress_bar_shows_each_state_in_words_not_colour_alone(language, status, states, note):
    html, page = render(language, status=status)
    texts = catalogue(language)
    steps = page.by_class["step"]
    assert len(steps) == 4
    pickup = status == "available_for_pickup"
    labels = [texts["status.pre_transit"], texts["status.in_transit"],
              texts["status.available_for_pickup" if pickup else "status.out_for_delivery"], texts["status.delivered"]]
    assert page.by_class["step-label"] == labels
    # every step says its state in words (screen readers), and the current one is marked as such
    for step, label, state in zip(steps, labels, states, strict=True):
        assert label in step and f"({texts[f'progress.{state}']})" in step
    assert html.count('aria-current="step"') == states.count("current")
    assert page.attributes["progress"]["aria-label"] == texts["progress.label"]
    assert page.by_class.get("step-note", []) == ([texts[f"status.{note}"]] if note else [])
    assert page.by_class.get("step-alert", []) == ([step for step in steps if texts[f"status.{note}"] in step]
                                                   if note else [])


def test_every_status_stands_on_a_milestone():
    assert set(MILESTONE_OF) == set(TrackingStatus)


@pytest.mark.parametrize(
    ("language", "estimated", "newest_time"),
    [
        # The parser folds whitespace, Babel's narrow no-break space before AM included.
        ("en", "March 14, 2025", "March 13, 2025, 7:30 AM UTC"),
        ("fr", "14 mars 2025", "13 mars 2025, 07:30 UTC"),
        ("de", "14. März 2025", "13. März 2025, 07:30 UTC"),
        ("nl", "14 maart 2025", "13 maart 2025, 07:30 UTC"),
        ("es", "14 de marzo de 2025", "13 de marzo de 2025, 7:30 UTC"),
    ],
)
def test_dates_follow_the_page_language(language, estimated, newest_time):
    _, page = render(language)
    assert page.by_id["estimated-delivery"] == estimated
    assert page.by_class["event-time"][0] == newest_time


@pytest.mark.parametrize(("zone", "iso", "text"), [
    ("Europe/Paris", "2025-03-13T08:30:00+01:00", "March 13, 2025, 8:30 AM UTC+1"),
    ("America/Los_Angeles", "2025-03-13T00:30:00-07:00", "March 13, 2025, 12:30 AM UTC-7"),  # DST since 9 March
    ("Australia/Adelaide", "2025-03-13T18:00:00+10:30", "March 13, 2025, 6:00 PM UTC+10:30"),
])
def test_event_times_are_the_destinations_with_their_offset(zone, iso, text):
    html, page = render(zone=ZoneInfo(zone))
    assert f'<time class="event-time" datetime="{iso}">' in html
    assert page.by_class["event-time"][0] == text


def test_events_are_newest_first():
    html, page = render()
    assert page.by_class["event-status"] == ["Out for delivery", "In transit", "Label created"]
    assert page.by_class["event-location"] == ["Paris, FR", "Lyon, FR"]
    assert "event-message" not in page.by_class  # no field, no element: a carrier's free text has no place
    assert 'datetime="2025-03-10T17:00:00+00:00"' in html


def test_page_without_events_or_estimate():
    _, page = render(events=[], estimated_delivery=None)
    assert "event" not in page.by_class
    assert "estimated-delivery" not in page.by_id
    assert page.by_class["no-events"] == ["No tracking updates yet."]


def test_carrier_estimate_given_as_datetime_is_its_day():
    assert (
        view(estimated_delivery=datetime(2025, 3, 14, 23, 0, tzinfo=UTC)).estimated_delivery.isoformat() == "2025-03-14"
    )


def test_merchant_and_carrier_texts_are_escaped():
    html, page = render(
        merchant={"name": "<script>alert(1)</script>", "logo_url": None, "color": None},
        events=[
            {
                "status": "delayed",
                "occurred_at": "2025-03-13T07:30:00Z",
                "location": "<b>Lyon</b>",
                "description": "<img src=x onerror=alert(1)>",
            }
        ],
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>Lyon</b>" not in html
    assert page.by_class["event-status"] == ["<img src=x onerror=alert(1)>"]


@pytest.mark.parametrize(
    "color", ["red;}</style><script>alert(1)</script>", "#0a7d5a;}body{display:none", "#abcd", "#fff\n", None]
)
def test_a_colour_that_is_not_hex_cannot_reach_the_css(color):
    html, _ = render(merchant={"name": "Maison Lune", "logo_url": None, "color": color})
    assert f"--accent: {DEFAULT_ACCENT};" in html
    assert "<script>" not in html and "display:none" not in html


@pytest.mark.parametrize("color", ["#0a7d5a", "#F0A"])
def test_brand_colour_is_the_accent(color):
    html, _ = render(merchant={"name": "Maison Lune", "logo_url": None, "color": color})
    assert f"--accent: {color};" in html


def test_logo_replaces_the_name_in_the_header():
    html, page = render(merchant={"name": "Maison Lune", "logo_url": "https://cdn.example.com/l.png", "color": None})
    assert '<img src="https://cdn.example.com/l.png" alt="Maison Lune">' in html
    assert "brand-name" not in page.by_class


def test_a_logo_that_is_not_http_is_dropped():
    html, page = render(merchant={"name": "Maison Lune", "logo_url": "javascript:alert(1)", "color": None})
    assert "javascript:" not in html
    assert page.by_class["brand-name"] == ["Maison Lune"]


@pytest.mark.parametrize(
    ("lang_query", "accept_language", "fallback", "expected"),
    [
        ("de", "fr", "en", "de"),
        ("DE-at", None, "en", "de"),
        ("pt", "fr;q=0.9, nl;q=0.95", "en", "nl"),
        (None, "da, en-GB;q=0.8, en;q=0.7", "fr", "en"),
        (None, "fr;q=0, de;q=0.5", "en", "de"),
        (None, "en;q=0.5, fr;q=0.5", "de", "en"),
        (None, "es-419;q=0.8,de-DE", "en", "de"),
        (None, "fr;q=abc, nl", "en", "nl"),
        (None, "es;q=1.5, de", "en", "de"),
        (None, "*", "es", "es"),
        (None, "", "fr", "fr"),
        ("", "   ", "nl-BE", "nl"),
        ("xx", "ja, zh;q=0.9", "fr", "fr"),
        (None, "ja", "zz", "en"),
    ],
)
def test_choose_page_language(lang_query, accept_language, fallback, expected):
    assert choose_page_language(lang_query, accept_language, fallback) == expected


def test_accepted_languages_orders_by_weight_then_header_order():
    header = "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5, it;q=0, nl;Q=0.8"
    assert accepted_languages(header) == ["fr-CH", "fr", "en", "nl", "de"]
