"""Redaction rules (DESIGN.md §1.6), table-driven: what becomes `redacted`, what is kept, the
single-name rule, idempotency; and the retention calendar (days, calendar months)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.customers.model import Customer
from shared.merchants.model import RetentionSettings
from shared.orders.model import OrderActivity
from shared.retention.redaction import REDACTED, redact_activity_changes, redact_address, redact_customer
from shared.retention.timers import TimerAction, add_months, due_moments, month_after
from shared.values.models import Address

NOW = datetime(2026, 6, 8, 12, 0, tzinfo=UTC)
FULL = {"first_name": "Camille", "last_name": "Dupont", "company": "Lune SARL", "address_1": "12 rue des Lilas",
        "address_2": "Bâtiment B", "city": "Lyon", "region": "Rhône", "postal_code": "69003", "country": "FR",
        "phone": "+33698765432", "email": "camille@example.fr", "language": "fr"}


@pytest.mark.parametrize(("field", "expected"), [
    ("first_name", "Camille"), ("last_name", REDACTED), ("company", "Lune SARL"), ("address_1", REDACTED),
    ("address_2", REDACTED), ("city", "Lyon"), ("region", "Rhône"), ("postal_code", REDACTED), ("country", "FR"),
    ("phone", REDACTED), ("email", REDACTED), ("language", "fr"), ("name", None),
])
def test_each_field_of_an_address(field: str, expected: str | None) -> None:
    assert getattr(redact_address(Address(**FULL)), field) == expected


@pytest.mark.parametrize(("names", "expected"), [
    ({"first_name": "Camille", "last_name": "Dupont"}, ("Camille", REDACTED, None)),
    ({"name": "Camille Dupont"}, (None, None, "Camille Dupont")),
    ({"first_name": "Camille"}, ("Camille", None, None)),
    ({"first_name": "Camille", "name": "Camille Dupont"}, ("Camille", None, "Camille Dupont")),
    ({"last_name": "Dupont"}, (None, REDACTED, None)),
    ({"first_name": "Camille", "last_name": "Dupont", "name": "Camille Dupont"}, ("Camille", REDACTED, REDACTED)),
    ({"company": "Lune SARL"}, (None, None, None)),
])
def test_the_single_name_rule(names: dict[str, str], expected: tuple[str | None, ...]) -> None:
    address = Address(address_1="1 rue", city="Lyon", country="FR", **names)
    after = redact_address(address)
    assert (after.first_name, after.last_name, after.name) == expected


def test_absent_fields_stay_absent() -> None:
    after = redact_address(Address(first_name="Camille", address_1="1 rue", city="Lyon", country="FR"))
    assert (after.address_2, after.postal_code, after.phone, after.email) == (None, None, None, None)


def test_redacting_twice_changes_nothing_and_never_restores() -> None:
    once = redact_address(Address(**FULL))
    assert redact_address(once) == once
    assert "Dupont" not in once.model_dump_json() and "Lilas" not in once.model_dump_json()


def test_a_customer_record_is_redacted_by_the_same_rules_and_marked_erased() -> None:
    customer = Customer(id="cus_1", username="C-1042", email="camille@example.fr", first_name="Camille",
                        last_name="Dupont", name="Camille Dupont", company="Lune SARL", phone="+33698765432",
                        address=Address(**FULL), tags=["vip"], created_at=NOW)
    erased = redact_customer(customer, NOW)
    assert (erased.username, erased.first_name, erased.company, erased.tags) == ("C-1042", "Camille", "Lune SARL", ["vip"])
    assert (erased.last_name, erased.name, erased.email, erased.phone) == (REDACTED,) * 4
    assert erased.address == redact_address(Address(**FULL)) and erased.erased_at == NOW
    later = redact_customer(erased, datetime(2027, 1, 1, tzinfo=UTC))
    assert later == erased  # erased_at keeps the first erasure


@pytest.mark.parametrize(("changes", "expected"), [
    ([{"field": "shipping_address", "changed": ["address_1", "postal_code"]}], None),  # names only: nothing to do
    ([{"field": "shipping_address", "from": {"address_1": "12 rue des Lilas"}, "to": {"address_1": "3 place"}}],
     [{"field": "shipping_address", "from": REDACTED, "to": REDACTED}]),
    ([{"field": "customer.email", "from": "a@example.fr", "to": None}],
     [{"field": "customer.email", "from": REDACTED, "to": None}]),
    ([{"field": "lines.unit_price", "sku": "A", "from": "1.00", "to": "2.00"}], None),
    ([{"field": "order_number", "from": "#1", "to": "#2"}], None),
])
def test_address_changes_in_an_activity_log(changes: list[dict[str, Any]], expected: list[dict[str, Any]] | None) -> None:
    entry = OrderActivity(type="edited", at=NOW, changes=changes)
    assert redact_activity_changes(entry) == expected


@pytest.mark.parametrize(("created", "months", "due"), [
    (datetime(2026, 3, 10, 12, tzinfo=UTC), 15, datetime(2027, 6, 10, 12, tzinfo=UTC)),
    (datetime(2026, 3, 31, 12, tzinfo=UTC), 15, datetime(2027, 6, 30, 12, tzinfo=UTC)),
    (datetime(2026, 11, 30, tzinfo=UTC), 3, datetime(2027, 2, 28, tzinfo=UTC)),
    (datetime(2027, 11, 30, tzinfo=UTC), 3, datetime(2028, 2, 29, tzinfo=UTC)),
    (datetime(2026, 12, 15, tzinfo=UTC), 1, datetime(2027, 1, 15, tzinfo=UTC)),
    (datetime(2026, 1, 15, tzinfo=UTC), 120, datetime(2036, 1, 15, tzinfo=UTC)),
])
def test_deletion_counts_calendar_months(created: datetime, months: int, due: datetime) -> None:
    assert add_months(created, months) == due


def test_due_moments_of_the_default_periods() -> None:
    created = datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert due_moments(created, RetentionSettings()) == {
        TimerAction.redact: datetime(2026, 6, 8, 12, tzinfo=UTC),
        TimerAction.archive: datetime(2026, 5, 9, 12, tzinfo=UTC),
        TimerAction.delete: datetime(2027, 6, 10, 12, tzinfo=UTC)}


def test_months_follow_each_other_across_years() -> None:
    assert month_after(datetime(2026, 12, 1).date()) == datetime(2027, 1, 1).date()
    assert month_after(datetime(2026, 1, 1).date()) == datetime(2026, 2, 1).date()


# --- free text (issue 15, item 3) ----------------------------------------------------------------
def _event(**fields: Any) -> Any:
    from shared.shipments.model import TrackingEvent

    return TrackingEvent.model_validate({"parcel_id": "prc_1", "tracking_number": "N1", "status": "in_transit",
                                         "occurred_at": "2026-01-01T10:00:00Z", "received_at": "2026-01-01T10:01:00Z",
                                         **fields})


@pytest.mark.parametrize(("location", "place", "kept"), [
    ("12 rue des Lilas, 69009 Lyon", {"city": "Lyon", "country": "FR"}, "Lyon, FR"),  # cut to the city
    ("12 rue des Lilas, 69009 Lyon", None, REDACTED),  # nothing given apart: nothing kept
    ("Eindhoven, NL", {"city": "Eindhoven", "country": "NL"}, "Eindhoven, NL"),  # already no finer than a city
    (None, None, None),  # never given: stays absent
])
def test_a_carrier_location_keeps_city_region_and_country_only(location: str | None, place: dict[str, str] | None,
                                                               kept: str | None) -> None:
    from shared.retention.redaction import redact_event

    redacted = redact_event(_event(location=location, place=place, carrier_message="Left with Mme DUPONT"))
    assert (redacted.location, redacted.carrier_message) == (kept, REDACTED)
    assert redact_event(redacted) == redacted  # idempotent


def test_an_event_without_free_text_is_left_as_it_is() -> None:
    from shared.retention.redaction import redact_event

    event = _event(carrier_code="3")
    assert redact_event(event) == event


def test_activity_texts_and_free_text_details_are_redacted() -> None:
    from shared.retention.redaction import redact_activity

    note = OrderActivity(type="note", at=datetime(2026, 1, 1, tzinfo=UTC), text="Camille asked for the back door")
    refunded = OrderActivity(type="refunded", at=datetime(2026, 1, 1, tzinfo=UTC), text="called Camille",
                             details={"reason": "damaged", "note": "Camille again", "refund_id": "ref_1"})
    assert redact_activity(note).text == REDACTED
    assert redact_activity(refunded).text == REDACTED
    assert redact_activity(refunded).details == {"reason": "damaged", "note": REDACTED, "refund_id": "ref_1"}
    plain = OrderActivity(type="shipped", at=datetime(2026, 1, 1, tzinfo=UTC), details={"shipment_id": "shp_1"})
    assert redact_activity(plain) == plain
