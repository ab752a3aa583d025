"""Accessibility measured in a real browser: axe-core (every WCAG 2.0/2.1/2.2 A and AA rule, and its
best practices) finds no violation on the public pages served by the local stack, in each supported
language at 390 and 1280 px, nor on any customer email, with a pale and a dark brand colour.

One Chromium (Debian's, driven by playwright-core: `tests/browser/axe.mjs`) opens every page once,
for the whole module; each page is then one test here. Every page also has a full-page screenshot
under `artifacts/browser/` and must log no console error (a CSP refusal, a missing resource).
The npm tooling is installed by `make test` (`npm ci` in tests/browser); Chromium by `make system-deps`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from functions.notify.brand import Brand
from functions.notify.milestones import Milestone
from functions.notify.rendering import (
    CancellationEmailContext,
    MilestoneEmailContext,
    ParcelLink,
    RenderedEmail,
    SupportContact,
    render_cancellation_email,
    render_milestone_email,
)
from functions.notify.texts import SUPPORTED_LANGUAGES
from tests.e2e.conftest import PROJECT_ROOT
from tests.tracking_story import branded, shipment_with_history

pytestmark = pytest.mark.xdist_group("e2e")

BROWSER_TOOLS = PROJECT_ROOT / "tests" / "browser"
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "browser"
AXE_TIMEOUT_SECONDS = 900
LANGUAGES = sorted(SUPPORTED_LANGUAGES)
WIDTHS = (390, 1280)
LOCALES = {"en": "en-GB", "fr": "fr-FR", "de": "de-DE", "nl": "nl-NL", "es": "es-ES"}
# A dark brand colour, and the pale one that once made an email's brand name unreadable.
BRANDS = {"dark": "#0a3d62", "light": "#FFFF66"}
EMAILS = [*(str(milestone) for milestone in Milestone), "order_cancelled"]
# Emails are read on phones first: every language there; the desktop width in English.
EMAIL_CASES = [(email, brand, language, 390) for email in EMAILS for brand in BRANDS for language in LANGUAGES] + [
    (email, brand, "en", 1280) for email in EMAILS for brand in BRANDS]
PAGE_CASES = [(language, width) for language in LANGUAGES for width in WIDTHS]


def browser_tools() -> tuple[str, str]:
    """Node and the npm tooling, else a skip (a failure on CI, which installs both)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    node = shutil.which("node")
    installed = all((BROWSER_TOOLS / "node_modules" / package).is_dir() for package in ("playwright-core", "axe-core"))
    missing = [what for what, present in (("headless Chromium (Debian package chromium: make system-deps)", chromium),
                                          ("Node.js", node),
                                          ("the npm tooling (npm ci in tests/browser: make browser-deps)", installed))
               if not present]
    if missing:
        message = "browser accessibility checks need " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert chromium is not None and node is not None
    return node, chromium


# --- what the browser opens ----------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    name: str
    url: str
    width: int
    language: str
    expected_status: int = 200

    def job(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "width": self.width, "locale": LOCALES[self.language],
                "screenshot": str(SCREENSHOTS / f"{self.name}.png")}


def tracking_pages(page_url: str, pale_page_url: str) -> list[Page]:
    lookup_url = page_url.rsplit("/", 1)[0]
    pages = []
    for language, width in PAGE_CASES:
        pages += [Page(f"page-{language}-{width}", page_url, width, language),
                  Page(f"lookup-{language}-{width}", lookup_url, width, language),
                  Page(f"not-found-{language}-{width}", f"{lookup_url}/NOSUCHPARCEL0", width, language, 404)]
    pages += [Page(f"page-light-brand-en-{width}", pale_page_url, width, "en") for width in WIDTHS]
    return pages


PAGES = "https://track.maison-lune.example/track/maison-lune"


def render_email(email: str, brand_color: str, language: str) -> RenderedEmail:
    """An email as a customer of a two-parcel order receives it, support contact included."""
    brand = Brand(name="Maison Lune", color=brand_color)
    support = SupportContact(email="help@maison-lune.example", url="https://maison-lune.example/help")
    if email == "order_cancelled":
        return render_cancellation_email(language, CancellationEmailContext(
            brand=brand, order_number="#1042", support=support, reason="Out of stock", refund_total=Decimal("59.80"),
            currency="EUR", recipient_first_name="Camille", cancelled_at=datetime(2026, 3, 12, 9, 0, tzinfo=UTC)))
    parcels = [ParcelLink(tracking_number=number, url=f"{PAGES}/{number}") for number in ("6A12345678901", "6A12345678902")]
    # Out for delivery: due the day of the scan.
    due = date(2026, 3, 12) if email == "out_for_delivery" else date(2026, 3, 14)
    return render_milestone_email(email, language, MilestoneEmailContext(
        brand=brand, carrier="Colissimo", parcels=parcels, tracking_url=parcels[0].url, order_number="#1042",
        support=support, recipient_first_name="Camille", occurred_at=datetime(2026, 3, 12, 7, 40, tzinfo=UTC),
        estimated_delivery=due, time_zone="Europe/Paris"))


