"""Customer CSV imports against moto, rule by rule (DESIGN.md §1.5, §4), with files written the way
spreadsheets write them: BOM, CRLF, quoted commas and newlines."""

from __future__ import annotations

import base64
import csv
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.customers import importer
from functions.customers.handler import lambda_handler as customers_api
from functions.customers.import_handler import bulk_customers
from functions.export.columns import ColumnKind
from functions.export.spreadsheet import csv_cell
from shared.customers.imports import CustomerImportRepository, object_key
from shared.customers.model import CUSTOMER_CSV_COLUMNS, customer_to_csv_row
from shared.customers.store import CustomerRepository
from shared.dynamo import keys
from shared.merchants.store import MerchantRepository
from shared.platform import aws, clock
from shared.platform.settings import settings
from tests.apigw import api_event, call
from tests.component.customer_support import (
    HEADER,
    LongContext,
    address,
    all_customers,
    api,
    atomic_dynamodb,
    create,
    csv_bytes,
    import_file,
    listing,
    person,
    report,
    row,
    run_worker,
    start_import,
)


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    return MerchantRepository().create("Atelier Lune").id


def by_username(merchant: str, username: str) -> dict[str, Any]:
    [found] = listing(merchant, username=username).json()["items"]
    return found


# --- the file ------------------------------------------------------------------------------------------
def test_an_excel_file_with_bom_crlf_and_quoted_commas_and_newlines_creates_customers(merchant: str) -> None:
    data = csv_bytes([
        person("camille", "camille@example.fr", **{"Company Name": "Dupont, Fils & Cie",
                                                   "Address Line 2": "Bâtiment B\r\n3e étage", "Tags": "vip; wholesale"}),
        person("", "zoe@example.fr", **{"First Name": "Zoé", "Phone": "+33 6 12 34 56 78"}),
    ])
    assert data.startswith(b"\xef\xbb\xbf") and b'"Dupont, Fils & Cie"' in data
    result = import_file(merchant, data)
    assert result["status"] == "done"
    assert (result["rows_processed"], result["created"], result["updated"], result["skipped"]) == (2, 2, 0, 0)
    assert result["errors"] == []
    camille = by_username(merchant, "camille")
    assert camille["company"] == "Dupont, Fils & Cie" and camille["store"] == "manual"
    assert camille["address"]["address_2"] == "Bâtiment B\r\n3e étage" and camille["tags"] == ["vip", "wholesale"]
    zoe = listing(merchant, email="ZOE@example.fr").json()["items"][0]
    assert zoe["first_name"] == "Zoé" and zoe["username"] is None and zoe["phone"] == "+33 6 12 34 56 78"
    assert [c["id"] for c in listing(merchant, tag="wholesale").json()["items"]] == [camille["id"]]


def test_an_lf_file_without_bom_imports_the_same(merchant: str) -> None:
    result = import_file(merchant, csv_bytes([person("ana", "ana@example.com")], bom=False, crlf=False))
    assert result["created"] == 1 and by_username(merchant, "ana")["address"]["postal_code"] == "69003"


def test_rows_are_numbered_as_a_spreadsheet_shows_them(merchant: str) -> None:
    """Header is row 1; a quoted newline does not start a row; blank rows count but are ignored."""
    data = csv_bytes([person("a", "a@example.com", **{"Address Line 2": "line\nbreak"}),
                      row(),
                      person("b", "not-an-email"),
                      person("c", "c@example.com")])
    result = import_file(merchant, data)
    assert result["errors"] == [{"row": 4, "reason": "Email is not a valid email address."}]
    assert (result["rows_processed"], result["created"], result["skipped"]) == (4, 2, 1)


@pytest.mark.parametrize("header", [
    [h.upper() for h in HEADER][:-1],
    [*HEADER, "Notes"],
    ["username", "email", "first_name"],
])
def test_a_wrong_header_rejects_the_whole_file_and_changes_nothing(merchant: str, header: list[str]) -> None:
    create(merchant, username="ana", first_name="Ana")
    data = csv_bytes([["ana", "", "Changed"] + [""] * (len(header) - 3)], header=header)
    response = start_import(merchant, data)
    assert response.status == 400 and "template" in response.json()["detail"]
    assert by_username(merchant, "ana")["first_name"] == "Ana"
    assert aws.client("s3").list_objects_v2(Bucket=settings().import_bucket).get("KeyCount") == 0


def test_the_header_ignores_case_spaces_and_trailing_empty_cells(merchant: str) -> None:
    header = [f" {h.lower()} " for h in HEADER] + ["", ""]
    data = csv_bytes([[*person("ana", "ana@example.com").values(), "", ""]], header=header)
    assert import_file(merchant, data)["created"] == 1


