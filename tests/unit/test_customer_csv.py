"""The pure part of customer CSV files: decoding, header, cells, row checks, what a row does to a
record, the export column table and address fingerprints."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from functions.customers.csv_rows import (
    COUNTRY_CODES,
    POSTAL_CODE_NOT_USED,
    STATE_REQUIRED,
    CsvFileError,
    CustomerRow,
    RowError,
    RowRejected,
    check_header,
    decoded_lines,
    new_customer,
    parse_row,
    read_records,
    template_csv,
    unescape_cell,
    updated_customer,
)
from shared.customers.model import CUSTOMER_CSV_COLUMNS, CUSTOMER_CSV_HEADER, Customer, customer_to_csv_row
from shared.customers.rules import address_fingerprint
from shared.values.models import Address

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HEADER = list(CUSTOMER_CSV_HEADER)


def cells(**values: str) -> list[str]:
    return [values.get(name, "") for name in HEADER]


def full(**values: str) -> list[str]:
    return cells(**{"Username": "ana", "Email": "ana@example.com", "First Name": "Ana", "Address Line 1": "1 rue Haute",
                    "City": "Lyon", "Postal Code": "69001", "Country Code": "FR", **values})


def parsed(**values: str) -> CustomerRow:
    result = parse_row(2, full(**values))
    assert isinstance(result, CustomerRow), result
    return result


def records_of(data: bytes, chunk: int = 7) -> list[list[str]]:
    return list(read_records(decoded_lines(data[i:i + chunk] for i in range(0, len(data), chunk))))


# --- decoding ---------------------------------------------------------------------------------------
def test_the_template_columns_are_design_section_4_in_order() -> None:
    assert HEADER == ["Username", "Email", "First Name", "Last Name", "Full Name", "Company Name", "Phone",
                      "Address Line 1", "Address Line 2", "City", "State", "Postal Code", "Country Code", "Tags"]
    assert [c.header for c in CUSTOMER_CSV_COLUMNS] == HEADER


def test_the_template_is_utf8_with_bom_and_crlf() -> None:
    data = template_csv()
    assert data.startswith(b"\xef\xbb\xbf") and data.endswith(b"\r\n")
    assert records_of(data) == [HEADER]


@pytest.mark.parametrize("bom", [True, False])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_bom_crlf_lf_and_quoted_commas_and_newlines(bom: bool, newline: str) -> None:
    text = ("\ufeff" if bom else "") + newline.join([
        ",".join(HEADER),
        'ana,ana@example.com,Ana,"Lima, Jr.",,"Lima ""&"" Fils",,"1 rue Haute' + newline + 'Bât. B",,Lyon,,69001,FR,vip;eu',
        "",
    ])
    header, row = records_of(text.encode("utf-8"))
    assert header == HEADER
    assert row[3] == "Lima, Jr." and row[5] == 'Lima "&" Fils' and row[7] == "1 rue Haute" + newline.replace("\r\n", "\r\n") + "Bât. B"


def test_multibyte_characters_split_across_network_chunks_decode() -> None:
    data = ("\ufeff" + ",".join(HEADER) + "\r\nzoé,,Zoé Œuvre,,,,,,,,,,,\r\n").encode("utf-8")
    for size in (1, 2, 3, 5):
        assert records_of(data, chunk=size)[1][2] == "Zoé Œuvre"


def test_a_file_that_is_not_utf8_is_refused_as_a_whole() -> None:
    with pytest.raises(CsvFileError, match="UTF-8"):
        records_of(("Username\r\nRen" + "é").encode("latin-1"))


def test_broken_quoting_names_its_row() -> None:
    data = (",".join(HEADER) + '\r\nana,"ana@example.com\r\n').encode()
    with pytest.raises(CsvFileError, match="Row 2"):
        records_of(data)


# --- header ---------------------------------------------------------------------------------------------
def test_the_header_is_the_templates() -> None:
    check_header(HEADER)
    check_header([f"  {h.upper()} " for h in HEADER] + ["", " "])
    check_header(["\ufeffUsername", *HEADER[1:]])


def test_an_empty_file_is_refused_as_such() -> None:
    with pytest.raises(CsvFileError, match="empty"):
        check_header(next(iter(records_of(b"")), None))


@pytest.mark.parametrize("header", [[], HEADER[:-1], [*HEADER, "Notes"], [HEADER[1], HEADER[0], *HEADER[2:]],
                                    ["User Name", *HEADER[1:]]])
def test_any_other_header_rejects_the_file(header: list[str] | None) -> None:
    with pytest.raises(CsvFileError, match="template"):
        check_header(header)


# --- cells and row checks -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "value"), [
    ("  Ana  ", "Ana"), ('="00123"', "00123"), ('=""', ""), ("'+33612345678", "+33612345678"),
    ("'=SUM(A1)", "=SUM(A1)"), ("'-minus", "-minus"), ("'@home", "@home"), ("'quoted", "'quoted"),
    ("=1+1", "=1+1"), ('="12a"', '="12a"'),
])
def test_cells_undo_the_spreadsheet_escapes_of_our_exports(raw: str, value: str) -> None:
    assert unescape_cell(raw) == value


def test_a_blank_row_is_ignored() -> None:
    assert parse_row(3, cells()) is None
    assert parse_row(3, [""] * 20) is None
    assert parse_row(3, []) is None


@pytest.mark.parametrize(("row", "reason"), [
    (["ana", "ana@example.com"], "The row has 2 cells; the template has 14."),
    ([*full(), "extra"], "The row has 15 cells; the template has 14."),
    (cells(**{"First Name": "Ana"}), "Username or Email is required to identify the customer."),
    (full(Email="ana at example.com"), "Email is not a valid email address."),
    (full(**{"Country Code": "FRA"}), "Country Code must be an ISO 3166-1 alpha-2 code such as FR or US."),
    (full(**{"Postal Code": "1" * 21}), "Postal Code is longer than 20 characters."),
    (full(**{"Last Name": "x" * 201}), "Last Name is longer than 200 characters."),
    (full(Tags=";".join(f"t{n}" for n in range(41))), "Tags has 41 tags; a customer has at most 40."),
    (full(Tags="x" * 101), "A tag is longer than 100 characters."),
])
def test_rows_with_bad_cells_are_reported_with_their_number(row: list[str], reason: str) -> None:
    assert parse_row(7, row) == RowError(7, reason)


def test_tags_are_split_on_semicolons_trimmed_and_deduplicated() -> None:
    assert parsed(Tags=" vip ; eu;;vip; ").tags == ["vip", "eu"]
    assert parsed(Tags="").tags is None


def test_country_codes_are_read_in_any_case() -> None:
    assert parsed(**{"Country Code": "fr"}).values["address.country"] == "FR"


def test_country_tables_hold_only_iso_codes() -> None:
    assert len(COUNTRY_CODES) == 250 and {"FR", "US", "XK"} <= COUNTRY_CODES
    assert STATE_REQUIRED <= COUNTRY_CODES and POSTAL_CODE_NOT_USED <= COUNTRY_CODES
    assert not STATE_REQUIRED & POSTAL_CODE_NOT_USED


# --- creating --------------------------------------------------------------------------------------------------
def test_a_row_creates_a_manual_record() -> None:
    customer = new_customer(parsed(Tags="vip", Phone="+331"), NOW)
    assert customer.id.startswith("cus_") and customer.store == "manual" and customer.tags == ["vip"]
    assert customer.address == Address(address_1="1 rue Haute", city="Lyon", postal_code="69001", country="FR")
    assert (customer.username, customer.email, customer.phone, customer.created_at) == ("ana", "ana@example.com", "+331", NOW)


@pytest.mark.parametrize(("values", "reason"), [
    ({"First Name": ""}, "A new customer needs First Name, Last Name, Full Name or Company Name."),
    ({"Address Line 1": "", "City": "", "Postal Code": "", "Country Code": ""},
     "A new customer needs Address Line 1, City and Country Code."),
    ({"Address Line 1": ""}, "The address needs Address Line 1."),
    ({"City": "", "Country Code": ""}, "The address needs City, Country Code."),
    ({"Postal Code": ""}, "Postal Code is required for addresses in FR."),
    ({"Country Code": "CA", "Postal Code": "H2X 1Y4"}, "State is required for addresses in CA."),
])
def test_creation_needs_the_template_fields(values: dict[str, str], reason: str) -> None:
    with pytest.raises(RowRejected) as rejected:
        new_customer(parsed(**values), NOW)
    assert rejected.value.reason == reason


@pytest.mark.parametrize("values", [{"First Name": "", "Last Name": "Lima"}, {"First Name": "", "Full Name": "Ana L"},
                                    {"First Name": "", "Company Name": "Lima SA"},
                                    {"Country Code": "IE", "Postal Code": ""},
                                    {"Country Code": "CA", "State": "QC", "Postal Code": "H2X 1Y4"}])
def test_creation_accepts_any_name_field_and_countries_without_postal_codes(values: dict[str, str]) -> None:
    assert new_customer(parsed(**values), NOW).store == "manual"


# --- updating ---------------------------------------------------------------------------------------------------
def stored(**changes: object) -> Customer:
    base = Customer(id="cus_1", username="ana", email="ana@example.com", first_name="Ana", last_name="Lima",
                    phone="+331", tags=["vip"], created_at=NOW,
                    address=Address(first_name="Ana", address_1="1 rue Haute", address_2="Bât. B", city="Lyon",
                                    postal_code="69001", country="FR"))
    return base.model_copy(update=changes)


def update_row(**values: str) -> CustomerRow:
    result = parse_row(2, cells(**{"Username": "ana", **values}))
    assert isinstance(result, CustomerRow), result
    return result


def test_blank_cells_keep_stored_values() -> None:
    after = updated_customer(stored(), update_row(Phone="+332"), "keep")
    assert after == stored(phone="+332")


def test_blank_cells_clear_stored_values_when_asked() -> None:
    after = updated_customer(stored(), update_row(**{"Last Name": "Li"}), "clear")
    assert (after.username, after.email, after.first_name, after.last_name, after.phone, after.tags, after.address) == \
        ("ana", None, None, "Li", None, [], None)


def test_a_partial_address_update_keeps_the_other_parts_and_the_addresss_names() -> None:
    after = updated_customer(stored(), update_row(**{"Address Line 1": "2 rue Basse"}), "keep")
    assert after.address is not None
    assert (after.address.address_1, after.address.address_2, after.address.first_name) == ("2 rue Basse", "Bât. B", "Ana")


def test_an_update_cannot_leave_an_incomplete_address() -> None:
    with pytest.raises(RowRejected, match="Address Line 1"):
        updated_customer(stored(address=None), update_row(City="Lyon"), "keep")


def test_clearing_blank_cells_never_clears_the_identifier_the_row_gave() -> None:
    by_email = parse_row(2, cells(Email="ana@example.com"))
    assert isinstance(by_email, CustomerRow)
    after = updated_customer(stored(), by_email, "clear")
    assert (after.username, after.email) == (None, "ana@example.com")


# --- export rows re-import -------------------------------------------------------------------------------------
def test_an_exported_row_parses_back_to_the_same_record() -> None:
    customer = stored(name="Ana Lima", company="Lima SA", tags=["vip", "eu"])
    row = customer_to_csv_row(customer)
    assert row["Tags"] == "vip;eu" and row["Postal Code"] == "69001" and row["Full Name"] == "Ana Lima"
    out = io.StringIO()
    csv.writer(out).writerow([row[h] for h in HEADER])
    again = parse_row(2, next(csv.reader(io.StringIO(out.getvalue()))))
    assert isinstance(again, CustomerRow)
    assert updated_customer(customer, again, "clear") == customer


# --- fingerprints ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("one", "two"), [
    (("12 Rue des Lilas", "69003", "FR"), ("12 rue des lilas", "69003", "fr")),
    (("12, rue des Lilas.", "69 003", "FR"), ("12 rue des Lilas", "69003", "FR")),
    (("3 Rue de l'Église", "75001", "FR"), ("3 RUE DE L EGLISE", "75001", "FR")),
    (("Straße 5", "10115", "DE"), ("STRASSE 5", "10115", "DE")),
    (("10 Downing St", "SW1A 2AA", "GB"), ("10 downing st", "sw1a2aa", "GB")),
])
def test_fingerprints_ignore_case_spacing_punctuation_and_accents(one: tuple[str, str, str], two: tuple[str, str, str]) -> None:
    def fingerprint(parts: tuple[str, str, str]) -> str:
        return address_fingerprint(Address(address_1=parts[0], postal_code=parts[1], country=parts[2], city="X"))

    assert fingerprint(one) == fingerprint(two)


@pytest.mark.parametrize("other", [("14 rue des Lilas", "69003", "FR"), ("12 rue des Lilas", "69004", "FR"),
                                   ("12 rue des Lilas", "69003", "BE")])
def test_fingerprints_differ_by_country_postal_code_or_first_line(other: tuple[str, str, str]) -> None:
    base = Address(address_1="12 rue des Lilas", postal_code="69003", country="FR", city="Lyon")
    changed = Address(address_1=other[0], postal_code=other[1], country=other[2], city="Lyon")
    assert address_fingerprint(base) != address_fingerprint(changed)


def test_the_second_line_and_city_do_not_change_a_fingerprint() -> None:
    base = Address(address_1="12 rue des Lilas", postal_code="69003", country="FR", city="Lyon")
    other = base.model_copy(update={"address_2": "Apt 4", "city": "LYON 3E"})
    assert address_fingerprint(base) == address_fingerprint(other)
