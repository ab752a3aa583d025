"""The pure part of customer CSV files: decoding, header, cells, row checks, what a row does to a
record, the export column table and address fingerprints."""

from __future__ import annotations

import codecs
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
    detect_delimiter,
    match_header,
    new_customer,
    open_csv,
    parse_row,
    postal_code_warning,
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


def test_the_template_is_utf8_with_bom_crlf_and_one_valid_sample_row() -> None:
    data = template_csv()
    assert data.startswith(b"\xef\xbb\xbf") and data.endswith(b"\r\n") and data.count(b"\r\n") == 2
    header, sample = records_of(data)
    assert header == HEADER and sample[HEADER.index("Postal Code")] == '="01000"'  # its leading zero kept
    row = parse_row(2, sample)
    assert isinstance(row, CustomerRow) and row.warnings == []
    created = new_customer(row, NOW)
    assert (created.username, created.address and created.address.postal_code, created.tags) == \
        ("camille.dupont", "01000", ["vip", "wholesale"])


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
@pytest.mark.parametrize("header", [
    HEADER,
    [f"  {h.upper()} " for h in HEADER] + ["", " "],                  # case, spaces, trailing empty cells
    ["\ufeffUsername", *HEADER[1:]],                                  # a second BOM
    [h.lower().replace(" ", "_") for h in HEADER],                     # postal_code, first_name...
    [h.replace(" ", "  ").replace("Name", " name\u00a0") for h in HEADER],  # inner and non-breaking spaces
    [HEADER[1], HEADER[0], *reversed(HEADER[2:])],                     # any order
    [*HEADER, "Customer ID", "Store", "Created At", "Erased At"],       # the customer list export
    ["Customer ID", *HEADER, "reason"],                                # a rejected-rows file
])
def test_the_header_matches_names_in_any_order_ignoring_case_spacing_and_bom(header: list[str]) -> None:
    layout = match_header(header)
    assert {c.header for c in layout.columns if c} == set(HEADER)


def test_the_layout_maps_each_position_to_its_column_and_finds_the_customer_id() -> None:
    layout = match_header(["Email", "customer_id", *[h for h in HEADER if h != "Email"]], ";")
    assert layout.delimiter == ";" and layout.customer_id_at == 1
    assert layout.columns[0] is not None and layout.columns[0].field == "email" and layout.columns[1] is None


def test_an_empty_file_is_refused_as_such() -> None:
    with pytest.raises(CsvFileError, match="empty"):
        check_header(next(iter(records_of(b"")), None))


@pytest.mark.parametrize(("header", "says"), [
    ([], "missing Username, Email"),
    (HEADER[:-1], "missing Tags"),
    ([*HEADER, "Notes"], "unknown column Notes"),
    ([*HEADER, "Notes", "Birthday"], "unknown columns Notes, Birthday"),
    (["User Name", *HEADER[1:]], "unknown column User Name"),
    ([*HEADER, "email"], "email appears twice"),
    ([HEADER[0], "", *HEADER[1:]], "column 2 has no name"),
])
def test_any_other_header_rejects_the_file_naming_what_is_wrong(header: list[str], says: str) -> None:
    with pytest.raises(CsvFileError, match="template") as refused:
        check_header(header)
    assert says in str(refused.value)


# --- delimiter ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("line", "delimiter"), [
    (",".join(HEADER), ","),
    (";".join(HEADER), ";"),
    ("\t".join(HEADER), "\t"),
    (";".join(HEADER) + ";Customer ID,Store", ";"),              # commas inside names of ignored columns
    (",".join(f'"{h}"' for h in HEADER), ","),                  # quoted names
    (";".join(f'"{h}, x"' if h == "Tags" else h for h in HEADER), ";"),
    ("Username,Email;First Name;Last Name", ";"),               # most recognised names wins
    ("Username", ","),                                           # a tie: the first of , ; tab
    ("Username\tEmail;Tags", ";"),
    ("Username\tEmail\tTags;x", "\t"),
])
def test_the_delimiter_is_the_one_that_splits_the_header_into_most_known_names(line: str, delimiter: str) -> None:
    assert detect_delimiter(line + "\r\n") == delimiter


@pytest.mark.parametrize("line", ["Name|Mail|Phone", "", "Nom;Courriel", "Username|Email"])
def test_a_header_no_delimiter_fits_is_refused(line: str) -> None:
    with pytest.raises(CsvFileError, match="template's header"):
        detect_delimiter(line)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("bom", [True, False])
