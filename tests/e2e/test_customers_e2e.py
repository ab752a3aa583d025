"""Customers end to end over HTTP against the local stack: the CSV import (inline and presigned
upload, run by the import bucket's notification), records, merge and isolation between merchants."""

from __future__ import annotations

import csv
import io
import time
import uuid
from typing import Any

import requests

from tests.e2e.conftest import ApiClient

HEADER = ["Username", "Email", "First Name", "Last Name", "Full Name", "Company Name", "Phone", "Address Line 1",
          "Address Line 2", "City", "State", "Postal Code", "Country Code", "Tags"]


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _wait_for_import(api: ApiClient, import_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/v1/customer-imports/{import_id}").json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def test_an_inline_csv_import_runs_and_reports_every_rejected_row(api: ApiClient, second_api: ApiClient) -> None:
    tag = f"e2e-{uuid.uuid4().hex[:8]}"
    name = f"camille-{tag}"
    existing = api.post("/v1/customers", json={"username": f"shop-{tag}", "email": f"shop-{tag}@example.com",
                                                 "store": "shopify"})
    assert existing.status_code == 201, existing.text
    data = _csv([
        [name, f"Camille.{tag}@Example.fr", "Camille", "Dupont", "", "Dupont, Fils & Cie", "+33698765432",
         "12 rue des Lilas", "Bâtiment B\r\n3e étage", "Lyon", "", "69003", "FR", f"vip;{tag}"],
        [f"zoe-{tag}", f"zoe-{tag}@example.fr", "Zoé", "", "", "", "", "3 quai Voltaire", "", "Paris", "", "75007",
         "FR", tag],
        [name, f"zoe-{tag}@example.fr", "X", "", "", "", "", "", "", "", "", "", "", ""],  # two records
        [f"shop-{tag}", "", "Changed", "", "", "", "", "", "", "", "", "", "", ""],  # another store's record
        ["", "", "Nobody", "", "", "", "", "1 rue", "", "Lyon", "", "69001", "FR", ""],  # no identifier
    ])
    started = api.post("/v1/customer-imports?blank_cells=keep", data=data, headers={"Content-Type": "text/csv"})
    assert started.status_code == 202, started.text
    job = _wait_for_import(api, started.json()["id"])
    assert job["status"] == "done", job
    assert (job["rows_processed"], job["created"], job["updated"], job["skipped"]) == (5, 2, 0, 3)
    assert [e["row"] for e in job["errors"]] == [4, 5, 6]
    assert "managed by shopify" in job["errors"][1]["reason"]
    # The rejected rows, downloadable over HTTP through the signed link, with their reason.
    rejected = requests.get(job["errors_url"], timeout=30)
    assert rejected.status_code == 200, rejected.text[:300]
    lines = list(csv.reader(io.StringIO(rejected.content.decode("utf-8-sig"), newline="")))
    assert lines[0] == [*HEADER, "reason"] and [line[-1] for line in lines[1:]] == [e["reason"] for e in job["errors"]]

    [camille] = api.get("/v1/customers", params={"username": name}).json()["items"]
    assert camille["company"] == "Dupont, Fils & Cie" and camille["address"]["address_2"] == "Bâtiment B\r\n3e étage"
    assert camille["store"] == "manual" and camille["tags"] == ["vip", tag]
    assert len(api.get("/v1/customers", params={"tag": tag}).json()["items"]) == 2
    # Another merchant sees neither the import nor the customers.
    assert second_api.get(f"/v1/customer-imports/{job['id']}").status_code == 404
    assert second_api.get(f"/v1/customers/{camille['id']}").status_code == 404


def test_a_presigned_upload_starts_the_import(api: ApiClient) -> None:
    tag = uuid.uuid4().hex[:8]
    started = api.post("/v1/customer-imports", json={"upload": True})
    assert started.status_code == 202, started.text
    upload_url = started.json()["upload_url"]
    rows = [[f"bulk-{tag}-{n}", f"bulk-{tag}-{n}@example.com", "Ana", "Lima", "", "", "", f"{n} rue Haute", "",
             "Lyon", "", "69001", "FR", ""] for n in range(300)]
    put = requests.put(upload_url, data=_csv(rows), timeout=30)
    assert put.status_code == 200, put.text
    job = _wait_for_import(api, started.json()["id"])
    assert (job["status"], job["created"], job["rows_processed"]) == ("done", 300, 300), job


def test_a_wrong_header_is_400_and_the_template_is_downloadable(api: ApiClient) -> None:
    response = api.post("/v1/customer-imports", data=b"Name,Mail\r\nAna,ana@example.com\r\n",
                        headers={"Content-Type": "text/csv"})
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"
    template = api.get("/v1/customers/import-template")
    assert template.status_code == 200 and "CustomerImportSample.csv" in template.headers["Content-Disposition"]
    header, sample = template.content.decode("utf-8-sig").splitlines()
    assert header == ",".join(HEADER) and sample.startswith("camille.dupont,")  # the header and one sample row


def test_records_merge_and_are_never_deleted(api: ApiClient) -> None:
    tag = uuid.uuid4().hex[:8]
    master = api.post("/v1/customers", json={"username": f"m-{tag}", "tags": ["a"]}).json()
    other = api.post("/v1/customers", json={"email": f"o-{tag}@example.com", "first_name": "Ana", "tags": ["b"]}).json()
    assert api.post("/v1/customers", json={"email": f"O-{tag}@EXAMPLE.com"}).status_code == 409
    merged = api.post(f"/v1/customers/{master['id']}/merge", json={"absorb": [other["id"]]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["tags"] == ["a", "b"] and merged.json()["first_name"] == "Ana"
    assert api.get(f"/v1/customers/{other['id']}").json()["id"] == master["id"]
    assert api.post(f"/v1/customers/{other['id']}/merge", json={"absorb": [master["id"]]}).status_code == 409
    assert api.delete(f"/v1/customers/{master['id']}").status_code == 405