def test_a_file_that_is_not_utf8_is_400(merchant: str) -> None:
    """Sent base64-encoded, as API Gateway passes bodies of binary media types."""
    data = ",".join(HEADER).encode() + b"\r\nana,ana@example.com,Ren\xe9e,,,,,1 rue,,Lyon,,69003,FR,\r\n"
    event = api_event("POST", "/v1/customer-imports", headers={"Content-Type": "text/csv"}, merchant_id=merchant)
    event["body"], event["isBase64Encoded"] = base64.b64encode(data).decode(), True
    response = call(customers_api, event)
    assert response.status == 400 and "UTF-8" in response.json()["detail"]
    assert all_customers(merchant) == []


def test_an_inline_file_over_4_mb_is_413_and_4_mb_is_accepted(merchant: str) -> None:
    head = csv_bytes([])
    filler = person("u", "u@example.com")
    line = ",".join(filler.values()).encode() + b"\r\n"
    body = head + line * ((4_000_000 - len(head)) // len(line))
    body += b" " * (4_000_000 - len(body))  # exactly 4,000,000 bytes (trailing spaces: a blank last row)
    assert len(body) == 4_000_000
    assert start_import(merchant, body).status == 202
    assert start_import(merchant, body + b" ").status == 413


def test_an_uploaded_file_is_imported_when_it_lands_in_the_bucket(merchant: str) -> None:
    response = api(merchant, "POST", "/v1/customer-imports", body={"upload": True}, query={"blank_cells": "clear"})
    assert response.status == 202
    job = response.json()
    assert job["status"] == "pending" and "X-Amz-Expires=900" in job["upload_url"]
    assert object_key(merchant, job["id"]) in job["upload_url"]
    # The client PUTs the file to upload_url; S3 then notifies the worker.
    aws.client("s3").put_object(Bucket=settings().import_bucket, Key=object_key(merchant, job["id"]),
                                Body=csv_bytes([person("ana", "ana@example.com")]))
    run_worker(merchant, job["id"])
    done = report(merchant, job["id"])
    assert done["status"] == "done" and done["created"] == 1 and done["blank_cells"] == "clear"


def test_an_uploaded_file_with_a_wrong_header_fails_and_changes_nothing(merchant: str) -> None:
    job = api(merchant, "POST", "/v1/customer-imports", body={"upload": True}).json()
    aws.client("s3").put_object(Bucket=settings().import_bucket, Key=object_key(merchant, job["id"]),
                                Body=b"Name,Mail\r\nAna,ana@example.com\r\n")
    run_worker(merchant, job["id"])
    failed = report(merchant, job["id"])
    assert failed["status"] == "failed" and "template" in failed["failure"] and failed["rows_processed"] == 0
    assert all_customers(merchant) == []


@pytest.mark.parametrize("body", [{"upload": False}, {"file": "x"}, "not json"])
def test_a_json_body_other_than_upload_true_is_refused(merchant: str, body: Any) -> None:
    status = api(merchant, "POST", "/v1/customer-imports", body=body).status
    assert status in (400, 422)


def test_another_merchants_import_is_404(merchant: str) -> None:
    job = start_import(merchant, csv_bytes([])).json()
    other = MerchantRepository().create("Other").id
    assert api(other, "GET", "/v1/customer-imports/{import_id}", import_id=job["id"]).status == 404


def test_the_template_download_is_the_header_it_checks(merchant: str) -> None:
    response = api(merchant, "GET", "/v1/customers/import-template")
    assert response.status == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="CustomerImportSample.csv"' in response.headers["content-disposition"]
    assert next(csv.reader(io.StringIO(response.body.lstrip("\ufeff")))) == HEADER
    assert import_file(merchant, response.body.encode("utf-8"))["status"] == "done"


# --- matching --------------------------------------------------------------------------------------------
def test_a_row_matches_by_username_else_by_email_case_insensitively(merchant: str) -> None:
    by_name = create(merchant, username="ana", email="ana@example.com", first_name="Ana").json()
    by_mail = create(merchant, email="Bo@Example.com", first_name="Bo").json()
    result = import_file(merchant, csv_bytes([row(Username="ana", **{"Last Name": "Lima"}),
                                              row(Email="bo@EXAMPLE.com", **{"Last Name": "Li"})]))
    assert (result["created"], result["updated"], result["skipped"]) == (0, 2, 0)
    assert listing(merchant, username="ana").json()["items"][0]["last_name"] == "Lima"
    assert listing(merchant, email="bo@example.com").json()["items"][0]["last_name"] == "Li"
    assert len(all_customers(merchant)) == 2 and by_name["id"] != by_mail["id"]


def test_a_row_matching_two_records_is_an_error_and_changes_neither(merchant: str) -> None:
    ana = create(merchant, username="ana", email="ana@example.com", first_name="Ana").json()
    bo = create(merchant, username="bo", email="bo@example.com", first_name="Bo").json()
    result = import_file(merchant, csv_bytes([row(Username="ana", Email="BO@example.com", **{"First Name": "X"})]))
    [error] = result["errors"]
    assert error["row"] == 2 and ana["id"] in error["reason"] and bo["id"] in error["reason"]
    assert result["skipped"] == 1 and result["updated"] == 0
    assert by_username(merchant, "ana")["first_name"] == "Ana" and by_username(merchant, "bo")["first_name"] == "Bo"


def test_a_row_matched_by_email_gives_the_record_its_new_username(merchant: str) -> None:
    customer = create(merchant, email="ana@example.com").json()
    import_file(merchant, csv_bytes([row(Username="ana.l", Email="ana@example.com")]))
    assert by_username(merchant, "ana.l")["id"] == customer["id"]


def test_records_of_other_stores_are_skipped_as_managed_by_their_store(merchant: str) -> None:
    create(merchant, username="ana", store="shopify", first_name="Ana")
    result = import_file(merchant, csv_bytes([row(Username="ana", **{"First Name": "Changed"})]))
    assert result["errors"] == [{"row": 2, "reason": result["errors"][0]["reason"]}]
    assert "managed by shopify" in result["errors"][0]["reason"]
    assert result["skipped"] == 1 and by_username(merchant, "ana")["first_name"] == "Ana"


def test_an_absorbed_records_identifiers_update_the_master(merchant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.component.customer_support import FakeOrders

    monkeypatch.setattr("functions.customers.handler._orders", FakeOrders)
    master = create(merchant, username="ana").json()
    other = create(merchant, username="ana2", email="ana2@example.com").json()
    api(merchant, "POST", "/v1/customers/{customer_id}/merge", customer_id=master["id"], body={"absorb": [other["id"]]})
    result = import_file(merchant, csv_bytes([row(Email="ANA2@example.com", Phone="+33100")]))
    assert result["updated"] == 1
    assert api(merchant, "GET", "/v1/customers/{customer_id}", customer_id=master["id"]).json()["phone"] == "+33100"


def test_rows_of_one_chunk_see_each_other(merchant: str) -> None:
    """A second row with a username created by an earlier row updates that record; a row naming
    the records of two earlier rows matches two records."""
    result = import_file(merchant, csv_bytes([person("ana", "ana@example.com", **{"Last Name": "Lima"}),
                                              row(Username="ana", Phone="+33100"),
                                              person("bo", "bo@example.com"),
                                              row(Username="bo", Email="ANA@example.com")]))
    assert (result["created"], result["updated"], result["skipped"]) == (2, 1, 1)
    assert result["errors"][0]["row"] == 5 and "two different records" in result["errors"][0]["reason"]
    ana = by_username(merchant, "ana")
    assert ana["last_name"] == "Lima" and ana["phone"] == "+33100" and len(all_customers(merchant)) == 2


# --- creating -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("cells", "reason"), [
    ({"Username": "", "Email": ""}, "Username or Email is required"),
    ({"First Name": "", "Last Name": ""}, "First Name, Last Name, Full Name or Company Name"),
    ({"Address Line 1": ""}, "Address Line 1"),
    ({"City": ""}, "City"),
    ({"Country Code": ""}, "Country Code"),
    ({"Country Code": "France"}, "ISO 3166-1"),
    ({"Country Code": "ZZ"}, "ISO 3166-1"),
    ({"Postal Code": ""}, "Postal Code is required for addresses in FR"),
    ({"Country Code": "US", "City": "Austin", "Postal Code": "78701"}, "State is required for addresses in US"),
    ({"Email": "ana@"}, "not a valid email"),
    ({"Tags": ";".join(f"t{n}" for n in range(41))}, "at most 40"),
    ({"Phone": "1" * 41}, "Phone is longer than 40"),
])
def test_a_new_record_needs_the_fields_of_the_template(merchant: str, cells: dict[str, str], reason: str) -> None:
    result = import_file(merchant, csv_bytes([person("ana", "ana@example.com", **cells)]))
    assert result["created"] == 0 and result["skipped"] == 1
    assert result["errors"][0]["row"] == 2 and reason in result["errors"][0]["reason"], result["errors"]


