"""The carrier display table (shared/shipments/carrier_display.json): every entry walked, every
spelling the integrators emit found, unknown codes read as names, links only over https."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import urlsplit

import pytest

from shared.shipments.carrier_display import (
    NUMBER,
    TABLE_PATH,
    CarrierDisplay,
    carrier_display,
    is_https_url,
    lookup_key,
    parcel_tracking_url,
    readable_name,
)

TABLE = json.loads(TABLE_PATH.read_text(encoding="utf-8"))["carriers"]
INTEGRATORS = {"sendcloud", "easypost", "aftership", "shippo"}


@pytest.mark.parametrize("code", sorted(TABLE))
def test_every_carrier_has_a_name_and_an_https_template_with_one_number(code: str) -> None:
    entry = TABLE[code]
    assert entry["name"].strip() == entry["name"] and entry["name"]
    template = entry["tracking_url"]
    if code in INTEGRATORS:
        assert template is None  # an integrator has no page of a parcel
        return
    assert template.count(NUMBER) == 1
    parts = urlsplit(template)
    assert parts.scheme == "https" and parts.hostname
    assert carrier_display(code).tracking_url("X1") == template.replace(NUMBER, "X1")


def test_no_spelling_belongs_to_two_carriers() -> None:
    spellings = Counter(key for code, entry in TABLE.items()
                        for key in {lookup_key(spelling) for spelling in (code, *entry["codes"])})
    assert [key for key, count in spellings.items() if count > 1] == []


@pytest.mark.parametrize("code", sorted(TABLE))
def test_every_listed_spelling_adds_one_the_key_does_not_already_match(code: str) -> None:
    keys = [lookup_key(spelling) for spelling in (code, *TABLE[code]["codes"])]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(("emitted", "name"), [
    # Sendcloud parcel.carrier.code
    ("postnl", "PostNL"), ("dhl_express", "DHL Express"), ("colissimo", "Colissimo"), ("mondial_relay", "Mondial Relay"),
    ("hermes_gb", "Evri"), ("gls_eu", "GLS"), ("bpost", "bpost"), ("chronopost", "Chronopost"),
    # EasyPost carrier
    ("USPS", "USPS"), ("FedEx", "FedEx"), ("DHLExpress", "DHL Express"), ("RoyalMail", "Royal Mail"),
    ("CanadaPost", "Canada Post"), ("DPDUK", "DPD"), ("DHLeCommerce", "DHL eCommerce"),
    # AfterShip slug
    ("royal-mail", "Royal Mail"), ("chronopost-france", "Chronopost"), ("correos-spain", "Correos"),
    ("dhl-germany", "DHL Paket"), ("deutsch-post", "Deutsche Post"), ("postnl-3s", "PostNL"), ("mondialrelay", "Mondial Relay"),
    ("la-poste-colissimo", "La Poste"),
    # Shippo carrier token
    ("usps", "USPS"), ("ups", "UPS"), ("dhl_ecommerce", "DHL eCommerce"), ("deutsche_post", "Deutsche Post"),
    ("hermes_uk", "Evri"), ("canada_post", "Canada Post"),
    # typed by a merchant
    ("DHL Express", "DHL Express"), (" Royal Mail ", "Royal Mail"), ("LA POSTE", "La Poste"),
])
def test_codes_the_integrators_emit_read_as_the_carrier_name(emitted: str, name: str) -> None:
    assert carrier_display(emitted).name == name


@pytest.mark.parametrize(("code", "name"), [
    ("acme_freight", "Acme Freight"), ("speedy-parcel", "Speedy Parcel"), ("zeta", "Zeta"),
    ("DHL & Co", "DHL & Co"), ("<i>DHL</i>", "<i>DHL</i>"), ("Colis Privé", "Colis Privé"), ("", ""),
])
def test_an_unknown_code_reads_as_a_name_never_as_a_raw_lowercase_code(code: str, name: str) -> None:
    display = carrier_display(code)
    assert display == CarrierDisplay(code=code, name=name)
    assert display.tracking_url("123") is None


def test_readable_name_keeps_what_a_merchant_typed() -> None:
    assert readable_name("Post Luxembourg") == "Post Luxembourg"
    assert readable_name("canada__post") == "Canada Post"


def test_the_template_gets_the_number_url_encoded() -> None:
    assert carrier_display("ups").tracking_url("1Z 99/&?#") == "https://www.ups.com/track?tracknum=1Z%2099%2F%26%3F%23"


@pytest.mark.parametrize(("given", "expected"), [
    ("https://track.example.com/p/1", "https://track.example.com/p/1"),
    (" https://track.example.com/p/1 ", "https://track.example.com/p/1"),
    ("HTTPS://track.example.com/p/1", "HTTPS://track.example.com/p/1"),
    # Anything else falls back to the carrier's own page.
    ("http://track.example.com/p/1", "https://www.ups.com/track?tracknum=1Z1"),
    ("javascript:alert(1)", "https://www.ups.com/track?tracknum=1Z1"),
    ("https:///no-host", "https://www.ups.com/track?tracknum=1Z1"),
    ("", "https://www.ups.com/track?tracknum=1Z1"),
    (None, "https://www.ups.com/track?tracknum=1Z1"),
])
def test_the_parcels_own_https_url_wins_over_the_template(given: str | None, expected: str) -> None:
    assert parcel_tracking_url("UPS", "1Z1", given) == expected


def test_no_link_for_an_unknown_carrier_without_a_url() -> None:
    assert parcel_tracking_url("acme", "1", None) is None
    assert parcel_tracking_url(None, "1", "http://insecure.example/1") is None


def test_is_https_url() -> None:
    assert is_https_url("https://a.example")
    assert not is_https_url("ftp://a.example")
    assert not is_https_url(None)
