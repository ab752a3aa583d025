"""A real browser opens the public tracking page served by the local stack: headless Chromium
renders it, the test reads the rendered DOM, and a screenshot is kept in `artifacts/`.
Chromium comes from the Debian packages `chromium` and `chromium-driver` (`make system-deps`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests

from functions.notify.texts import catalogue
from tests.carrier_signing import colis_headers
from tests.e2e.conftest import PROJECT_ROOT, ApiClient
from tests.factories import address, body_bytes, colis_event, shipment_body

pytestmark = pytest.mark.xdist_group("e2e")

ARTIFACTS = PROJECT_ROOT / "artifacts"
BROWSER_TIMEOUT_SECONDS = 90
# A recipient whose data would be recognised anywhere on the page.
RECIPIENT = address(first_name="Zébulon", last_name="Quennec-Marchetti", address_1="77 allée des Glycines",
                    postal_code="69009", city="Lyon", phone="+33612345678", email="zebulon.quennec@example.fr",
                    language="fr")
PERSONAL = ("Zébulon", "Quennec", "Marchetti", "Glycines", "69009", "+33612345678", "zebulon.quennec")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "headless Chromium is not installed (Debian packages chromium, chromium-driver: make system-deps)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def render_in_browser(url: str, screenshot: Path, profile: Path, accept_language: str = "fr-FR,fr") -> str:
    """The DOM after the page loaded (scripts run, CSS applied), and a screenshot of it, by a
    browser whose user reads `accept_language`."""
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", "--window-size=1024,1280", f"--accept-lang={accept_language}",
               f"--user-data-dir={profile}",
               f"--screenshot={screenshot}", "--dump-dom", url]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_SECONDS, check=False)
    assert finished.returncode == 0, finished.stderr[-2000:]
    return finished.stdout


class Dom(HTMLParser):
    """Text of the elements with an id, and the document's text, as the browser left them."""

    VOID = frozenset({"meta", "img", "br", "link", "input", "hr", "source"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.attributes: dict[str, dict[str, str | None]] = {}
        self.lang: str | None = None
        self.text_parts: list[str] = []
        self._open: list[tuple[str, str | None, list[str]]] = []
        self._skip = 0
        self.feed(html)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        if tag in ("style", "script"):
            self._skip += 1
        if tag in self.VOID:
            return
        element_id = attributes.get("id")
        if element_id:
            self.attributes[element_id] = attributes
        self._open.append((tag, element_id, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1
        if tag in self.VOID or not self._open:
            return
        _, element_id, chunks = self._open.pop()
        if element_id:
            self.by_id[element_id] = " ".join("".join(chunks).split())

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text_parts.append(data)
        for _, _, chunks in self._open:
            chunks.append(data)


def product_now(public_api: ApiClient) -> datetime:
    return datetime.fromisoformat(public_api.get("/_local/clock").json()["now"].replace("Z", "+00:00"))


def scan(local_stack: dict[str, Any], public_api: ApiClient, number: str, status: str, occurred_at: datetime,
         **extra: Any) -> None:
    webhook = local_stack["webhooks"]["colis"]
    raw = body_bytes(colis_event(number, status, occurred_at, **extra))
    headers = {"Content-Type": "application/json", **colis_headers(webhook["secret"], raw, product_now(public_api))}
    answer = requests.post(webhook["url"], data=raw, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text


def test_the_tracking_page_shows_the_new_status_in_a_browser(
        local_stack: dict[str, Any], api: ApiClient, public_api: ApiClient, tmp_path: Path) -> None:
    chromium()  # skip (or fail on CI) before creating anything
    brand = f"Maison Lune {uuid.uuid4().hex[:4]}"
    assert api.patch("/v1/settings", json={"brand": {"name": brand, "color": "#0a7d5a"}}).status_code == 200
    created = api.post("/v1/shipments", json=shipment_body(parcels=2, carrier="Colissimo", recipient=RECIPIENT))
    assert created.status_code == 201, created.text
    number = created.json()["parcels"][0]["tracking_number"]
    url = created.json()["parcels"][0]["public_tracking_url"]
    texts = catalogue("fr")

    before = Dom(render_in_browser(url, tmp_path / "before.png", tmp_path / "profile-before"))
    assert before.by_id["status"] == texts["status.pre_transit"]

    scanned_at = product_now(public_api) - timedelta(hours=2)
    scan(local_stack, public_api, number, "in_transit", scanned_at, city="Lyon", country="FR",
         message="Pris en charge")
    scan(local_stack, public_api, number, "out_for_delivery", scanned_at + timedelta(hours=1),
         location="77 allée des Glycines, Lyon", city="Lyon", country="FR",
         message="Remis à Zébulon Quennec-Marchetti au 77 allée des Glycines",
         estimated_delivery=(scanned_at + timedelta(hours=5)).isoformat())
    screenshot = ARTIFACTS / "tracking-page.png"
    dom = Dom(render_in_browser(url, screenshot, tmp_path / "profile-after"))

    assert dom.lang == "fr"
    assert dom.by_id["status"] == texts["status.out_for_delivery"]
    # One headline per parcel; the shipment summed up (the other parcel is not scanned yet).
    assert dom.by_id["shipment-status"] == texts["parcels.delivered_of"].format(delivered="0", count="2")
    assert dom.by_id["tracking-number"] == number and dom.by_id["carrier"] == "Colissimo"
    assert dom.by_id["parcel-count"] == texts["parcels.other"].format(count="2")
    assert "estimated-delivery" in dom.by_id
    assert texts["progress.current"] in dom.by_id["progress"]
    assert brand in dom.text and texts["page.history"] in dom.text and "Lyon, FR" in dom.text
    # Events read as the carrier vocabulary's texts (here the canonical statuses), never its messages;
    # their times are the destination's (Lyon: UTC+1 or UTC+2).
    assert "Pris en charge" not in dom.text
    assert dom.by_id["events"].count(texts["status.in_transit"]) == 1
    assert "UTC+1" in dom.by_id["events"] or "UTC+2" in dom.by_id["events"]
    for personal in PERSONAL:
        assert personal.casefold() not in dom.text.casefold(), personal
    assert screenshot.stat().st_size > 1000 and screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