@pytest.mark.parametrize("cells", [
    {"First Name": "", "Last Name": "", "Full Name": "Ana Lima"},
    {"First Name": "", "Last Name": "", "Company Name": "Lima SA"},
    {"Country Code": "hk", "Postal Code": "", "City": "Hong Kong"},
    {"Country Code": "US", "City": "Austin", "State": "TX", "Postal Code": "78701"},
])
def test_a_new_record_accepts_any_name_field_and_countries_without_postal_codes(merchant: str, cells: dict[str, str]) -> None:
    assert import_file(merchant, csv_bytes([person("ana", "ana@example.com", **cells)]))["created"] == 1


# --- updating ------------------------------------------------------------------------------------------------
def test_an_update_row_needs_only_username_or_email(merchant: str) -> None:
    create(merchant, username="ana", first_name="Ana", address=address())
    result = import_file(merchant, csv_bytes([row(Username="ana", Tags="vip")]))
    assert result["updated"] == 1 and by_username(merchant, "ana")["tags"] == ["vip"]


def test_blank_cells_keep_the_stored_values_by_default(merchant: str) -> None:
    create(merchant, username="ana", first_name="Ana", phone="+331", tags=["vip"], address=address())
    import_file(merchant, csv_bytes([row(Username="ana", **{"Last Name": "Lima"})]))
    ana = by_username(merchant, "ana")
    assert (ana["first_name"], ana["last_name"], ana["phone"], ana["tags"]) == ("Ana", "Lima", "+331", ["vip"])
    assert ana["address"]["address_1"] == "12 rue des Lilas"


