"""Exports end to end over HTTP against the local stack: POST answers 202, the outbox dispatcher
publishes ExportRequested, the rule runs the worker, and the file is fetched from the presigned
link (and through /download) exactly as a merchant would."""

from __future__ import annotations

import csv
import io
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openpyxl
import requests

from tests.e2e.conftest import ApiClient


def _shipment(batch_id: str, parcels: list[str], **recipient: Any) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "recipient": {"first_name": "Zoé", "last_name": "Müller", "address_1": "12 rue des Lilas", "city": "Lyon",
                      "postal_code": "01234", "country": "FR", "phone": "0612345678", **recipient},
        "return_address": {"name": "Atelier Lune", "address_1": "5 quai Voltaire", "city": "Paris",
                           "postal_code": "75007", "country": "FR"},
        "package": {"type": "parcel", "size_unit": "cm", "length": "30", "width": "20", "height": "10",
                    "weight_unit": "kg", "weight": "1.2", "contents": "Crème", "value": "49.90", "currency": "EUR"},
        "postage_type": "standard", "carrier": "colissimo", "signature_confirmation": False,
        "parcels": [{"tracking_number": number} for number in parcels], "fees": {"shipping": "6.90"},
    }


def _wait_until_finished(api: ApiClient, export_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/v1/exports/{export_id}").json()
        if job["status"] in ("ready", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _unique() -> str:
    return uuid.uuid4().hex[:10]


def _digits_22() -> str:
    """A 22-digit tracking number, unique per run (a spreadsheet would round it if it became a number)."""
    return str(uuid.uuid4().int)[:22]


def test_a_csv_export_runs_in_the_background_and_downloads_from_its_link(api: ApiClient,
                                                                          second_api: ApiClient) -> None:
    batch = f"e2e-{_unique()}"
    numbers = [_digits_22(), f"E2E{_unique()}", f"E2E{_unique()}"]
    created = api.post("/v1/shipments", json=_shipment(batch, numbers))
    assert created.status_code == 201, created.text
    other = api.post("/v1/shipments", json=_shipment(f"{batch}-other", [f"E2E{_unique()}"]))
    assert other.status_code == 201, other.text

    started = api.post("/v1/exports", json={"type": "shipments", "format": "csv", "filters": {"batch_id": batch}})
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "pending"
    export_id = started.json()["id"]

    job = _wait_until_finished(api, export_id)
    assert job["status"] == "ready", job
    assert (job["rows_written"], job["row_count"], job["error"]) == (3, 3, None)
    assert parse_qs(urlsplit(job["download_url"]).query)["X-Amz-Expires"] == ["900"]
    assert job["expires_at"] and job["object_expires_at"]

    fetched = requests.get(job["download_url"], timeout=30)
    assert fetched.status_code == 200 and fetched.headers["Content-Type"].startswith("text/csv")
    rows = _csv_rows(fetched.content)
    assert [r["parcel_index"] for r in rows] == ["1", "2", "3"]
    assert {r["shipment_id"] for r in rows} == {created.json()["id"]}
    assert rows[0]["tracking_number"] == f'="{numbers[0]}"'
    assert (rows[0]["recipient_name"], rows[0]["recipient_postal_code"], rows[0]["order_id"]) == (
        "Zoé Müller", '="01234"', "")
    assert [r["value"] for r in rows] == ["49.90", "", ""]

    redirect = api.get(f"/v1/exports/{export_id}/download", params={"expires_in": 120}, allow_redirects=False)
    assert redirect.status_code == 302, redirect.text
    assert parse_qs(urlsplit(redirect.headers["Location"]).query)["X-Amz-Expires"] == ["120"]
    assert _csv_rows(requests.get(redirect.headers["Location"], timeout=30).content) == rows

    # Another merchant sees nothing of it.
    assert second_api.get(f"/v1/exports/{export_id}").status_code == 404
    assert second_api.get(f"/v1/exports/{export_id}/download", allow_redirects=False).status_code == 404


def test_an_xlsx_export_keeps_tracking_numbers_as_text(api: ApiClient) -> None:
    batch = f"e2e-{_unique()}"
    number = _digits_22()
    assert api.post("/v1/shipments", json=_shipment(batch, [number])).status_code == 201
    started = api.post("/v1/exports", json={"type": "shipments", "format": "xlsx", "filters": {"batch_id": batch}})
    assert started.status_code == 202, started.text
    job = _wait_until_finished(api, started.json()["id"])
    assert job["status"] == "ready", job
    data = requests.get(job["download_url"], timeout=30).content
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    header, row = ([cell for cell in line] for line in sheet.iter_rows())
    cells = {h.value: c for h, c in zip(header, row, strict=True)}
    assert cells["tracking_number"].value == number and cells["tracking_number"].data_type == "s"
    assert cells["value"].value == 49.9


def test_invalid_export_requests_are_problems(api: ApiClient, public_api: ApiClient) -> None:
    response = api.post("/v1/exports", json={"type": "shipments", "format": "pdf"})
    assert response.status_code == 422 and response.headers["Content-Type"] == "application/problem+json"
    assert public_api.post("/v1/exports", json={"type": "shipments"}).status_code == 401
    assert api.get("/v1/exports/exp_unknown").status_code == 404
