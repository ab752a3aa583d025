"""A shopper's view of a running local stack: a merchant with its brand and support contact, and a
three-parcel shipment mid-journey, with real signed carrier scans. The browser accessibility tests
and the Lighthouse bench open the same page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

import requests

from tests.carrier_signing import colis_headers
from tests.factories import address, body_bytes, colis_event, shipment_body

TIMEOUT_S = 60
SUPPORT = {"support_email": "help@maison-lune.example", "support_url": "https://maison-lune.example/help"}


def product_now(api_url: str) -> datetime:
    answer = requests.get(f"{api_url}/_local/clock", timeout=TIMEOUT_S)
    answer.raise_for_status()
    return datetime.fromisoformat(answer.json()["now"].replace("Z", "+00:00"))


def brand_merchant(api_url: str, api_key: str, name: str, color: str) -> str:
    """The merchant's brand and support contact set; its tracking slug."""
    answer = _patch_settings(api_url, api_key, {"brand": {"name": name, "color": color}, **SUPPORT})
    slug: str = answer["tracking_slug"]
    return slug


@contextmanager
def branded(api_url: str, api_key: str, name: str, color: str) -> Iterator[str]:
    """`brand_merchant` for a while: the brand and support contact it found are put back after, so
    that tests sharing the stack see the seeded merchant as it was."""
    answer = requests.get(f"{api_url}/v1/settings", headers={"Authorization": f"Bearer {api_key}"}, timeout=TIMEOUT_S)
    assert answer.status_code == 200, answer.text
    before = {key: answer.json()[key] for key in ("brand", *SUPPORT)}
    try:
        yield brand_merchant(api_url, api_key, name, color)
    finally:
        _patch_settings(api_url, api_key, before)


def _patch_settings(api_url: str, api_key: str, changes: dict[str, Any]) -> dict[str, Any]:
    answer = requests.patch(f"{api_url}/v1/settings", json=changes, headers={"Authorization": f"Bearer {api_key}"},
                            timeout=TIMEOUT_S)
    assert answer.status_code == 200, answer.text
    settings: dict[str, Any] = answer.json()
    return settings


def scan(webhook: dict[str, Any], now: datetime, number: str, status: str, at: datetime, **extra: Any) -> None:
    """One signed `colis` carrier update, as the carrier would send it."""
    raw = body_bytes(colis_event(number, status, at, **extra))
    headers = {"Content-Type": "application/json", **colis_headers(webhook["secret"], raw, now)}
    answer = requests.post(webhook["url"], data=raw, headers=headers, timeout=TIMEOUT_S)
    assert answer.status_code == 200, answer.text


def _day(moment: datetime) -> str:
    """The day of `moment` as a carrier gives a day-only estimate (midnight UTC)."""
    return datetime.combine(moment.date(), time(0), UTC).isoformat()


def shipment_with_history(api_url: str, api_key: str, webhook: dict[str, Any]) -> str:
    """Three parcels as a shopper finds them mid-journey: one out for delivery after two scans, due
    today, with its carrier's page; one delivered; one not scanned yet. The page of
    the first."""
    now = product_now(api_url)
    body = shipment_body(parcels=3, carrier="colissimo", recipient=address(language="fr"))
    body["parcels"][0]["tracking_url"] = "https://www.laposte.fr/outils/suivre-vos-envois"
    created = requests.post(f"{api_url}/v1/shipments", json=body, headers={"Authorization": f"Bearer {api_key}"},
                            timeout=TIMEOUT_S)
    assert created.status_code == 201, created.text
    first, second, _ = created.json()["parcels"]
    start = now - timedelta(days=2)
    scan(webhook, now, first["tracking_number"], "in_transit", start, city="Paris", country="FR")
    scan(webhook, now, first["tracking_number"], "in_transit", start + timedelta(hours=20), city="Lyon", country="FR")
    scan(webhook, now, first["tracking_number"], "out_for_delivery", now - timedelta(hours=3), city="Lyon",
         country="FR", estimated_delivery=_day(now))
    scan(webhook, now, second["tracking_number"], "in_transit", start, city="Paris", country="FR")
    scan(webhook, now, second["tracking_number"], "delivered", now - timedelta(hours=1), city="Lyon", country="FR")
    url: str = first["public_tracking_url"]
    return url