def test_blank_cells_clear_the_stored_values_when_asked(merchant: str) -> None:
    create(merchant, username="ana", email="ana@example.com", first_name="Ana", phone="+331", tags=["vip"],
           address=address())
    result = import_file(merchant, csv_bytes([row(Username="ana", **{"Last Name": "Lima"})]), blank_cells="clear",
                         tags="replace")
    assert result["updated"] == 1
    ana = by_username(merchant, "ana")
    assert (ana["first_name"], ana["last_name"], ana["phone"], ana["tags"], ana["address"], ana["email"]) == \
        (None, "Lima", None, [], None, None)
    assert listing(merchant, email="ana@example.com").json()["items"] == []  # the email is free again


def test_an_update_can_change_part_of_the_address(merchant: str) -> None:
    create(merchant, username="ana", address=address(address_2="Bât. B"))
    import_file(merchant, csv_bytes([row(Username="ana", **{"Address Line 1": "1 place Bellecour", "Postal Code": "69002"})]))
    ana = by_username(merchant, "ana")["address"]
    assert (ana["address_1"], ana["address_2"], ana["postal_code"], ana["city"]) == \
        ("1 place Bellecour", "Bât. B", "69002", "Lyon")


def test_an_update_leaving_an_incomplete_address_is_an_error(merchant: str) -> None:
    create(merchant, username="ana")
    result = import_file(merchant, csv_bytes([row(Username="ana", City="Lyon")]))
    assert result["skipped"] == 1 and "Address Line 1" in result["errors"][0]["reason"]


def test_an_exported_customer_list_reimports_unchanged(merchant: str) -> None:
    """The list export writes `customer_to_csv_row` through the spreadsheet escaping."""
    originals = [
        create(merchant, username="007", email="bond@example.com", first_name="James", phone="+441234",
               address=address(postal_code="01234", address_1="=1+1 Formula Road"), tags=["vip", "-minus"]).json(),
        create(merchant, email="zoe@example.fr", name="Zoé Durand", company="@home",
               address=address(country="US", region="TX", city="Austin", postal_code="78701")).json(),
    ]
    repository = CustomerRepository()
    rows = []
    for original in originals:
        cells = customer_to_csv_row(repository.get(merchant, original["id"]))
        rows.append({c.header: csv_cell(cells[c.header] or None, ColumnKind(c.kind)) for c in CUSTOMER_CSV_COLUMNS})
    data = csv_bytes(rows)
    assert b'"=""007"""' in data and b"'+441234" in data and b'"=""01234"""' in data and b"'=1+1" in data
    result = import_file(merchant, data)
    assert (result["created"], result["updated"], result["unchanged"], result["skipped"]) == (0, 0, 2, 0), \
        result["errors"]
    for original in originals:
        after = api(merchant, "GET", "/v1/customers/{customer_id}", customer_id=original["id"]).json()
        assert after == original


# --- progress, scale and concurrency -----------------------------------------------------------------------
def test_progress_is_visible_while_the_import_runs(merchant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "CHUNK_ROWS", 50)
    seen: list[tuple[str, int]] = []
    real = CustomerImportRepository.checkpoint

    def checkpoint_and_look(self: CustomerImportRepository, merchant_id: str, import_id: str, *args: Any) -> None:
        real(self, merchant_id, import_id, *args)
        live = report(merchant_id, import_id)
        seen.append((live["status"], live["rows_processed"]))

    monkeypatch.setattr(CustomerImportRepository, "checkpoint", checkpoint_and_look)
    rows = [person(f"user{n}", f"user{n}@example.com") for n in range(160)]
    result = import_file(merchant, csv_bytes(rows))
    assert seen == [("running", 50), ("running", 100), ("running", 150), ("running", 160)]
    assert result["status"] == "done" and result["created"] == 160