def email_pages(folder: Path) -> list[Page]:
    """Every email template rendered by the project's own code to an HTML file, opened from disk."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for email, brand, language, width in EMAIL_CASES:
        path = folder / f"email-{email}-{brand}-{language}.html"
        if not path.exists():
            path.write_text(render_email(email, BRANDS[brand], language).html, encoding="utf-8")
        pages.append(Page(f"email-{email}-{brand}-{language}-{width}", path.as_uri(), width, language))
    return pages


@pytest.fixture(scope="session")
def tools() -> tuple[str, str]:
    """Node and Chromium, looked for before the local stack starts (a skip then costs nothing)."""
    return browser_tools()


@pytest.fixture(scope="module")
def checked(tools: tuple[str, str], local_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
            ) -> dict[str, tuple[Page, dict[str, Any]]]:
    """Every page opened once, in one browser: page name → (page, what the browser found)."""
    node, chromium = tools
    work = tmp_path_factory.mktemp("axe")
    api_url, webhook, second = local_stack["api_url"], local_stack["webhooks"]["colis"], local_stack["second_merchant"]
    # The seeded merchants, one with a dark brand colour and one with a pale one.
    with (branded(api_url, local_stack["api_key"], "Maison Lune", BRANDS["dark"]),
          branded(api_url, second["api_key"], "Citron Vert", BRANDS["light"])):
        page_url = shipment_with_history(api_url, local_stack["api_key"], webhook)
        pale_page_url = shipment_with_history(api_url, second["api_key"], webhook)
        pages = tracking_pages(page_url, pale_page_url) + email_pages(work / "emails")
        jobs, results = work / "jobs.json", work / "results.json"
        jobs.write_text(json.dumps({"pages": [page.job() for page in pages]}), encoding="utf-8")
        finished = subprocess.run([node, str(BROWSER_TOOLS / "axe.mjs"), str(jobs), str(results)],
                                  cwd=BROWSER_TOOLS, env={**os.environ, "CHROME_PATH": chromium}, capture_output=True,
                                  text=True, timeout=AXE_TIMEOUT_SECONDS, check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    found = json.loads(results.read_text(encoding="utf-8"))["pages"]
    return {page.name: (page, found[page.name]) for page in pages}


def explain(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines += [f"    {node['target']} {node['html'][:160]}\n      {node['summary']}" for node in violation["nodes"][:5]]
    return "\n".join(lines)


def assert_accessible(page: Page, found: dict[str, Any]) -> None:
    assert "error" not in found, found.get("error")
    assert found["status"] in (page.expected_status, None), found["status"]  # None: a file
    assert found["lang"] == page.language and found["title"].strip()
    assert found["violations"] == [], f"{page.name}:\n{explain(found['violations'])}"
    # The not-found page's own 404 is the one resource allowed to fail.
    errors = [error for error in found["console_errors"]
              if not (page.expected_status == 404 and error.endswith(f"({page.url})"))]
    assert errors == [], errors
    screenshot = SCREENSHOTS / f"{page.name}.png"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("language", "width"), PAGE_CASES)
def test_the_tracking_page_has_no_axe_violation(checked: dict[str, Any], language: str, width: int) -> None:
    assert_accessible(*checked[f"page-{language}-{width}"])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_tracking_page_of_a_pale_brand_has_no_axe_violation(checked: dict[str, Any], width: int) -> None:
    assert_accessible(*checked[f"page-light-brand-en-{width}"])


@pytest.mark.parametrize(("language", "width"), PAGE_CASES)
def test_the_lookup_form_has_no_axe_violation(checked: dict[str, Any], language: str, width: int) -> None:
    assert_accessible(*checked[f"lookup-{language}-{width}"])


@pytest.mark.parametrize(("language", "width"), PAGE_CASES)
def test_the_not_found_page_has_no_axe_violation(checked: dict[str, Any], language: str, width: int) -> None:
    assert_accessible(*checked[f"not-found-{language}-{width}"])


@pytest.mark.parametrize(("email", "brand", "language", "width"), EMAIL_CASES)
def test_every_email_has_no_axe_violation(checked: dict[str, Any], email: str, brand: str, language: str,
                                          width: int) -> None:
    assert_accessible(*checked[f"email-{email}-{brand}-{language}-{width}"])


@pytest.mark.parametrize("screenshot", ["docs/tracking-page.png", "docs/email-out-for-delivery.png"])
def test_the_readme_shows_the_page_and_an_email_as_small_screenshots(screenshot: str) -> None:
    """Copies of this module's screenshots (`artifacts/browser/`), kept small for the repository."""
    assert f"]({screenshot})" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    image = (PROJECT_ROOT / screenshot).read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and 10_000 < len(image) < 200_000
