"""Retention of shipments against moto (DESIGN.md §1.6): timers written at creation, redaction
after `redact_after_days`, automatic archive at 60 days, deletion after `delete_after_months`
calendar months, the `retention` schedule catching up from the due index, and settings that apply
to shipments created afterwards. moto never expires TTL items: here the schedule does the work
(the TTL path is in test_retention_stream.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.shipments.handler import lambda_handler as shipments_api
from shared.dynamo import keys
from shared.events.outbox import outbox_events
from shared.merchants.store import MerchantRepository
from shared.notifications.model import NotificationTarget
from shared.notifications.store import NotificationRepository
from shared.platform import aws, clock
from shared.shipments.store import ShipmentRepository
from tests.apigw import api_event, call
from tests.component.retention_support import (
    CREATED,
    create_shipment,
    dynamodb_requests,
    get_shipment,
    new_merchant,
    partition,
    run_schedule,
    shipment_action,
    timers,
    track,
    tracking_number_item,
    travel,
)
from tests.factories import address


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    return new_merchant()


def recipient(merchant: str, shipment_id: str) -> dict[str, Any]:
    return get_shipment(merchant, shipment_id).json()["recipient"]


def search(merchant: str, q: str) -> list[str]:
    response = call(shipments_api, api_event("GET", "/v1/shipments", query={"q": q}, merchant_id=merchant))
    return [s["id"] for s in response.json()["items"]]


# --- timers ---------------------------------------------------------------------------------------
def test_a_new_shipment_is_written_with_its_three_timers_in_the_due_index(merchant: str) -> None:
    shipment = create_shipment(merchant)
    found = timers(merchant, shipment["id"])
    assert set(found) == {"REDACT", "ARCHIVE", "DELETE"}
    expected = {"REDACT": datetime(2026, 6, 8, 12, 0, tzinfo=UTC), "ARCHIVE": datetime(2026, 5, 9, 12, 0, tzinfo=UTC),
                "DELETE": datetime(2027, 6, 10, 12, 0, tzinfo=UTC)}
    for action, due in expected.items():
        timer = found[action]
        assert int(timer["ttl"]) == int(due.timestamp())
        assert timer["due_pk"] == f"DUE#{due:%Y-%m}"
        assert timer["due_sk"] == f"{int(due.timestamp()):010d}#{keys.shipment_partition(merchant, shipment['id'])}"
        assert (timer["redact_after_days"], timer["delete_after_months"]) == (90, 15)
    # Ids and times only: nothing of the recipient on a timer.
    assert "Dupont" not in str(found) and "camille" not in str(found).lower()


def test_deletion_is_due_in_calendar_months_the_last_day_when_the_month_is_shorter(merchant: str) -> None:
    travel(CREATED.replace(month=3, day=31), days=0)
    shipment = create_shipment(merchant)
    # 31 March 2026 + 15 months: there is no 31 June, so 30 June 2027.
    assert timers(merchant, shipment["id"])["DELETE"]["due_at"] == "2027-06-30T12:00:00.000Z"


# --- redaction ------------------------------------------------------------------------------------
def test_after_90_days_the_recipients_personal_data_reads_redacted(merchant: str) -> None:
    shipment = create_shipment(merchant, recipient=address(company="Lune SARL", address_2="Bâtiment B",
                                                           region="Rhône"))
    travel(days=90)
    run_schedule()
    after = get_shipment(merchant, shipment["id"]).json()
    assert after["recipient"] == {
        "first_name": "Camille", "last_name": "redacted", "name": None, "company": "Lune SARL",
        "address_1": "redacted", "address_2": "redacted", "city": "Lyon", "region": "Rhône",
        "postal_code": "redacted", "country": "FR", "phone": "redacted", "email": "redacted", "language": "fr"}
    assert datetime.fromisoformat(after["redacted_at"]) == datetime(2026, 6, 8, 12, 0, tzinfo=UTC)
    # Everything else of the shipment is untouched (the return address is the merchant's).
    assert after["return_address"] == shipment["return_address"] and after["parcels"] == shipment["parcels"]


@pytest.mark.parametrize(("given", "kept"), [
    ({"first_name": "Camille", "last_name": "Dupont", "name": None},
     {"first_name": "Camille", "last_name": "redacted", "name": None}),
    ({"first_name": None, "last_name": None, "name": "Camille Dupont"},
     {"first_name": None, "last_name": None, "name": "Camille Dupont"}),
    ({"first_name": "Camille", "last_name": None, "name": None},
     {"first_name": "Camille", "last_name": None, "name": None}),
    ({"first_name": "Camille", "last_name": None, "name": "Camille Dupont"},
     {"first_name": "Camille", "last_name": None, "name": "Camille Dupont"}),
    ({"first_name": None, "last_name": "Dupont", "name": None},
     {"first_name": None, "last_name": "redacted", "name": None}),
    ({"first_name": "Camille", "last_name": "Dupont", "name": "Camille Dupont"},
     {"first_name": "Camille", "last_name": "redacted", "name": "redacted"}),
], ids=["first-and-last", "single-name-kept-whole", "first-only", "first-and-name", "last-only", "all-three"])
def test_the_first_name_is_kept_and_a_single_name_is_kept_whole(merchant: str, given: dict[str, Any],
                                                                  kept: dict[str, Any]) -> None:
    shipment = create_shipment(merchant, recipient=address(**given))
    travel(days=91)
    run_schedule()
    after = recipient(merchant, shipment["id"])
    assert {k: after[k] for k in kept} == kept


def test_fields_never_given_stay_absent_rather_than_redacted(merchant: str) -> None:
    shipment = create_shipment(merchant, recipient={"first_name": "Camille", "address_1": "12 rue des Lilas",
                                                    "city": "Lyon", "country": "FR"})
    travel(days=91)
    run_schedule()
    after = recipient(merchant, shipment["id"])
    assert (after["address_1"], after["postal_code"], after["phone"], after["email"]) == ("redacted", None, None, None)


@pytest.mark.parametrize(("days", "redacted"), [(89, False), (90, True), (91, True)])
def test_redaction_is_due_at_90_days_not_before(merchant: str, days: int, redacted: bool) -> None:
    shipment = create_shipment(merchant)
    travel(days=days)
    run_schedule()
    after = get_shipment(merchant, shipment["id"]).json()
    assert (after["recipient"]["last_name"] == "redacted") is redacted
    assert (after["redacted_at"] is not None) is redacted


def test_the_name_search_forgets_the_last_name_and_keeps_the_first(merchant: str) -> None:
    shipment = create_shipment(merchant)
    assert search(merchant, "dupont") == [shipment["id"]]
    travel(days=90)
    run_schedule()
    assert search(merchant, "dupont") == []
    assert search(merchant, "camille") == [shipment["id"]]
    stored = aws.table().get_item(Key=keys.shipment(merchant, shipment["id"]))["Item"]
    assert "dupont" not in str(stored).lower() and "lilas" not in str(stored).lower()


def test_redaction_is_idempotent_and_never_undone(merchant: str) -> None:
    shipment = create_shipment(merchant)
    travel(days=90)
    run_schedule()
    first = get_shipment(merchant, shipment["id"]).json()
    version = aws.table().get_item(Key=keys.shipment(merchant, shipment["id"]))["Item"]["version"]
    travel(days=95)
    track(merchant, shipment, "in_transit")  # a later carrier update rewrites the shipment item
    run_schedule()
    again = get_shipment(merchant, shipment["id"]).json()
    assert again["recipient"] == first["recipient"] and again["redacted_at"] == first["redacted_at"]
    assert aws.table().get_item(Key=keys.shipment(merchant, shipment["id"]))["Item"]["version"] == version + 1


def test_the_notification_records_of_the_shipment_are_redacted_with_it(merchant: str) -> None:
    shipment = create_shipment(merchant)
    notifications = NotificationRepository()
    for milestone in ("ready_to_ship", "in_transit"):
        notifications.claim(NotificationTarget(merchant, milestone, shipment_id=shipment["id"]), language="fr",
                            recipient_email="camille@example.fr")
    travel(days=90)
    run_schedule()
    assert {n.recipient_email for n in notifications.for_shipment(merchant, shipment["id"])} == {"redacted"}


def test_an_export_after_redaction_shows_the_word_redacted(merchant: str) -> None:
    from tests.export_support import csv_rows, export_file

    create_shipment(merchant)
    travel(days=90)
    run_schedule()
    rows = csv_rows(export_file(merchant, {"type": "shipments", "format": "csv", "filters": {}}))
    assert len(rows) == 1
    row = rows[0]
    assert row["recipient_name"] == "Camille redacted"
    assert [row[c] for c in ("recipient_address_1", "recipient_postal_code", "recipient_phone", "recipient_email")] \
        == ["redacted"] * 4
    assert (row["recipient_city"], row["recipient_country"]) == ("Lyon", "FR")


# --- automatic archive ----------------------------------------------------------------------------
@pytest.mark.parametrize(("days", "status"), [(59, "pre_transit"), (60, "archived"), (61, "archived")])
def test_a_shipment_without_delivery_confirmation_is_archived_at_60_days(merchant: str, days: int,
                                                                         status: str) -> None:
    shipment = create_shipment(merchant)
    travel(days=days)
    run_schedule()
    assert get_shipment(merchant, shipment["id"]).json()["status"] == status


def test_the_automatic_archive_publishes_the_status_change_like_the_merchants(merchant: str) -> None:
    shipment = create_shipment(merchant)
    track(merchant, shipment, "in_transit")
    travel(days=61)
    run_schedule()
    item = aws.table().get_item(Key=keys.shipment(merchant, shipment["id"]))["Item"]
    assert item["outbox"]["detail_type"] == "ShipmentStatusChanged"
    assert outbox_events(item["outbox"]) == [{"merchant_id": merchant, "shipment_id": shipment["id"], "order_id": None,
                                       "previous_status": "in_transit", "status": "archived", "action": "archive"}]


@pytest.mark.parametrize("merchant_action", [None, "void_label", "delete"])
def test_delivered_and_merchant_closed_shipments_are_not_archived(merchant: str, merchant_action: str | None) -> None:
    shipment = create_shipment(merchant)
    if merchant_action:
        assert shipment_action(merchant, shipment["id"], merchant_action).status == 200
    else:
        track(merchant, shipment, "delivered")
    before = get_shipment(merchant, shipment["id"]).json()["status"]
    travel(days=61)
    run_schedule()
    assert get_shipment(merchant, shipment["id"]).json()["status"] == before != "archived"


# --- deletion -------------------------------------------------------------------------------------
def _with_history(merchant: str) -> dict[str, Any]:
    shipment = create_shipment(merchant, parcels=2)
    track(merchant, shipment, "in_transit", parcel=0)
    track(merchant, shipment, "delivered", parcel=0)
    track(merchant, shipment, "delivered", parcel=1)
    NotificationRepository().claim(NotificationTarget(merchant, "delivered", shipment_id=shipment["id"]),
                                   language="fr", recipient_email="camille@example.fr")
    return shipment


@pytest.mark.parametrize(("moment", "kept"), [
    (datetime(2027, 6, 9, 12, 0, tzinfo=UTC), True),  # 15 months minus a day
    (datetime(2027, 6, 10, 12, 0, tzinfo=UTC), False),  # 15 calendar months
    (datetime(2027, 6, 11, 12, 0, tzinfo=UTC), False),  # plus a day
])
def test_a_resolved_shipment_is_deleted_15_calendar_months_after_creation(merchant: str, moment: datetime,
                                                                          kept: bool) -> None:
    shipment = _with_history(merchant)
    travel(moment, days=0)
    run_schedule()
    assert (get_shipment(merchant, shipment["id"]).status == 200) is kept


def test_deletion_takes_everything_under_the_shipment_and_nothing_else(merchant: str) -> None:
    shipment = _with_history(merchant)
    travel(days=30)
    neighbour = create_shipment(merchant)
    assert len(partition(merchant, shipment["id"])) > 5  # shipment, events, notification, timers
    travel(days=480)
    run_schedule()
    assert get_shipment(merchant, shipment["id"]).status == 404
    assert partition(merchant, shipment["id"]) == []
    assert all(tracking_number_item(merchant, p["tracking_number"]) is None for p in shipment["parcels"])
    assert get_shipment(merchant, neighbour["id"]).status == 200
    assert tracking_number_item(merchant, neighbour["parcels"][0]["tracking_number"]) is not None


@pytest.mark.parametrize(("how", "deleted"), [
    ("delivered", True), ("archive", True), ("exception", True), ("void_label", True), ("delete", True),
    ("in_transit", False), ("out_for_delivery", False), ("returned_to_sender", False), ("delayed", False),
])
def test_only_resolved_statuses_are_deleted_at_the_date(aws_env: dict[str, Any], how: str, deleted: bool) -> None:
    # One month, so that the 60-day archive has not resolved the shipment yet at the date.
    merchant = new_merchant(redact_after_days=90, delete_after_months=1)
    shipment = create_shipment(merchant)
    if how in ("archive", "void_label", "delete"):
        assert shipment_action(merchant, shipment["id"], how).status == 200
    else:
        track(merchant, shipment, how)
    travel(days=32)
    run_schedule()
    assert (get_shipment(merchant, shipment["id"]).status == 404) is deleted


def test_an_in_transit_shipment_is_kept_then_deleted_at_the_next_run_once_it_resolves(aws_env: dict[str, Any]) -> None:
    merchant = new_merchant(delete_after_months=1)
    shipment = create_shipment(merchant)
    track(merchant, shipment, "in_transit")
    travel(days=31)
    assert run_schedule()["postponed"] == 1
    assert get_shipment(merchant, shipment["id"]).status == 200
    delete_timer = timers(merchant, shipment["id"])["DELETE"]
    assert int(delete_timer["ttl"]) == clock.epoch_seconds() + 55 * 60  # due again by the next hourly run
    travel(days=31, hours=1)
    assert run_schedule()["postponed"] == 1  # still in transit: kept again
    travel(days=33)
    track(merchant, shipment, "delivered")
    travel(days=33, hours=1)
    run_schedule()
    assert get_shipment(merchant, shipment["id"]).status == 404


def test_a_shipment_kept_in_transit_is_deleted_at_the_first_run_after_it_resolves(aws_env: dict[str, Any]) -> None:
    merchant = new_merchant(delete_after_months=1)
    shipment = create_shipment(merchant)
    track(merchant, shipment, "in_transit")
    travel(days=31)
    assert run_schedule()["postponed"] == 1
    travel(days=31, minutes=5)
    assert run_schedule()["postponed"] == 1  # runs close together: still kept while in transit
    travel(days=31, minutes=10)
    track(merchant, shipment, "delivered")
    travel(days=31, minutes=11)  # the very next run, however soon it comes
    assert run_schedule()["done"] == 1
    assert get_shipment(merchant, shipment["id"]).status == 404
    assert partition(merchant, shipment["id"]) == []


def test_a_kept_shipment_is_checked_again_at_every_run_never_lost_from_the_index(aws_env: dict[str, Any]) -> None:
    merchant = new_merchant(delete_after_months=1)
    shipment = create_shipment(merchant)
    track(merchant, shipment, "in_transit")
    for minutes in range(0, 50, 10):  # five runs ten minutes apart, each one sees the kept shipment
        travel(days=31, minutes=minutes)
        assert run_schedule()["postponed"] == 1
    assert get_shipment(merchant, shipment["id"]).status == 200


def test_a_shipment_still_in_transit_at_the_date_is_archived_at_60_days_then_deleted(aws_env: dict[str, Any]) -> None:
    merchant = new_merchant(delete_after_months=1)
    shipment = create_shipment(merchant)
    track(merchant, shipment, "in_transit")
    travel(days=31)
    run_schedule()
    travel(days=60, hours=1)
    run_schedule()  # the archive resolves it; the postponed deletion finds it archived at the next run
    travel(days=60, hours=2)
    run_schedule()
    assert get_shipment(merchant, shipment["id"]).status == 404


def test_deleting_a_shipment_redacts_its_order_first_even_before_its_redaction_date(aws_env: dict[str, Any]) -> None:
    from tests.component.orders_support import add_tracking, get_order, new_order

    merchant = new_merchant(redact_after_days=365, delete_after_months=1)
    order = new_order(merchant)
    shipment = add_tracking(merchant, order["id"], "3SYZXGRET0001").json()["shipment"]
    track(merchant, shipment, "delivered")
    travel(days=32)
    run_schedule()
    assert get_shipment(merchant, shipment["id"]).status == 404
    assert get_order(merchant, order["id"]).json()["shipping_address"]["last_name"] == "redacted"


# --- settings -------------------------------------------------------------------------------------
def test_a_new_period_applies_to_shipments_created_afterwards(merchant: str) -> None:
    before = create_shipment(merchant)
    merchants = MerchantRepository()
    settings = merchants.get(merchant).settings
    settings.retention.redact_after_days = 30
    merchants.save_settings(merchant, settings)
    after = create_shipment(merchant)
    assert timers(merchant, after["id"])["REDACT"]["redact_after_days"] == 30
    travel(days=31)
    run_schedule()
    assert recipient(merchant, after["id"])["last_name"] == "redacted"
    assert recipient(merchant, before["id"])["last_name"] == "Dupont"
    travel(days=90)
    run_schedule()
    assert recipient(merchant, before["id"])["last_name"] == "redacted"


# --- the schedule: catching up from the due index -------------------------------------------------
def test_the_schedule_reads_only_due_timers_from_the_index_never_a_scan(merchant: str) -> None:
    due = [create_shipment(merchant) for _ in range(3)]
    travel(days=45)
    later = [create_shipment(merchant) for _ in range(4)]  # their timers are not due at 91 days
    travel(days=91)
    with dynamodb_requests() as calls:
        summary = run_schedule()
    assert summary["done"] == 6 and summary["complete"]  # 3 archives + 3 redactions
    assert calls["Scan"] == 0
    assert calls["due-index items"] == 6  # the due timers, and nothing else of the table
    assert all(recipient(merchant, s["id"])["last_name"] == "redacted" for s in due)
    assert all(recipient(merchant, s["id"])["last_name"] == "Dupont" for s in later)


def test_each_run_starts_from_the_month_the_last_one_drained(merchant: str) -> None:
    create_shipment(merchant)
    travel(days=10)
    assert run_schedule()["months_read"] == 3  # the first run ever starts at the oldest merchant's month
    travel(days=10, hours=1)
    assert run_schedule()["months_read"] == 1  # then only this month
    travel(days=95)
    assert run_schedule()["months_read"] == 4  # March to June
    assert aws.table().get_item(Key=keys.retention_cursor())["Item"]["next_month"] == "2026-06"


def test_a_run_short_of_time_stops_and_the_next_one_carries_on(merchant: str) -> None:
    from functions.retention import service
    from functions.retention.actions import Repositories

    shipments = [create_shipment(merchant) for _ in range(3)]
    travel(days=91)
    budget = iter([60.0, 60.0, 1.0])
    partial = service.run_schedule(Repositories.default(), clock.now(), seconds_left=lambda: next(budget, 1.0))
    assert partial["complete"] is False and partial["done"] == 2
    rest = run_schedule()
    assert rest["complete"] and rest["done"] == 4
    assert all(recipient(merchant, s["id"])["last_name"] == "redacted" for s in shipments)


def test_a_failing_action_is_rearmed_with_backoff_and_the_others_go_on(merchant: str, monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    from functions.retention import service

    broken, fine = create_shipment(merchant), create_shipment(merchant)
    real = service.ACTIONS[service.TimerAction.redact]

    def flaky(repos: Any, merchant_id: str, shipment_id: str, now: datetime, order_id: str | None) -> Any:
        if shipment_id == broken["id"]:
            raise ValueError("Camille Dupont, 12 rue des Lilas")  # a message that must never be logged
        return real(repos, merchant_id, shipment_id, now, order_id)

    monkeypatch.setitem(service.ACTIONS, service.TimerAction.redact, flaky)
    now = travel(days=91)
    summary = run_schedule()
    assert (summary["failed"], summary["complete"]) == (1, True)
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "retention action failed" in logged and "ValueError" in logged and "Dupont" not in logged
    assert recipient(merchant, fine["id"])["last_name"] == "redacted"
    timer = timers(merchant, broken["id"])["REDACT"]
    assert int(timer["ttl"]) == clock.epoch_seconds(now) + 3600 and int(timer["attempts"]) == 1
    travel(days=91, hours=1)
    run_schedule()
    assert int(timers(merchant, broken["id"])["REDACT"]["attempts"]) == 2
    assert int(timers(merchant, broken["id"])["REDACT"]["ttl"]) == clock.epoch_seconds() + 2 * 3600
    monkeypatch.setitem(service.ACTIONS, service.TimerAction.redact, real)
    travel(days=91, hours=4)
    run_schedule()
    assert recipient(merchant, broken["id"])["last_name"] == "redacted"
    assert "REDACT" not in timers(merchant, broken["id"])


def test_logs_and_events_carry_ids_only(merchant: str, caplog: pytest.LogCaptureFixture) -> None:
    shipment = create_shipment(merchant)
    track(merchant, shipment, "delivered")
    travel(days=480)
    caplog.clear()
    run_schedule()
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert shipment["id"] in logged and "shipment deleted" in logged
    for personal in ("Dupont", "Lilas", "69003", "+33698765432", "camille@example.fr"):
        assert personal not in logged


def test_orphan_updates_expire_after_30_days(merchant: str) -> None:
    from shared.shipments.statuses import CanonicalUpdate, TrackingStatus
    from shared.shipments.tracking import apply_canonical_update

    number = "3SYZXGORPHAN01"
    update = CanonicalUpdate(tracking_number=number, status=TrackingStatus.in_transit, occurred_at=clock.now(),
                             carrier_event_id="evt-orphan")
    assert apply_canonical_update(ShipmentRepository(), merchant, update) == "orphaned"
    travel(days=31)  # the orphan's TTL has passed; TTL has not removed it yet (moto never does)
    late = create_shipment(merchant, parcels=[{"tracking_number": number}])
    assert late["status"] == "pre_transit" and late["parcels"][0]["status"] == "pre_transit"


def test_an_orphan_younger_than_30_days_is_still_attached(merchant: str) -> None:
    from shared.shipments.statuses import CanonicalUpdate, TrackingStatus
    from shared.shipments.tracking import apply_canonical_update

    number = "3SYZXGORPHAN02"
    update = CanonicalUpdate(tracking_number=number, status=TrackingStatus.in_transit, occurred_at=clock.now(),
                             carrier_event_id="evt-orphan-2")
    apply_canonical_update(ShipmentRepository(), merchant, update)
    travel(days=29)
    assert create_shipment(merchant, parcels=[{"tracking_number": number}])["status"] == "in_transit"

