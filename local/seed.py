"""Demo data for `make run` and the end-to-end tests, and the state file that describes it."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared.shipments.carriers import CARRIERS

log = logging.getLogger("local.seed")



def _without_token(url: str) -> str:
    """Shippo's secret also travels as `?token=`; the state file keeps the URL without it."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def seed_merchants(api_url: str, usage_plan_ids: list[str] | None = None) -> dict[str, Any]:
    """Two merchants with a key each, enrolled in the template's usage plan; the first gets one
    connection per carrier."""
    # Imported here, not with this module: the stores it loads create powertools' logger, which
    # must see the environment the stack has applied by now, as a function's first import does.
    from cli import operations

    if len(usage_plan_ids or []) > 1:
        log.warning("several usage plans: merchants are enrolled in the first")
    plan = (usage_plan_ids or [None])[0]
    first = operations.create_merchant("Demo Shop", plan)
    first_key = operations.create_api_key(first["merchant_id"])
    webhooks = {}
    for carrier in CARRIERS:
        connection = operations.create_connection(first["merchant_id"], carrier, api_url)
        webhooks[carrier] = {"connection_id": connection["id"], "url": _without_token(connection["url"]),
                             "secret": connection["secret"]}
    second = operations.create_merchant("Second Shop", plan)
    second_key = operations.create_api_key(second["merchant_id"])
    return {
        "merchant_id": first["merchant_id"], "api_key": first_key["key"], "tracking_slug": first["tracking_slug"],
        "webhooks": webhooks,
        "second_merchant": {"merchant_id": second["merchant_id"], "api_key": second_key["key"],
                            "tracking_slug": second["tracking_slug"]},
    }


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically, so that whoever waits for the file never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(state, out, indent=2)
        out.write("\n")
    os.replace(temporary, path)
