"""Links to the public tracking page (DESIGN.md §1.2): always under the merchant's slug."""

from __future__ import annotations

from urllib.parse import quote


def public_tracking_url(base_url: str, tracking_slug: str, tracking_number: str) -> str:
    return f"{base_url.rstrip('/')}/track/{quote(tracking_slug, safe='')}/{quote(tracking_number, safe='')}"