def test_a_crashed_import_resumes_after_its_last_chunk_without_duplicates(merchant: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "CHUNK_ROWS", 40)
    rows = [person(f"user{n}", f"user{n}@example.com") for n in range(100)] + [row(Email="bad")]
    job = start_import(merchant, csv_bytes(rows)).json()
    real = CustomerImportRepository.checkpoint
    calls = {"n": 0}

    def crash_on_second_checkpoint(self: CustomerImportRepository, *args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the invocation died")  # chunk 2 written, its progress not recorded
        real(self, *args)

    monkeypatch.setattr(CustomerImportRepository, "checkpoint", crash_on_second_checkpoint)
    with pytest.raises(RuntimeError):
        run_worker(merchant, job["id"])
    assert report(merchant, job["id"])["rows_processed"] == 40
    run_worker(merchant, job["id"])  # Lambda's retry
    result = report(merchant, job["id"])
    assert (result["status"], result["rows_processed"], result["created"], result["updated"], result["skipped"]) == \
        ("done", 101, 100, 0, 1)
    assert len(all_customers(merchant)) == 100


def test_an_import_out_of_time_saves_its_progress_and_the_retry_finishes(merchant: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "CHUNK_ROWS", 30)
    job = start_import(merchant, csv_bytes([person(f"u{n}", f"u{n}@example.com") for n in range(70)])).json()
    from functions.customers.service import ImportTimeBudgetExceeded

    with pytest.raises(ImportTimeBudgetExceeded):
        run_worker(merchant, job["id"], LongContext(remaining_ms=30_000))
    assert report(merchant, job["id"])["rows_processed"] == 30
    run_worker(merchant, job["id"])
    assert report(merchant, job["id"])["created"] == 70


def test_a_duplicate_notification_does_not_import_twice(merchant: str) -> None:
    job = start_import(merchant, csv_bytes([person("ana", "ana@example.com")])).json()
    run_worker(merchant, job["id"])
    run_worker(merchant, job["id"])
    assert report(merchant, job["id"])["created"] == 1


def test_a_file_of_many_chunks_is_imported_with_batched_requests(merchant: str) -> None:
    calls: dict[str, int] = {}
    client = bulk_customers().table.meta.client  # the import worker's own client

    def count(name: str) -> Any:
        real = getattr(client, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return real(*args, **kwargs)

        return counted

    rows = [person(f"u{n}", f"u{n}@example.com", Tags="vip" if n % 3 == 0 else "") for n in range(1_200)]
    originals = {name: getattr(client, name) for name in ("batch_write_item", "batch_get_item", "put_item")}
    for name in originals:
        setattr(client, name, count(name))
    try:
        result = import_file(merchant, csv_bytes(rows))
    finally:
        for name, real in originals.items():
            setattr(client, name, real)
    assert result["created"] == 1_200 and result["rows_processed"] == 1_200
    # 2,400 claims, then 1,200 records + 1,200 address entries + 400 tag entries + 4,800 search
    # entries (camille, dupont, the email, the username): 25 per request (a few more where chunks end).
    assert calls["batch_write_item"] <= 10_000 // 25 + 6
    # Unique items of 2,400 identifiers, then their (absent) records: 100 keys per request.
    assert calls["batch_get_item"] <= 2_400 // 100 + 3
    assert calls.get("put_item", 0) == 0  # no single write per row
    assert len(listing(merchant, tag="vip", limit="100").json()["items"]) == 100


def test_a_creation_racing_an_import_chunk_gives_way(merchant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An API creation commits after the chunk read the claims and before it wrote them: the
    chunk's claim replaces it, and the creation, seeing the fence move, takes itself back (409)."""
    real_claim = importer.ChunkImporter._claim
    racing: dict[str, Any] = {}

    def claim_after_a_racing_creation(self: importer.ChunkImporter, changed: list[Any]) -> None:
        def api_side() -> None:
            # Tags and an address give the record index entries: taking it back deletes them in a batch.
            racing["response"] = create(merchant, username="ana", email="api@example.com", tags=["vip"],
                                        address=address())

        racing["thread"] = threading.Thread(target=api_side)
        racing["thread"].start()
        repository = CustomerRepository()
        deadline = time.monotonic() + 10
        while repository.claim_owner(keys.customer_username(merchant, "ana")) is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the creation's transaction has committed
        real_claim(self, changed)

    monkeypatch.setattr(importer.ChunkImporter, "_claim", claim_after_a_racing_creation)
    with atomic_dynamodb():
        result = import_file(merchant, csv_bytes([person("ana", "ana@example.com")]))
        racing["thread"].join(timeout=60)
    assert racing["response"].status == 409, racing["response"].body
    assert result["created"] == 1
    [ana] = all_customers(merchant)
    assert ana["email"] == "ana@example.com" and listing(merchant, email="api@example.com").json()["items"] == []


def test_an_import_and_concurrent_api_creations_never_share_an_identifier(merchant: str) -> None:
    rows = [person(f"user{n}", f"user{n}@example.com") for n in range(120)]
    job = start_import(merchant, csv_bytes(rows)).json()
    barrier = threading.Barrier(2)

    def api_side() -> list[int]:
        barrier.wait()
        return [create(merchant, username=f"user{n}", email=f"api{n}@example.com").status for n in range(0, 120, 3)]

    def import_side() -> None:
        barrier.wait()
        run_worker(merchant, job["id"])

    with atomic_dynamodb(), ThreadPoolExecutor(max_workers=2) as pool:
        api_future = pool.submit(api_side)
        pool.submit(import_side).result()
        statuses = api_future.result()
    result = report(merchant, job["id"])
    customers = all_customers(merchant)
    usernames = [c["username"] for c in customers]
    assert sorted(usernames) == sorted(set(usernames)) and set(usernames) == {f"user{n}" for n in range(120)}
    won_by_api = statuses.count(201)
    assert len(customers) == 120
    # A row whose username the API took first updates that record instead of creating one.
    assert result["created"] == 120 - won_by_api and result["updated"] == won_by_api and result["skipped"] == 0


def test_two_imports_of_overlapping_files_make_one_record_per_identifier(merchant: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of both imports take the claim fence in turn: the second to claim an identifier
    finds it taken and updates that record instead of creating a second one."""
    monkeypatch.setattr(importer, "CHUNK_ROWS", 20)
    first = start_import(merchant, csv_bytes([person(f"user{n}", f"user{n}@example.com") for n in range(0, 80)])).json()
    second = start_import(merchant, csv_bytes([person(f"user{n}", f"user{n}@example.com", Phone="+33100")
                                               for n in range(40, 120)])).json()
    barrier = threading.Barrier(2)

    def run(job: dict[str, Any]) -> None:
        barrier.wait()
        run_worker(merchant, job["id"])

    with atomic_dynamodb(), ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, [first, second]))
    reports = [report(merchant, first["id"]), report(merchant, second["id"])]
    customers = all_customers(merchant)
    assert sorted(c["username"] for c in customers) == sorted(f"user{n}" for n in range(120))
    # A row of the second import over a record the first made is an update (its Phone), or unchanged
    # when the first import's row (Phone blank: kept) comes after it.
    assert sum(r["created"] for r in reports) == 120 and sum(r["updated"] + r["unchanged"] for r in reports) == 40
    assert all(r["skipped"] == 0 for r in reports)


# --- a forgiving file (issue 19) -----------------------------------------------------------------------------
def french_excel(rows: list[dict[str, str]], header: list[str] | None = None) -> bytes:
    """As French Excel saves "CSV UTF-8 (délimité par des points-virgules)": BOM, `;`, CRLF."""
    return csv_bytes(rows, header=header or HEADER, delimiter=";")


def test_a_semicolon_file_with_renamed_reordered_columns_imports(merchant: str) -> None:
    header = [f" {h.upper().replace(' ', '_')} " for h in reversed(HEADER)] + [""]
    cells = person("ana", "ana@example.fr", **{"Company Name": "Lune; Fils, \"&\" Cie",
                                               "Address Line 2": "Bât. B\r\n2e", "Tags": "vip;eu"})
    data = french_excel([[cells[h] for h in reversed(HEADER)] + [""]], header=header)  # type: ignore[list-item]
    assert data.count(b";") > data.count(b",")
    result = import_file(merchant, data)
    assert (result["status"], result["created"], result["errors"]) == ("done", 1, [])
    ana = by_username(merchant, "ana")
    assert (ana["company"], ana["address"]["address_2"], ana["tags"]) == ('Lune; Fils, "&" Cie', "Bât. B\r\n2e",
                                                                           ["vip", "eu"])


@pytest.mark.parametrize("delimiter", ["\t", ","])
def test_tab_and_comma_files_import_the_same(merchant: str, delimiter: str) -> None:
    result = import_file(merchant, csv_bytes([person("ana", "ana@example.fr", Tags="a;b")], delimiter=delimiter))
    assert result["created"] == 1 and by_username(merchant, "ana")["tags"] == ["a", "b"]


@pytest.mark.parametrize(("first_line", "says"), [
    (b"Name|Mail|Phone\r\n", "names none of the template's columns"),
    ((";".join([*HEADER, "Notes"]) + "\r\n").encode(), "unknown column Notes"),
    ((";".join(HEADER[:-1]) + "\r\n").encode(), "missing Tags"),
])
def test_a_header_that_does_not_fit_is_400_naming_why_and_changes_nothing(merchant: str, first_line: bytes,
                                                                         says: str) -> None:
    create(merchant, username="ana", first_name="Ana")
    response = start_import(merchant, first_line + b"ana;;Changed\r\n")
    assert response.status == 400 and says in response.json()["detail"], response.body
    assert response.headers["content-type"].startswith("application/problem+json")
    assert by_username(merchant, "ana")["first_name"] == "Ana"
    assert aws.client("s3").list_objects_v2(Bucket=settings().import_bucket).get("KeyCount") == 0


@pytest.mark.parametrize("query", [{"tags": "append"}, {"tags": ""}, {"blank_cells": "erase"}])
def test_an_invalid_tags_or_blank_cells_value_is_a_problem_and_starts_nothing(merchant: str,
                                                                             query: dict[str, str]) -> None:
    response = api(merchant, "POST", "/v1/customer-imports", body=csv_bytes([person("ana", "a@example.fr")]).decode(),
                   headers={"Content-Type": "text/csv"}, query=query)
    assert response.status in (400, 422) and response.headers["content-type"].startswith("application/problem+json")
    assert api(merchant, "GET", "/v1/customer-imports").json()["items"] == []


def test_tags_merge_by_default_and_replace_when_asked(merchant: str) -> None:
    create(merchant, username="ana", tags=["vip", "eu"])
    merged = import_file(merchant, csv_bytes([row(Username="ana", Tags="new;vip")]))
    assert merged["tags"] == "merge" and merged["updated"] == 1
    assert by_username(merchant, "ana")["tags"] == ["vip", "eu", "new"]
    assert import_file(merchant, csv_bytes([row(Username="ana")]), blank_cells="clear")["unchanged"] == 1
    assert by_username(merchant, "ana")["tags"] == ["vip", "eu", "new"]  # merge never removes a tag
    replaced = import_file(merchant, csv_bytes([row(Username="ana", Tags="only")]), tags="replace")
    assert replaced["tags"] == "replace" and by_username(merchant, "ana")["tags"] == ["only"]
    assert [c["username"] for c in listing(merchant, tag="vip").json()["items"]] == []


def test_a_postal_code_that_lost_its_leading_zero_is_imported_as_written_with_a_warning(merchant: str) -> None:
    result = import_file(merchant, csv_bytes([person("ana", "ana@example.fr", **{"Postal Code": "1000"}),
                                              person("bo", "bo@example.fr", **{"Postal Code": "01000"}),
                                              person("cy", "cy@example.com", **{"Country Code": "US", "State": "NY",
                                                                                "Postal Code": "501"})]))
    assert (result["created"], result["warning_count"]) == (3, 2)
    assert [(w["row"], w["column"]) for w in result["warnings"]] == [(2, "Postal Code"), (4, "Postal Code")]
    assert "leading zero" in result["warnings"][0]["reason"]
    assert by_username(merchant, "ana")["address"]["postal_code"] == "1000"


def test_an_upload_that_is_not_utf8_near_its_end_fails_and_changes_nothing(merchant: str) -> None:
    job = api(merchant, "POST", "/v1/customer-imports", body={"upload": True}).json()
    good = csv_bytes([person(f"u{n}", f"u{n}@example.fr") for n in range(30)], delimiter=";")
    data = good + ";".join(person("zz", "zz@example.fr", **{"First Name": "Ren\xe9e"}).values()).encode("cp1252")
    aws.client("s3").put_object(Bucket=settings().import_bucket, Key=object_key(merchant, job["id"]), Body=data)
    run_worker(merchant, job["id"])
    failed = report(merchant, job["id"])
    assert failed["status"] == "failed" and "UTF-8" in failed["failure"] and "line 32" in failed["failure"]
    assert (failed["rows_processed"], all_customers(merchant)) == (0, [])


# --- the rejected rows, ready to fix and import again ------------------------------------------------------------
def test_the_rejected_rows_download_in_the_file_s_delimiter_and_columns_with_a_reason(merchant: str) -> None:
    from tests.export_support import fetch

    header = ["Customer ID", *HEADER]
    rows = [
        {"Customer ID": "cus_x", **person("ok", "ok@example.fr")},
        {"Customer ID": "", **person("bad", "not-an-email", **{"Company Name": "=HYPERLINK(\"http://x\")",
                                                               "Postal Code": "01000", "Phone": "+33 6"})},
        {"Customer ID": "", **person("nocity", "nocity@example.fr", City="", **{"Address Line 2": "a;b\r\nc"})},
    ]
    result = import_file(merchant, french_excel(rows, header=header))
    assert (result["created"], result["skipped"]) == (1, 2)
    assert "X-Amz-Expires=900" in result["errors_url"]
    data = fetch(result["errors_url"])
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert lines[0] == [*header, "reason"]
    bad, nocity = (dict(zip(lines[0], line, strict=True)) for line in lines[1:])
    assert bad["reason"] == "Email is not a valid email address." and "City" in nocity["reason"]
    # Spreadsheet-safe: the merchant's formula is guarded, digits keep their zeros, the phone is text.
    assert (bad["Company Name"], bad["Postal Code"], bad["Phone"]) == ("'=HYPERLINK(\"http://x\")", '="01000"', "'+33 6")
    assert nocity["Address Line 2"] == "a;b\r\nc"
    # One row fixed, the file imported again as it is (the reason column ignored); the other is still rejected.
    again = import_file(merchant, data.replace(b"not-an-email", b"bad@example.fr"))
    assert (again["created"], again["skipped"]) == (1, 1), again["errors"]
    assert by_username(merchant, "bad")["company"] == '=HYPERLINK("http://x")'
    assert by_username(merchant, "bad")["address"]["postal_code"] == "01000"


def test_an_import_without_rejected_rows_has_no_errors_url(merchant: str) -> None:
    result = import_file(merchant, csv_bytes([person("ana", "ana@example.fr")]))
    assert result["errors_url"] is None and result["errors"] == []


# --- round trip: the customer list export imported back changes nothing ----------------------------------------
def table_items() -> dict[tuple[str, str], dict[str, Any]]:
    table = aws.table()
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {}
    while True:
        page = table.scan(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return {(i[keys.PK], i[keys.SK]): i for i in items}
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_a_customer_list_export_imported_back_changes_nothing(merchant: str) -> None:
    from functions.retention.erase_handler import lambda_handler as erase_api
    from tests.export_support import export_file

    bodies = [
        {"username": "00042", "email": "zoe@example.fr", "first_name": "Zoé", "last_name": "Müller-Œuvre",
         "company": "=1+1", "phone": "+33612345678", "tags": ["vip", "-eu", "=x"],
         "address": address(postal_code="01000", city="Bourg-en-Bresse", address_2="'quoted")},
        {"email": "lea@example.fr", "name": "'=already guarded", "phone": "0612345678",
         "address": address(country="US", region="NY", city="Holtsville", postal_code="00501")},
        {"username": "@home", "first_name": "+Plus", "last_name": "a;=b", "company": "x,\u00a0-y",
         "address": address(address_1="1 rue; =cmd|' /C calc'!A0", postal_code="75001", city="Paris")},
        {"username": "shop-1", "email": "shop@example.com", "company": "@Shop", "store": "shopify", "tags": ["s"]},
        {"username": "erased-with-username", "email": "gone@example.fr", "first_name": "Gone", "last_name": "Away",
         "phone": "+4930123", "address": address(country="DE", postal_code="01067", city="Dresden")},
        {"email": "nameless@example.fr", "last_name": "Nobody", "address": address()},
    ]
    created = [create(merchant, **body) for body in bodies]
    assert all(r.status == 201 for r in created), [r.body for r in created]
    for erased in created[4:]:
        answer = call(erase_api, api_event("POST", "/v1/customers/{customer_id}/erase",
                                           path_params={"customer_id": erased.json()["id"]}, merchant_id=merchant))
        assert answer.status == 200, answer.body
    before_api = all_customers(merchant)
    data = export_file(merchant, {"type": "customers", "format": "csv"})
    before = table_items()

    assert b'"=""01000"""' in data and b"'=1+1" in data and b"'+33612345678" in data and b"redacted" in data
    result = import_file(merchant, data)

    assert result["status"] == "done" and result["errors"] == [], result["errors"]
    assert (result["rows_processed"], result["created"], result["updated"], result["unchanged"], result["skipped"]) \
        == (6, 0, 0, 6, 0)
    assert all_customers(merchant) == before_api
    after = table_items()
    # Only the import's own items (its job, and the claim fence its chunks held) were written.
    changed = [key for key, item in after.items() if before.get(key) != item and key != tuple(keys.customer_claim_fence(merchant).values())]
    assert all(result["id"] in "".join(key) for key in changed), changed
    assert [key for key in before if key not in after] == []


@pytest.mark.parametrize("change", ["email", "name"])
def test_an_erased_customer_is_never_recreated_nor_changed_by_an_import(merchant: str, change: str) -> None:
    from functions.retention.erase_handler import lambda_handler as erase_api
    from tests.export_support import export_file

    customer = create(merchant, email="gone@example.fr", first_name="Gone", last_name="Away", address=address()).json()
    old_export = export_file(merchant, {"type": "customers", "format": "csv"})  # taken before the erasure
    erased = call(erase_api, api_event("POST", "/v1/customers/{customer_id}/erase",
                                       path_params={"customer_id": customer["id"]}, merchant_id=merchant)).json()
    data = old_export if change == "email" else export_file(merchant, {"type": "customers", "format": "csv"}).replace(
        b",Gone,", b",Back,", 1)
    result = import_file(merchant, data)
    assert (result["created"], result["updated"], result["skipped"]) == (0, 0, 1)
    assert "erased" in result["errors"][0]["reason"]
    assert all_customers(merchant) == [erased]


def test_an_upload_saved_as_excel_unicode_text_imports(merchant: str) -> None:
    """Excel's "Unicode Text": UTF-16 LE with its BOM, tab-separated, CRLF."""
    job = api(merchant, "POST", "/v1/customer-imports", body={"upload": True}).json()
    data = csv_bytes([person("zoe", "zoe@example.fr", **{"First Name": "Zoé", "Tags": "vip;eu"})], bom=False,
                     delimiter="\t").decode("utf-8").encode("utf-16")
    assert data.startswith(b"\xff\xfe")
    aws.client("s3").put_object(Bucket=settings().import_bucket, Key=object_key(merchant, job["id"]), Body=data)
    run_worker(merchant, job["id"])
    assert report(merchant, job["id"])["created"] == 1
    zoe = by_username(merchant, "zoe")
    assert (zoe["first_name"], zoe["tags"]) == ("Zoé", ["vip", "eu"])
