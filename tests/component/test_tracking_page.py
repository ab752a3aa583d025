"""`GET /track/{tracking_number}` against moto: the parcel's page in HTML or JSON, localised,
branded, cacheable, and without any personal data."""

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
    merchant_id = MerchantRepository().create("Atelier Lune SAS").id
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
          lang: str | None = None) -> ApiResponse:
    headers = {name: value for name, value in (("Accept", accept), ("Accept-Language", accept_language)) if value}
    event = api_event("GET", "/track/{tracking_number}", path_params={"tracking_number": number}, headers=headers,
                      query={"lang": lang} if lang else None)
    event["requestContext"]["authorizer"] = None  # a public route: no API key, no merchant
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
    scan(connection, number, "in_transit", 10, location="Lyon, FR", message="Parcel scanned at hub",
         estimated_delivery="2026-05-06T18:00:00Z")
    scan(connection, number, "out_for_delivery", 90, location="Paris, FR", message="With the courier")

    page = track_json(number)

    assert set(page) == {"tracking_number", "carrier", "status", "shipment_status", "parcel_count",
                         "estimated_delivery", "events", "merchant", "language"}
    assert page["tracking_number"] == number and page["carrier"] == "Colissimo"
    assert page["status"] == "out_for_delivery" and page["shipment_status"] == "pre_transit"
    assert page["parcel_count"] == 3 and page["estimated_delivery"] == "2026-05-06"
    assert page["merchant"] == {"name": "Maison Lune", "logo_url": None, "color": "#0a7d5a"}
    assert page["language"] == "fr"  # the recipient's language
    assert page["events"] == [
        {"status": "out_for_delivery", "occurred_at": "2026-05-04T13:30:00Z", "location": "Paris, FR",
         "message": "With the courier"},
        {"status": "in_transit", "occurred_at": "2026-05-04T12:10:00Z", "location": "Lyon, FR",
         "message": "Parcel scanned at hub"},
    ]


def test_the_page_shows_only_its_own_parcels_events(merchant: str, connection: tuple[str, str]) -> None:
    first, second = (parcel["tracking_number"] for parcel in new_shipment(merchant, parcels=2)["parcels"])
    scan(connection, first, "in_transit", 10)
    scan(connection, second, "delayed", 20)

    assert [event["status"] for event in track_json(first)["events"]] == ["in_transit"]
    assert track_json(second)["status"] == "delayed" and track_json(second)["shipment_status"] == "delayed"


def test_html_is_the_default_branded_and_localised(merchant: str, connection: tuple[str, str]) -> None:
    number = new_shipment(merchant, language="es")["parcels"][0]["tracking_number"]
    scan(connection, number, "in_transit", 10, location="Madrid, ES")

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
    assert page["merchant"] == {"name": "Lune & Fils", "logo_url": "https://cdn.example.com/l.png", "color": "#ff8800"}
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


def test_the_newest_shipment_wins_across_merchants(merchant: str) -> None:
    other = MerchantRepository().create("Other Shop").id
    settings(other, {"brand": {"name": "Other Brand"}})
    new_shipment(merchant, numbers=["SHARED0001"])
    clock.advance(timedelta(days=1))
    new_shipment(other, numbers=["SHARED0001"])

    assert track_json("SHARED0001")["merchant"]["name"] == "Other Brand"


def test_a_shipment_its_merchant_deleted_is_not_shown(merchant: str) -> None:
    shipment = new_shipment(merchant)
    response = call(shipments_api, api_event("DELETE", "/v1/shipments/{shipment_id}",
                                             path_params={"shipment_id": shipment["id"]}, merchant_id=merchant))
    assert response.status == 200
    assert track(shipment["parcels"][0]["tracking_number"]).status == 404


def test_a_cancelled_shipment_shows_its_status(merchant: str) -> None:
    shipment = new_shipment(merchant)
    call(shipments_api, api_event("POST", "/v1/shipments/{shipment_id}/void-label",
                                  path_params={"shipment_id": shipment["id"]}, merchant_id=merchant))
    assert track_json(shipment["parcels"][0]["tracking_number"])["shipment_status"] == "cancelled"


# --- no personal data at all -----------------------------------------------------------------------
def test_no_personal_data_on_the_page_nor_in_its_json(merchant: str, connection: tuple[str, str]) -> None:
    number = new_shipment(merchant, **RECIPIENT)["parcels"][0]["tracking_number"]
    # Carriers write free text that names people and places; each of these must stay off the page.
    scan(connection, number, "in_transit", 10, location="LYON CEDEX 69009", message="Arrivé au centre de tri")
    scan(connection, number, "failed_attempt", 20, location="Lyon", message="Avisé: M. QUENNEC absent")
    scan(connection, number, "out_for_delivery", 30, message="Livreur: appelez le +33 6 12 34 56 78")
    scan(connection, number, "available_for_pickup", 40, message="Retrait au 77, allée des Glycines")
    scan(connection, number, "delivered", 50, message="Remis à ZEBULON en main propre",
         location="Bâtiment Hortensia")

    page = track_json(number)
    html = track(number).body
    for shown in (json.dumps(page, ensure_ascii=False).casefold(), html.casefold()):
        for personal in PERSONAL:
            assert personal not in shown, personal
    assert page["events"][-1] == {"status": "in_transit", "occurred_at": "2026-05-04T12:10:00Z", "location": None,
                                  "message": "Arrivé au centre de tri"}
    assert [event["location"] for event in page["events"]].count("Lyon") == 1  # the city alone is not personal


def test_carrier_text_with_any_email_address_is_left_out(merchant: str, connection: tuple[str, str]) -> None:
    number = new_shipment(merchant)["parcels"][0]["tracking_number"]
    scan(connection, number, "exception", 10, message="Contact someone.else@example.org")
    assert track_json(number)["events"][0]["message"] is None


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


@pytest.mark.parametrize(("text", "shown"), [
    ("Arrivé au centre de tri", True),
    ("LYON CEDEX", True),
    ("Paris, FR", True),  # a place, not a person
    ("Remis à M. QUENNEC", False),  # last name, any case
    ("Remis a zebulon", False),  # first name, without its accent
    ("77, Allée des Glycines", False),  # street, other punctuation
    ("LYON 69009", False),  # postal code
    ("Tél. 06 12 34 56 78", False),  # national form of the phone
    ("Call +44 20 7946 0958", False),  # anyone's international number
    ("Contact x@y.org", False),  # anyone's email
    ("Colis 3SYZXG000000001 scanné", True),  # tracking numbers are not phones
    ("Van de Berg depot", True),  # name particles alone do not hide a text
])
def test_what_carrier_text_may_show(text: str, shown: bool) -> None:
    from functions.tracking.privacy import Recipient, public_text
    from shared.values.models import Address

    recipient = Recipient.of(Address.model_validate({**RECIPIENT, "last_name": "Quennec de Marchetti"}))
    assert (public_text(text, recipient) == text) is shown
