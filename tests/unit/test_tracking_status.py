from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.shipments.statuses import (
    CARRIER_STATUSES,
    MERCHANT_STATUSES,
    CanonicalUpdate,
    TrackingStatus,
    derive_shipment_status,
    is_known,
)

S = TrackingStatus


def an_update(**overrides: object) -> CanonicalUpdate:
    fields: dict[str, object] = {
        "tracking_number": "3SYZXG132912330",
        "status": S.in_transit,
        "occurred_at": datetime(2024, 8, 2, 18, 50, tzinfo=UTC),
    }
    fields.update(overrides)
    return CanonicalUpdate(**fields)  # type: ignore[arg-type]


def test_statuses_are_the_design_vocabulary() -> None:
    assert [status.value for status in S] == [
        "pre_transit", "in_transit", "out_for_delivery", "delayed", "available_for_pickup",
        "failed_attempt", "delivered", "exception", "returned_to_sender", "cancelled", "unknown",
        "archived", "deleted",
    ]  # fmt: skip
    assert S("delivered") is S.delivered
    assert f"{S.delivered}" == "delivered"


def test_archived_and_deleted_belong_to_the_merchant_only() -> None:
    assert {S.cancelled, S.archived, S.deleted} == MERCHANT_STATUSES
    assert set(S) - {S.archived, S.deleted} == CARRIER_STATUSES


@pytest.mark.parametrize(
    ("parcels", "expected"),
    [
        ([S.delivered], S.delivered),
        ([S.delivered, S.delivered, S.delivered], S.delivered),
        ([S.delivered, S.in_transit], S.in_transit),
        ([S.delivered, S.out_for_delivery], S.out_for_delivery),
        ([S.available_for_pickup, S.delivered], S.available_for_pickup),
        ([S.out_for_delivery, S.available_for_pickup], S.out_for_delivery),
        ([S.failed_attempt, S.out_for_delivery], S.failed_attempt),
        ([S.in_transit, S.failed_attempt], S.in_transit),
        ([S.delayed, S.in_transit, S.delivered], S.delayed),
        ([S.pre_transit, S.delayed], S.pre_transit),
        ([S.unknown, S.pre_transit, S.delivered], S.unknown),
        ([S.delivered, S.exception], S.exception),
        ([S.returned_to_sender, S.delivered], S.returned_to_sender),
        ([S.cancelled, S.delivered], S.cancelled),
        ([S.cancelled, S.returned_to_sender, S.exception], S.exception),
        ([S.cancelled, S.returned_to_sender], S.returned_to_sender),
        ([S.unknown, S.cancelled], S.cancelled),
        (["in_transit", "delivered"], S.in_transit),
    ],
)
def test_shipment_status_is_the_first_override_else_the_least_advanced_parcel(
    parcels: list[TrackingStatus], expected: TrackingStatus
) -> None:
    assert derive_shipment_status(parcels, None) is expected


def test_shipment_is_delivered_only_when_every_parcel_is() -> None:
    assert derive_shipment_status([S.delivered, S.delivered], None) is S.delivered
    assert derive_shipment_status([S.delivered, S.available_for_pickup], None) is not S.delivered


@pytest.mark.parametrize("merchant_status", [S.cancelled, S.archived, S.deleted])
def test_merchant_status_overrides_whatever_the_parcels_say(
    merchant_status: TrackingStatus,
) -> None:
    assert derive_shipment_status([S.exception, S.delivered], merchant_status) is merchant_status


def test_a_shipment_without_parcels_is_pre_transit() -> None:
    assert derive_shipment_status([], None) is S.pre_transit


@pytest.mark.parametrize("not_merchant", [S.delivered, S.unknown, S.pre_transit])
def test_a_carrier_status_is_refused_as_merchant_status(not_merchant: TrackingStatus) -> None:
    with pytest.raises(ValueError, match="not a merchant status"):
        derive_shipment_status([S.delivered], not_merchant)


@pytest.mark.parametrize("merchant_only", [S.archived, S.deleted])
def test_a_merchant_status_is_refused_as_parcel_status(merchant_only: TrackingStatus) -> None:
    with pytest.raises(ValueError, match="not a parcel status"):
        derive_shipment_status([S.delivered, merchant_only], None)


def test_only_unknown_is_not_known() -> None:
    assert [status for status in S if not is_known(status)] == [S.unknown]


def test_time_without_offset_is_utc() -> None:
    update = an_update(occurred_at=datetime(2021, 1, 14, 0, 52))
    assert update.occurred_at == datetime(2021, 1, 14, 0, 52, tzinfo=UTC)
    assert update.occurred_at.tzinfo is UTC


def test_times_with_an_offset_are_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    update = an_update(
        occurred_at=datetime(2024, 8, 2, 20, 50, tzinfo=paris),
        estimated_delivery="2024-08-05T02:00:00+02:00",
    )
    assert update.occurred_at == datetime(2024, 8, 2, 18, 50, tzinfo=UTC)
    assert update.occurred_at.tzinfo is UTC
    assert update.estimated_delivery == datetime(2024, 8, 5, tzinfo=UTC)
    assert update.estimated_delivery.tzinfo is UTC


def test_update_is_frozen() -> None:
    update = an_update()
    with pytest.raises(ValidationError):
        update.status = S.delivered  # type: ignore[misc]


@pytest.mark.parametrize("merchant_only", [S.archived, S.deleted])
def test_a_carrier_update_cannot_carry_a_merchant_status(merchant_only: TrackingStatus) -> None:
    with pytest.raises(ValidationError, match="set by the merchant"):
        an_update(status=merchant_only)


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_tracking_number_is_refused(blank: str) -> None:
    with pytest.raises(ValidationError):
        an_update(tracking_number=blank)


def test_tracking_number_is_stripped() -> None:
    assert an_update(tracking_number=" 1Z999 \n").tracking_number == "1Z999"


def test_dedup_key_is_the_carrier_event_id_when_there_is_one() -> None:
    assert an_update(carrier_event_id="evt_1").dedup_key() == "evt_1"


def test_dedup_key_without_event_id_is_tracking_number_status_and_time() -> None:
    key = an_update().dedup_key()
    assert len(key) == 64
    assert an_update(carrier_message="other text", location="Elsewhere").dedup_key() == key
    assert an_update(status=S.delivered).dedup_key() != key
    assert an_update(tracking_number="OTHER").dedup_key() != key
    later = datetime(2024, 8, 2, 18, 50, 1, tzinfo=UTC)
    assert an_update(occurred_at=later).dedup_key() != key


def test_dedup_key_is_the_same_for_the_same_instant_in_any_offset() -> None:
    utc = an_update(occurred_at=datetime(2024, 8, 2, 18, 50, tzinfo=UTC))
    paris = an_update(occurred_at=datetime(2024, 8, 2, 20, 50, tzinfo=timezone(timedelta(hours=2))))
    assert utc.dedup_key() == paris.dedup_key()
