"""GET /v1/exports: the merchant's exports newest first, paged, each as GET /v1/exports/{id}
answers it (a ready one with a fresh link); another merchant's are never listed."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from functions.export.handler import lambda_handler as exports_api
from shared.exports.model import JOB_LIFETIME
from shared.platform import clock
from tests.apigw import ApiResponse, api_event, call
from tests.export_support import NOW, create_shipment, get_export, new_merchant, requested, run


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


def listing(merchant: str, **query: str) -> ApiResponse:
    return call(exports_api, api_event("GET", "/v1/exports", query=query or None, merchant_id=merchant))


def _exports(merchant: str, count: int) -> list[str]:
    made = []
    for _ in range(count):
        made.append(requested(merchant, {"type": "customers", "format": "csv"}))
        time.sleep(0.003)  # ids sort by the millisecond they were made in
    return made


def test_exports_are_listed_newest_first_and_paged(merchant: str) -> None:
    made = _exports(merchant, 3)
    first = listing(merchant, limit="2")
    assert first.status == 200
    assert [e["id"] for e in first.json()["items"]] == [made[2], made[1]]
    second = listing(merchant, limit="2", cursor=first.json()["next_cursor"])
    assert [e["id"] for e in second.json()["items"]] == [made[0]] and second.json()["next_cursor"] is None
    assert all(e["status"] == "pending" and e["type"] == "customers" for e in first.json()["items"])


def test_a_ready_export_is_listed_as_it_is_shown_with_a_link(merchant: str) -> None:
    create_shipment(merchant)
    export_id = requested(merchant, {"type": "shipments", "format": "csv"})
    run(merchant, export_id)
    [listed] = listing(merchant, expires_in="120").json()["items"]
    shown = get_export(merchant, export_id, expires_in="120").json()
    assert listed["status"] == "ready" and listed["download_url"]
    assert {k: v for k, v in listed.items() if k not in ("download_url", "expires_at")} == \
        {k: v for k, v in shown.items() if k not in ("download_url", "expires_at")}


def test_another_merchants_exports_are_not_listed_and_its_cursor_is_refused(merchant: str) -> None:
    _exports(merchant, 2)
    other = new_merchant("Fromagerie Vasseur")
    assert listing(other).json() == {"items": [], "next_cursor": None}
    cursor = listing(merchant, limit="1").json()["next_cursor"]
    assert listing(other, cursor=cursor).status == 400


def test_an_expired_record_is_not_listed(merchant: str) -> None:
    _exports(merchant, 1)
    clock.use_fixed(NOW + JOB_LIFETIME + timedelta(seconds=1))
    assert listing(merchant).json()["items"] == []


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"expires_in": "0"}])
def test_bad_list_parameters_are_422(merchant: str, query: dict[str, str]) -> None:
    assert listing(merchant, **query).status == 422
