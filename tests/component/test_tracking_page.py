"""`GET /track/{tracking_slug}/{tracking_number}` against moto: the parcel's page in HTML or JSON,
localised, branded, cacheable, only ever the slug's merchant's, and without any personal data or
carrier free text; the lookup form `GET /track/{tracking_slug}`; slugs and their redirects."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.account.handler import lambda_handler as account_api
from functions.notify.texts import catalogue
from functions.shipments.handler import lambda_handler as shipments_api
from functions.tracking.handler import lambda_handler as tracking_api
from functions.webhook import handler as webhook_module
from shared.errors import Refused
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from tests.apigw import ApiResponse, api_event, call
from tests.component.notify_pipeline import colis_connection, colis_delivery
from tests.factories import address, colis_event, shipment_body

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
LANGUAGES = ["en", "fr", "de", "nl", "es"]

# A recipient nobody could miss in a page: every field that identifies them is distinctive.
RECIPIENT = {"first_name": "Zébulon", "last_name": "Quennec-Marchetti", "company": "Quennec Ateliers",
             "address_1": "77 allée des Glycines", "address_2": "Bâtiment Hortensia", "city": "Lyon",
             "postal_code": "69009", "country": "FR", "phone": "+33 6 12 34 56 78",
             "email": "zebulon.quennec@example.fr", "language": "fr"}
PERSONAL = ["zébulon", "zebulon", "quennec", "marchetti", "glycines", "hortensia", "69009", "12 34 56 78",
            "612345678", "example.fr"]


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(NOW)
    webhook_module._connections.cache_clear()
    merchant_id = MerchantRepository().create("Atelier Lune SAS", "maison-lune").id
    settings(merchant_id, {"brand": {"name": "Maison Lune", "color": "#0a7d5a"}, "default_language": "de"})
    return merchant_id


@pytest.fixture
def connection(merchant: str) -> tuple[str, str]:
    return colis_connection(merchant)


def settings(merchant_id: str, patch: dict[str, Any]) -> None:
    assert call(account_api, api_event("PATCH", "/v1/settings", body=patch, merchant_id=merchant_id)).status == 200


def new_shipment(merchant_id: str, parcels: int = 1, numbers: list[str] | None = None,
                 **recipient: Any) -> dict[str, Any]:
    body = shipment_body(parcels=parcels, recipient=address(**recipient), carrier="Colissimo")
    for parcel, number in zip(body["parcels"], numbers or [], strict=False):
        parcel["tracking_number"] = number
    response = call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant_id))
    assert response.status == 201, response.body
    return response.json()


def scan(connection: tuple[str, str], number: str, status: str, minutes: int, **extra: Any) -> None:
    payload = colis_event(number, status, NOW + timedelta(minutes=minutes), **extra)
    assert colis_delivery(connection, payload).status == 200


def track(number: str, *, accept: str | None = None, accept_language: str | None = None,
          lang: str | None = None, slug: str = "maison-lune") -> ApiResponse:
    headers = {name: value for name, value in (("Accept", accept), ("Accept-Language", accept_language)) if value}
    event = api_event("GET", "/track/{tracking_slug}/{tracking_number}",
                      path_params={"tracking_slug": slug, "tracking_number": number}, headers=headers,
                      query={"lang": lang} if lang else None)
    event["requestContext"]["authorizer"] = None  # a public route: no API key, no merchant
    return call(tracking_api, event)


def lookup(slug: str, query: dict[str, str] | None = None) -> ApiResponse:
    event = api_event("GET", "/track/{tracking_slug}", path_params={"tracking_slug": slug}, query=query)
    event["requestContext"]["authorizer"] = None
    return call(tracking_api, event)


def track_json(number: str, **options: Any) -> dict[str, Any]:
    response = track(number, accept="application/json", **options)
    assert response.status == 200, response.body
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def visible_text(html: str) -> str:
    without_style = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", without_style).split())


# --- the page --------------------------------------------------------------------------------------
def test_json_has_exactly_the_contract_fields(merchant: str, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant, parcels=3)
    number = shipment["parcels"][1]["tracking_number"]
    scan(connection, number, "in_transit", 10, location="Quai 4, Lyon", city="Lyon", country="FR",
         message="Parcel scanned at hub", estimated_delivery="2026-05-06T18:00:00Z")
    scan(connection, number, "out_for_delivery", 90, city="Paris", region="IDF", country="FR",
         message="With the courier")

    page = track_json(number)

    assert set(page) == {"tracking_number", "carrier", "carrier_name", "carrier_url", "status", "shipment_status",
                         "parcel_count", "estimated_delivery", "events", "merchant", "language"}
    assert page["tracking_number"] == number and page["carrier"] == "Colissimo"
    assert page["carrier_name"] == "Colissimo"
    assert page["carrier_url"] == f"https://www.laposte.fr/outils/suivre-vos-envois?code={number}"
    assert page["status"] == "out_for_delivery" and page["shipment_status"] == "pre_transit"
    assert page["parcel_count"] == 3 and page["estimated_delivery"] == "2026-05-06"
    assert page["merchant"] == {"name": "Maison Lune", "logo_url": None, "color": "#0a7d5a", "support_email": None,
                                "support_url": None}
    assert page["language"] == "fr"  # the recipient's language
    texts = catalogue("fr")
    assert page["events"] == [
        {"status": "out_for_delivery", "occurred_at": "2026-05-04T13:30:00Z", "location": "Paris, IDF, FR",
         "description": texts["status.out_for_delivery"]},
        {"status": "in_transit", "occurred_at": "2026-05-04T12:10:00Z", "location": "Lyon, FR",
         "description": texts["status.in_transit"]},
    ]


@pytest.mark.parametrize(("carrier", "given_url", "name", "url"), [
    ("dhl_express", "https://track.example.com/p?n=1&x=2", "DHL Express", "https://track.example.com/p?n=1&x=2"),
    ("DHLExpress", "http://track.example.com/p", "DHL Express",
     "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={number}"),
    ("acme_freight", None, "Acme Freight", None),
])
def test_the_carrier_shows_its_name_and_a_link_to_its_page(merchant: str, carrier: str, given_url: str | None,
                                                           name: str, url: str | None) -> None:
    body = shipment_body(recipient=address(), carrier=carrier)
    if given_url:
        body["parcels"][0]["tracking_url"] = given_url
    response = call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))
    assert response.status == 201, response.body
    number = body["parcels"][0]["tracking_number"]
    expected_url = url.format(number=number) if url else None

    page = track_json(number)
    html = track(number).body

    assert (page["carrier"], page["carrier_name"], page["carrier_url"]) == (carrier, name, expected_url)
    carrier_cell = re.search(r'<dd id="carrier"[^>]*>(.*?)</dd>', html, re.S)
    assert carrier_cell is not None and visible_text(carrier_cell.group(1)) == name
    if expected_url:
        assert f'href="{expected_url.replace("&", "&amp;")}"' in carrier_cell.group(1)
    else:
        assert "href" not in carrier_cell.group(1)


def test_times_are_on_the_destinations_clock_with_its_offset(merchant: str, connection: tuple[str, str]) -> None:
    number = new_shipment(merchant, city="San Francisco", region="CA", postal_code="94103", country="US",
                          language="en")["parcels"][0]["tracking_number"]
    scan(connection, number, "in_transit", 10, city="Oakland", region="CA", country="US",
         estimated_delivery="2026-05-06T03:00:00Z")  # 8 pm on the 5th in California

    page = track_json(number)
    html = track(number).body

    assert page["events"][0]["occurred_at"] == "2026-05-04T12:10:00Z"  # the JSON keeps the instant (API.md)
    assert page["estimated_delivery"] == "2026-05-05"  # the destination's day
    assert '<time class="event-time" datetime="2026-05-04T05:10:00-07:00">' in html
    assert "May 4, 2026, 5:10\u202fAM UTC-7" in html
    assert '<time datetime="2026-05-05">May 5, 2026</time>' in html
    # A day-only estimate (midnight UTC) is that day wherever the parcel goes.
    scan(connection, number, "in_transit", 20, estimated_delivery="2026-05-07T00:00:00Z")
    assert track_json(number)["estimated_delivery"] == "2026-05-07"


def test_a_multi_parcel_page_sums_up_the_shipment_and_lists_each_parcel(
        merchant: str, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant, parcels=3, language="en")
    numbers = [parcel["tracking_number"] for parcel in shipment["parcels"]]
    scan(connection, numbers[0], "delivered", 10)
    scan(connection, numbers[1], "delivered", 20)
    scan(connection, numbers[2], "out_for_delivery", 30)

    html = track(numbers[2]).body
    text = visible_text(html)

    assert re.search(r'<p id="status" data-status="out_for_delivery">Out for delivery</p>', html)
    assert re.search(r'<dd id="shipment-status"[^>]*>2 of 3 parcels delivered</dd>', html)
    for number in numbers[:2]:  # siblings of this page, in its language
        assert f'href="{number}?lang=en">{number}</a>' in html
        sibling = track(number, lang="en")
        assert sibling.status == 200 and f'<span class="tracking-number" id="tracking-number">{number}</span>' in sibling.body
    assert text.count("Track with Colissimo") == 3
    assert html.count('aria-current="page"') == 1
    # the JSON stays the contract's: this parcel and the shipment's status, no list
    page = track_json(numbers[2])
    assert (page["status"], page["shipment_status"], page["parcel_count"]) == ("out_for_delivery", "out_for_delivery", 3)


def test_each_parcel_carries_its_public_tracking_url(merchant: str) -> None:
    shipment = new_shipment(merchant, parcels=2)
    for parcel in shipment["parcels"]:
        assert parcel["public_tracking_url"] == f"https://api.colis.test/track/maison-lune/{parcel['tracking_number']}"
    fetched = call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}",
                                            path_params={"shipment_id": shipment["id"]}, merchant_id=merchant)).json()
    assert [p["public_tracking_url"] for p in fetched["parcels"]] == [p["public_tracking_url"] for p in shipment["parcels"]]


def test_the_page_shows_only_its_own_parcels_events(merchant: str, connection: tuple[str, str]) -> None:
    first, second = (parcel["tracking_number"] for parcel in new_shipment(merchant, parcels=2)["parcels"])
    scan(connection, first, "in_transit", 10)
    scan(connection, second, "delayed", 20)

    assert [event["status"] for event in track_json(first)["events"]] == ["in_transit"]
    assert track_json(second)["status"] == "delayed" and track_json(second)["shipment_status"] == "delayed"


def test_html_is_the_default_branded_and_localised(merchant: str, connection: tuple[str, str]) -> None:
    number = new_shipment(merchant, language="es")["parcels"][0]["tracking_number"]
    scan(connection, number, "in_transit", 10, city="Madrid", country="ES")

    response = track(number, accept="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")

    assert response.status == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    texts = catalogue("es")
    text = visible_text(response.body)
    assert '<html lang="es">' in response.body and response.headers["content-language"] == "es"
    for expected in (texts["page.title"], "Maison Lune", number, texts["status.in_transit"], "Colissimo",
                     texts["page.history"], "Madrid, ES", texts["parcels.one"].format(count="1")):
        assert expected in text
    assert "--accent: #0a7d5a" in response.body


@pytest.mark.parametrize(("lang", "accept_language", "recipient_language", "expected"), [
    ("nl", "fr-FR,fr;q=0.9", "es", "nl"),  # ?lang= first
    (None, "fr-CH, de;q=0.8", "es", "fr"),  # then the browser
    (None, "ja, zh;q=0.5", "es", "es"),  # unsupported: the recipient's language
    ("xx", None, None, "fr"),  # nothing usable: the destination country (FR)
])
def test_language_is_lang_then_accept_language_then_the_email_chain(
        merchant: str, lang: str | None, accept_language: str | None, recipient_language: str | None,
        expected: str) -> None:
    number = new_shipment(merchant, language=recipient_language)["parcels"][0]["tracking_number"]
    assert track_json(number, lang=lang, accept_language=accept_language)["language"] == expected


def test_the_merchant_default_language_ends_the_chain(merchant: str) -> None:
    number = new_shipment(merchant, language=None, country="JP", postal_code="100-0001")["parcels"][0]["tracking_number"]
    assert track_json(number)["language"] == "de"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_renders_the_page_and_its_404(merchant: str, language: str) -> None:
    number = new_shipment(merchant)["parcels"][0]["tracking_number"]
    texts = catalogue(language)

    page = track(number, lang=language)
    missing = track("NOPE0000001", lang=language)

    assert texts["page.title"] in page.body and texts["status.pre_transit"] in page.body
    assert missing.status == 404 and texts["page.not_found.title"] in missing.body
    assert not re.search(r"\{\{|\{%|\{\w*\}", page.body + missing.body)


def test_settings_change_the_page_at_once(merchant: str) -> None:
    number = new_shipment(merchant)["parcels"][0]["tracking_number"]
    settings(merchant, {"brand": {"name": "Lune & Fils", "color": "#ff8800", "logo_url": "https://cdn.example.com/l.png"}})

    page = track_json(number)
    assert page["merchant"] == {"name": "Lune & Fils", "logo_url": "https://cdn.example.com/l.png", "color": "#ff8800",
                                "support_email": None, "support_url": None}
    assert 'src="https://cdn.example.com/l.png"' in track(number).body


# --- unknown numbers, caching ----------------------------------------------------------------------
def test_an_unknown_number_is_404_problem_json_or_a_small_page(merchant: str) -> None:
    as_json = track("UNKNOWN123", accept="application/json")
    as_html = track("UNKNOWN123")

    assert as_json.status == 404 and as_json.headers["content-type"] == "application/problem+json"
    assert as_json.json()["status"] == 404
    assert as_html.status == 404 and as_html.headers["content-type"] == "text/html; charset=utf-8"
    assert "UNKNOWN123" in as_html.body
    for response in (as_json, as_html):
        assert response.headers["cache-control"] == "public, max-age=10"
        assert response.headers["vary"] == "Accept, Accept-Language"


def test_a_number_no_shipment_could_have_is_404_and_escaped(merchant: str) -> None:
    response = track("<img src=x onerror=alert(1)>")
    assert response.status == 404 and "<img" not in response.body and "&lt;img src=x" in response.body


def test_answers_are_cacheable_for_a_minute_and_vary_on_accept_and_language(merchant: str) -> None:
    number = new_shipment(merchant)["parcels"][0]["tracking_number"]
    for response in (track(number), track(number, accept="application/json")):
        assert response.status == 200
        assert response.headers["cache-control"] == "public, max-age=60"
        assert response.headers["vary"] == "Accept, Accept-Language"
    html = track(number)
    assert html.headers["referrer-policy"] == "no-referrer" and "default-src 'none'" in html.headers[
        "content-security-policy"]


@pytest.mark.parametrize("action", ["archive", "delete"])
def test_archived_or_deleted_shows_the_last_carrier_status_never_the_merchants(
        merchant: str, connection: tuple[str, str], action: str) -> None:
    shipment = new_shipment(merchant)
    number = shipment["parcels"][0]["tracking_number"]
    scan(connection, number, "in_transit", 10, city="Lyon", country="FR")
    method, path = ("POST", "/v1/shipments/{shipment_id}/archive") if action == "archive" else (
        "DELETE", "/v1/shipments/{shipment_id}")
    response = call(shipments_api, api_event(method, path, path_params={"shipment_id": shipment["id"]},
                                             merchant_id=merchant))
    assert response.status == 200 and response.json()["status"] in ("archived", "deleted")

    page = track_json(number)
    html = track(number, lang="en").body

    assert (page["status"], page["shipment_status"]) == ("in_transit", "in_transit")
    texts = catalogue("en")
    assert texts["status.archived"] not in visible_text(html) and texts["status.deleted"] not in visible_text(html)
    assert re.search(r'<p id="status" data-status="in_transit">In transit</p>', html)


def test_after_redaction_and_automatic_archiving_the_page_still_reads_the_carriers_status(
        merchant: str, connection: tuple[str, str]) -> None:
    from functions.retention.actions import Repositories, archive_if_unconfirmed, redact_shipment_data

    shipment = new_shipment(merchant, **RECIPIENT)
    number = shipment["parcels"][0]["tracking_number"]
    # An EasyPost code the colis format borrows: the page describes it from EasyPost's vocabulary.
    scan(connection, number, "in_transit/arrived_at_facility", 10, city="Lyon", country="FR",
         message="Chez M. Quennec, 69009")
    before = track_json(number, lang="en")

    repositories = Repositories.default()
    later = NOW + timedelta(days=91)
    clock.use_fixed(later)
    redact_shipment_data(repositories, merchant, shipment["id"], later)
    archive_if_unconfirmed(repositories, merchant, shipment["id"], later)
    stored = repositories.shipments.get(merchant, shipment["id"])
    assert stored.redacted_at is not None and stored.status == "archived"

    after = track_json(number, lang="en")
    assert (after["status"], after["shipment_status"]) == ("in_transit", "in_transit")
    assert after["events"] == before["events"]  # the code, not the scrubbed free text, says what happened
    assert after["events"][0]["description"] == "Arrived at a carrier facility"  # EasyPost's own text


def test_a_cancelled_shipment_shows_its_status(merchant: str) -> None:
    shipment = new_shipment(merchant)
    call(shipments_api, api_event("POST", "/v1/shipments/{shipment_id}/void-label",
                                  path_params={"shipment_id": shipment["id"]}, merchant_id=merchant))
    assert track_json(shipment["parcels"][0]["tracking_number"])["shipment_status"] == "cancelled"


# --- no personal data at all, no carrier free text ------------------------------------------------------
def test_no_personal_data_on_the_page_nor_in_its_json(merchant: str, connection: tuple[str, str]) -> None:
    number = new_shipment(merchant, **RECIPIENT)["parcels"][0]["tracking_number"]
    # Carriers write free text that names people and places; none of it reaches the page.
    scan(connection, number, "in_transit", 10, location="LYON CEDEX 69009", message="Arrivé au centre de tri")
    scan(connection, number, "failed_attempt", 20, city="Lyon", message="Avisé: M. QUENNEC absent")
    scan(connection, number, "out_for_delivery", 30, message="Livreur: appelez le +33 6 12 34 56 78")
    scan(connection, number, "available_for_pickup", 40, message="Retrait au 77, allée des Glycines")
    scan(connection, number, "delivered", 50, message="Remis à ZEBULON en main propre",
         location="Bâtiment Hortensia, 77 allée des Glycines, 69009 Lyon", city="Lyon", country="FR")

    for language in LANGUAGES:
        page = track_json(number, lang=language)
        html = track(number, lang=language).body
        for shown in (json.dumps(page, ensure_ascii=False).casefold(), html.casefold()):
            for personal in PERSONAL:
                assert personal not in shown, (language, personal)
        texts = catalogue(language)
        assert [event["description"] for event in page["events"]] == [
            texts[f"status.{status}"] for status in
            ("delivered", "available_for_pickup", "out_for_delivery", "failed_attempt", "in_transit")]
        assert [event["location"] for event in page["events"]] == ["Lyon, FR", None, None, "Lyon", None]


def test_the_carriers_message_never_reaches_the_page_but_stays_in_the_api(
        merchant: str, connection: tuple[str, str]) -> None:
    shipment = new_shipment(merchant)
    number = shipment["parcels"][0]["tracking_number"]
    scan(connection, number, "exception", 10, message="Customs fee unpaid, pay at https://evil.example/pay")
    assert "evil.example" not in json.dumps(track_json(number)) + track(number).body
    events = call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}/events",
                                           path_params={"shipment_id": shipment["id"]}, merchant_id=merchant)).json()
    assert events["items"][0]["carrier_message"] == "Customs fee unpaid, pay at https://evil.example/pay"


@pytest.mark.parametrize(("code", "language", "description"), [
    ("Delivered_005", "fr", "Livré chez un voisin"),  # an AfterShip subtag, borrowed by the colis format
    ("Exception_006", "de", "Vom Zusteller bis zur Zahlung zurückgehalten"),
    ("in_transit/arrived_at_facility", "nl", "Aangekomen bij een vestiging van de vervoerder"),  # EasyPost
    ("TRANSIT/package_departed", "es", "Ha salido de un centro del transportista"),  # Shippo
    ("InTransit_001", "en", "In transit"),  # a code without a text of its own: the canonical status
])
def test_a_carrier_code_reads_as_its_vocabularys_text(merchant: str, connection: tuple[str, str], code: str,
                                                      language: str, description: str) -> None:
    number = new_shipment(merchant)["parcels"][0]["tracking_number"]
    scan(connection, number, code, 10, message="free text, never shown")
    [event] = track_json(number, lang=language)["events"]
    assert event["description"] == description


# --- slugs: only the slug's merchant, former slugs redirect, the takeover is impossible ----------------
def test_the_takeover_of_a_number_by_another_merchant_cannot_touch_the_pages_of_the_first(
        merchant: str, connection: tuple[str, str]) -> None:
    """Merchant B creates a shipment with A's number, brands itself like A and posts an exception
    from its own connection: A's page (and A's emails' links) still show A's parcel only."""
    mine = new_shipment(merchant, numbers=["SHARED0001"])
    scan(connection, "SHARED0001", "in_transit", 10, city="Lyon", country="FR")
    imitator = MerchantRepository().create("Maison Lune", "maison-lune-fr").id
    settings(imitator, {"brand": {"name": "Maison Lune", "color": "#0a7d5a"}})
    clock.advance(timedelta(days=1))
    theirs = new_shipment(imitator, numbers=["SHARED0001"])
    scan(colis_connection(imitator), "SHARED0001", "exception", 24 * 60 + 5,
         message="Customs fee unpaid, pay at https://evil.example/pay")

    page = track_json("SHARED0001")
    assert page["status"] == "in_transit" and [e["status"] for e in page["events"]] == ["in_transit"]
    assert "evil.example" not in track("SHARED0001").body
    assert mine["parcels"][0]["public_tracking_url"].endswith("/track/maison-lune/SHARED0001")
    # B's page lives under B's slug only, and cannot take A's slug.
    assert theirs["parcels"][0]["public_tracking_url"].endswith("/track/maison-lune-fr/SHARED0001")
    assert track_json("SHARED0001", slug="maison-lune-fr")["status"] == "exception"
    taken = call(account_api, api_event("PATCH", "/v1/settings", body={"tracking_slug": "maison-lune"},
                                        merchant_id=imitator))
    assert taken.status == 409 and "taken" in taken.json()["detail"]


def test_the_unscoped_page_is_gone(merchant: str) -> None:
    number = new_shipment(merchant)["parcels"][0]["tracking_number"]
    # `/track/{number}` is now the lookup form of a slug nobody has.
    assert lookup(number).status == 404
    assert track(number, slug="no-such-shop").status == 404


def test_a_new_slug_serves_the_pages_and_the_former_one_redirects_for_good(merchant: str) -> None:
    number = new_shipment(merchant)["parcels"][0]["tracking_number"]
    settings(merchant, {"tracking_slug": "lune-paris"})
    settings(merchant, {"tracking_slug": "lune-lyon"})

    assert track_json(number, slug="lune-lyon")["tracking_number"] == number
    for former in ("maison-lune", "lune-paris"):
        moved = track(number, slug=former, lang="nl")
        assert moved.status == 301
        assert moved.headers["location"] == f"https://api.colis.test/track/lune-lyon/{number}?lang=nl"
    assert lookup("lune-paris").headers["location"] == "https://api.colis.test/track/lune-lyon"
    # A slug once used stays that merchant's: nobody else gets it, the merchant may take it back.
    other = MerchantRepository().create("Other Shop").id
    for slug in ("maison-lune", "lune-paris", "lune-lyon"):
        response = call(account_api, api_event("PATCH", "/v1/settings", body={"tracking_slug": slug},
                                               merchant_id=other))
        assert response.status == 409, slug
    settings(merchant, {"tracking_slug": "maison-lune"})
    assert track_json(number)["tracking_number"] == number


@pytest.mark.parametrize("slug", ["ab", "a" * 41, "Maison-Lune", "maison_lune", "maison lune", "lune/x", "", None])
def test_a_malformed_slug_is_422(merchant: str, slug: str | None) -> None:
    response = call(account_api, api_event("PATCH", "/v1/settings", body={"tracking_slug": slug},
                                           merchant_id=merchant))
    assert response.status == 422
    assert MerchantRepository().get(merchant).settings.tracking_slug == "maison-lune"


def test_every_merchant_gets_a_readable_unique_slug_at_creation(aws_env: dict[str, Any]) -> None:
    merchants = MerchantRepository()
    first, second = merchants.create("Zoé & Fils — Épicerie"), merchants.create("Zoé & Fils — Épicerie")
    slugs = [first.settings.tracking_slug, second.settings.tracking_slug]
    assert all(re.fullmatch(r"zoe-fils-epicerie-[a-z0-9]{6}", slug or "") for slug in slugs), slugs
    assert slugs[0] != slugs[1]
    assert [merchants.merchant_for_slug(slug or "") for slug in slugs] == [first.id, second.id]
    with pytest.raises(Refused):
        merchants.create("Copycat", slugs[0])


def test_the_lookup_form_sends_the_number_to_its_page(merchant: str) -> None:
    number = new_shipment(merchant)["parcels"][0]["tracking_number"]
    form = lookup("maison-lune")
    assert form.status == 200 and form.headers["content-type"] == "text/html; charset=utf-8"
    assert '<form id="lookup" method="get" action="maison-lune">' in form.body
    assert 'name="tracking_number"' in form.body and "Maison Lune" in form.body
    assert "form-action 'self'" in form.headers["content-security-policy"]
    found = lookup("maison-lune", {"tracking_number": f" {number} ", "lang": "fr"})
    assert found.status == 303
    assert found.headers["location"] == f"https://api.colis.test/track/maison-lune/{number}?lang=fr"
    assert lookup("maison-lune", {"tracking_number": "<script>"}).status == 200  # the form again


# --- the rules behind the answers, as tables ---------------------------------------------------------
@pytest.mark.parametrize(("accept", "json_wanted"), [
    (None, False),
    ("*/*", False),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8", False),  # a browser
    ("application/json", True),
    ("application/json, text/plain, */*", True),  # axios
    ("application/json;q=0.9, text/html", False),
    ("text/html;q=0.5, application/*", True),
    ("application/json, text/html", False),  # a tie between explicit types: the page
    ("application/json;q=0", False),
])
def test_content_negotiation(accept: str | None, json_wanted: bool) -> None:
    from functions.tracking.page import prefers_json

    assert prefers_json(accept) is json_wanted


def test_carrier_text_arriving_after_the_redaction_is_stored_redacted(merchant: str,
                                                                      connection: tuple[str, str]) -> None:
    from functions.retention.actions import Repositories, redact_shipment_data

    shipment = new_shipment(merchant)
    number = shipment["parcels"][0]["tracking_number"]
    scan(connection, number, "in_transit", 10, message="Left with Zébulon", location="77 allée des Glycines, Lyon",
         city="Lyon", country="FR")
    redact_shipment_data(Repositories.default(), merchant, shipment["id"], clock.now())
    scan(connection, number, "delivered", 20, message="Signed by Zébulon Quennec", location="77 allée des Glycines")

    events = call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}/events",
                                           path_params={"shipment_id": shipment["id"]}, merchant_id=merchant)).json()
    assert [(e["carrier_message"], e["location"]) for e in events["items"]] == [
        ("redacted", "redacted"), ("redacted", "Lyon, FR")]
    parcel = call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}", path_params={
        "shipment_id": shipment["id"]}, merchant_id=merchant)).json()["parcels"][0]
    assert (parcel["status"], parcel["carrier_message"], parcel["location"]) == ("delivered", "redacted", "redacted")


def test_the_merchants_support_contact_is_on_the_page_its_json_and_the_lookup_form(merchant: str) -> None:
    number = new_shipment(merchant)["parcels"][0]["tracking_number"]
    assert 'id="support"' not in track(number).body  # nothing to show until the merchant gives a contact

    settings(merchant, {"support_email": "help@maison-lune.example", "support_url": "https://maison-lune.example/aide"})

    assert track_json(number)["merchant"] | {} == {"name": "Maison Lune", "logo_url": None, "color": "#0a7d5a",
                                                 "support_email": "help@maison-lune.example",
                                                 "support_url": "https://maison-lune.example/aide"}
    for html in (track(number).body, lookup("maison-lune").body):
        assert 'href="mailto:help@maison-lune.example"' in html
        assert 'href="https://maison-lune.example/aide"' in html
        assert any(catalogue(language)["page.support.title"] in html for language in ("en", "fr", "de", "nl", "es"))


@pytest.mark.parametrize("patch", [
    {"support_email": "not an address"}, {"support_email": "help@shop.example\r\nBcc: x@y.example"},
    {"support_url": "http://shop.example/help"}, {"support_url": "javascript:alert(1)"},
])
def test_a_support_contact_that_is_not_an_address_or_an_https_link_is_422(merchant: str, patch: dict[str, Any]) -> None:
    response = call(account_api, api_event("PATCH", "/v1/settings", body=patch, merchant_id=merchant))
    assert response.status == 422, response.body
    assert call(account_api, api_event("GET", "/v1/settings", merchant_id=merchant)).json()["support_email"] is None