def test_a_file_in_any_delimiter_reads_the_same_quoted_cells(delimiter: str, bom: bool) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerow(full(**{"Last Name": "Lima, Jr.; \"Le\"\tGrand", "Address Line 2": "Bât. B\r\n3e", "Tags": "vip;eu"}))
    data = (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")
    layout, records = open_csv(decoded_lines(data[i:i + 5] for i in range(0, len(data), 5)))
    assert layout.delimiter == delimiter and layout.header == tuple(HEADER)
    row = parse_row(2, next(records), layout)
    assert isinstance(row, CustomerRow)
    assert row.values["last_name"] == 'Lima, Jr.; "Le"\tGrand' and row.values["address.address_2"] == "Bât. B\r\n3e"
    assert row.tags == ["vip", "eu"]


def test_cp1252_text_from_excel_is_refused_naming_the_line_and_the_fix() -> None:
    data = (";".join(HEADER) + "\r\nana;ana@example.com;Renée" + ";" * 11 + "\r\n").encode("cp1252")
    with pytest.raises(CsvFileError, match="line 2") as refused:
        open_csv(decoded_lines([data]))
    assert "CSV UTF-8" in str(refused.value)


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
    (["ana", "ana@example.com"], "The row has 2 cells; the header has 14."),
    ([*full(), "extra"], "The row has 15 cells; the header has 14."),
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
    after = updated_customer(stored(), update_row(**{"Last Name": "Li"}), "clear", "replace")
    assert (after.username, after.email, after.first_name, after.last_name, after.phone, after.tags, after.address) == \
        ("ana", None, None, "Li", None, [], None)


@pytest.mark.parametrize(("tags_cell", "mode", "blank_cells", "tags"), [
    ("eu;vip;new", "merge", "keep", ["vip", "eu", "new"]),   # stored first, none lost, no duplicate
    ("new", "merge", "keep", ["vip", "eu", "new"]),
    ("", "merge", "keep", ["vip", "eu"]),
    ("", "merge", "clear", ["vip", "eu"]),                  # merge never removes a tag
    ("new", "replace", "keep", ["new"]),
    ("", "replace", "keep", ["vip", "eu"]),
    ("", "replace", "clear", []),
])
def test_tags_merge_by_default_and_replace_when_asked(tags_cell: str, mode: str, blank_cells: str,
                                                      tags: list[str]) -> None:
    after = updated_customer(stored(tags=["vip", "eu"]), update_row(Tags=tags_cell), blank_cells, mode)  # type: ignore[arg-type]
    assert after.tags == tags


def test_merged_tags_over_the_limit_reject_the_row() -> None:
    with pytest.raises(RowRejected, match="tags=replace"):
        updated_customer(stored(tags=[f"t{n}" for n in range(39)]), update_row(Tags="a;b"), "keep", "merge")


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


# --- postal codes that look cut ---------------------------------------------------------------------------
@pytest.mark.parametrize(("country", "code", "warned"), [
    ("FR", "1000", True), ("FR", "100", True), ("FR", "01000", False), ("FR", "10", False), ("FR", "75001", False),
    ("DE", "1067", True), ("IT", "0100", True), ("ES", "8001", True), ("US", "501", True), ("US", "2134-1234", True),
    ("US", "02134", False), ("US", "02134-1234", False), ("NL", "123 AB", True), ("NL", "1234 AB", False),
    ("NL", "123AB", True), ("BE", "100", True), ("AT", "1010", False), ("CH", "800", True), ("DK", "800", True),
    ("NO", "150", True), ("NO", "0150", False), ("PT", "100-001", True), ("PT", "1000-001", False),
    ("PL", "0-950", True), ("PL", "00-950", False), ("JP", "60-0000", True), ("GB", "123", False),
    ("CA", "H2X", False), ("FR", "redacted", False), ("FR", "", False), (None, "1000", False),
])
def test_a_fixed_length_postal_code_one_or_two_digits_short_gets_a_warning(country: str | None, code: str,
                                                                            warned: bool) -> None:
    assert (postal_code_warning(country, code) is not None) == warned


def test_a_cut_postal_code_is_imported_as_written_with_a_warning() -> None:
    row = parsed(**{"Postal Code": "1000"})
    assert row.values["address.postal_code"] == "1000"
    assert [(w.row, w.column) for w in row.warnings] == [(2, "Postal Code")]
    assert "leading zero" in row.warnings[0].reason and "1000" not in row.warnings[0].reason  # no personal data


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


# --- cells through an export and back ---------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    "=1+1", "'quoted", "'=1+1", "''=x", "+33612345678", "-minus", "@home", "a;=b", "a;'=b", "'x'=y", "vip;-eu",
    "x,\u00a0+1", "01234", "007", "Zoé Müller", "=HYPERLINK(\"http://x\")", "'", "''", " '=x",
])
@pytest.mark.parametrize("digits_text", [True, False])
def test_a_value_written_for_a_spreadsheet_reads_back_exactly_and_never_as_a_formula(value: str, digits_text: bool) -> None:
    from shared.values.cells import read_text, spreadsheet_text

    for starts_line in (True, False):
        written = spreadsheet_text(value, digits_text=digits_text, starts_line=starts_line)
        assert read_text(written) == value.strip()
        assert not written.lstrip(" \u00a0").startswith(("=", "+", "-", "@")) or written == f'="{value}"'


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_excel_unicode_text_utf16_with_its_bom_reads_like_utf8(encoding: str) -> None:
    text = "\t".join(HEADER) + "\r\n" + "\t".join(full(**{"First Name": "Zoé Œuvre", "Tags": "vip;eu"})) + "\r\n"
    data = text.encode(encoding)
    if encoding != "utf-16":  # the plain codec writes its BOM itself
        data = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + data
    for size in (1, 3, 64):
        layout, records = open_csv(decoded_lines(data[i:i + size] for i in range(0, len(data), size)))
        row = parse_row(2, next(records), layout)
        assert layout.delimiter == "\t" and isinstance(row, CustomerRow)
        assert row.values["first_name"] == "Zoé Œuvre" and row.tags == ["vip", "eu"]


def test_utf16_without_its_bom_is_refused_saying_so() -> None:
    with pytest.raises(CsvFileError, match="UTF-16 without its byte order mark"):
        open_csv(decoded_lines([("\t".join(HEADER) + "\r\n").encode("utf-16-le")]))
