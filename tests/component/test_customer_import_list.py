"""GET /v1/customer-imports: the merchant's imports newest first, paged, each with its status and
counts (its rejected rows stay in its own report); another merchant's are never listed."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.merchants.store import MerchantRepository
from tests.component.customer_support import api, csv_bytes, import_file, person, start_import


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return MerchantRepository().create("Atelier Lune").id


def listing(merchant: str, **query: str) -> Any:
    return api(merchant, "GET", "/v1/customer-imports", query=query or None)


def test_imports_are_listed_newest_first_with_their_counts_and_paged(merchant: str) -> None:
    done = import_file(merchant, csv_bytes([person("lea", "lea@example.com"), person("", "")]))
    time.sleep(0.003)  # ids sort by the millisecond they were made in
    pending = start_import(merchant, csv_bytes([person("tom", "tom@example.com")])).json()
    first = listing(merchant, limit="1")
    assert first.status == 200
    [newest] = first.json()["items"]
    assert newest["id"] == pending["id"] and newest["status"] == "pending"
    [older] = listing(merchant, limit="1", cursor=first.json()["next_cursor"]).json()["items"]
    assert older["id"] == done["id"] and older["status"] == "done"
    assert (older["created"], older["error_count"]) == (done["created"], done["error_count"]) == (1, 1)
    assert "errors" not in older, "the rejected rows are in the import's own report"


def test_another_merchants_imports_are_not_listed(merchant: str) -> None:
    start_import(merchant, csv_bytes([person("lea", "lea@example.com")]))
    time.sleep(0.003)
    start_import(merchant, csv_bytes([person("tom", "tom@example.com")]))
    other = MerchantRepository().create("Fromagerie Vasseur").id
    assert listing(other).json() == {"items": [], "next_cursor": None}
    cursor = listing(merchant, limit="1").json()["next_cursor"]
    assert cursor and listing(other, cursor=cursor).status == 400


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}])
def test_bad_limits_are_422(merchant: str, query: dict[str, str]) -> None:
    assert listing(merchant, **query).status == 422
