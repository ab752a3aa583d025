"""Every carrier code of the status vocabularies maps, explicitly, to a canonical status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from functions.webhook.carriers import carrier_module, map_status
from functions.webhook.carriers import colis as colis_carrier
from functions.webhook.carriers import sendcloud as sendcloud_carrier
from functions.webhook.carriers.status_mapping import STATUS_MAPS_PATH, normalise_message
from shared.shipments.carriers import CARRIERS
from shared.shipments.statuses import CARRIER_STATUSES, TrackingStatus

S = TrackingStatus
FIXTURE_VOCABULARIES = Path(__file__).resolve().parents[1] / "fixtures" / "status_vocabularies.json"
SHARED_VOCABULARIES = Path("/work/shared/carriers/status_vocabularies.json")

# Sections of the vocabularies file that are not tracking feeds we receive, and why.
NOT_WALKED = {
    "_note": "a note",
    "chit_chats_shipment_states": "a platform's shipment states, not a webhook status feed",
}
# Parts of the karrio section that are not tracking statuses.
KARRIO_NOT_STATUSES = {"source", "ShipmentStatus", "TrackingIncidentReason", "webhook_EventTypes"}


class Code(NamedTuple):
    """A vocabulary code: the table that must list it, its key there, and the call that maps it."""

    table: str
    key: str
    carrier: str
    code: str | None
    detail: str | None = None
    message: str | None = None


def _codes(vocabularies: dict[str, Any]) -> list[Code]:
    aftership = vocabularies["aftership"]
    easypost = vocabularies["easypost"]
    shippo = vocabularies["shippo"]
    sendcloud_ids = vocabularies["sendcloud_v2_parcel_status_ids"]["ids"]
    sendcloud_v3 = vocabularies["sendcloud_v3_parent_status_names_partial"]["names"]
    return [
        *(Code("aftership_tags", tag, "aftership", tag) for tag in aftership["tags"]),
        *(
            Code("aftership_subtags", subtag, "aftership", subtag.split("_")[0], subtag)
            for subtag in aftership["subtags"]
        ),
        *(Code("easypost_status", status, "easypost", status) for status in easypost["status"]),
        *(Code("easypost_detail", detail, "easypost", None, detail) for detail in easypost["status_detail"]),
        *(Code("shippo_status", status, "shippo", status) for status in shippo["status"]),
        *(
            Code("shippo_substatus", f"{status}/{sub.rstrip('*')}", "shippo", status, sub.rstrip("*"))
            for status, subs in shippo["substatus_by_status"].items()
            for sub in subs
        ),
        *(Code("sendcloud_ids", code, "sendcloud", code) for code in sendcloud_ids),
        *(
            Code("sendcloud_messages", normalise_message(name), "sendcloud", None, message=name)
            for name in [*sendcloud_ids.values(), *sendcloud_v3]
            if name != "..."
        ),
        *(Code("colis_aliases", status, "colis", status) for status in vocabularies["karrio"]["TrackingStatus"]),
    ]


def _vocabulary_cases() -> list[Any]:
    sources = [("fixture", FIXTURE_VOCABULARIES), ("shared", SHARED_VOCABULARIES)]
    cases = []
    for source, path in sources:
        if not path.exists():
            cases.append(
                pytest.param(None, id=f"{source}-absent", marks=pytest.mark.skip(reason=f"{path} is not here"))
            )
            continue
        vocabularies = json.loads(path.read_text(encoding="utf-8"))
        cases += [pytest.param(code, id=f"{source}-{code.carrier}-{code.key}") for code in _codes(vocabularies)]
    return cases


def _listed(table: str, key: str) -> TrackingStatus | None:
    """`<carrier>_<table>`: the carrier module's table of that name."""
    if table == "colis_aliases":
        return colis_carrier.tables().canonical.get(key) or colis_carrier.tables().aliases.get(key)
    carrier, name = table.split("_", 1)
    listed: dict[str, TrackingStatus] = getattr(carrier_module(carrier).tables(), name)  # type: ignore[attr-defined]
    return listed.get(key)


@pytest.mark.parametrize("code", _vocabulary_cases())
def test_every_vocabulary_code_maps_to_a_listed_status(code: Code) -> None:
    listed = _listed(code.table, code.key)
    assert listed is not None, f"{code.key!r} is missing from {code.table} in {STATUS_MAPS_PATH}"
    assert map_status(code.carrier, code.code, code.detail, code.message) is listed


def test_the_fixture_copy_is_the_shared_vocabulary() -> None:
    if not SHARED_VOCABULARIES.exists():
        pytest.skip(f"{SHARED_VOCABULARIES} is not here")
    assert json.loads(FIXTURE_VOCABULARIES.read_text()) == json.loads(SHARED_VOCABULARIES.read_text())


def test_every_vocabulary_section_is_walked_or_set_aside_with_a_reason() -> None:
    vocabularies = json.loads(FIXTURE_VOCABULARIES.read_text(encoding="utf-8"))
    walked = {
        "aftership", "easypost", "shippo", "sendcloud_v2_parcel_status_ids",
        "sendcloud_v3_parent_status_names_partial", "karrio",
    }  # fmt: skip
    assert set(vocabularies) == walked | set(NOT_WALKED)
    assert set(vocabularies["karrio"]) == KARRIO_NOT_STATUSES | {"TrackingStatus"}


def test_every_listed_status_is_a_carrier_status() -> None:
    raw = json.loads(STATUS_MAPS_PATH.read_text(encoding="utf-8"))
    tables = [
        raw["aftership"]["tags"], raw["aftership"]["subtags"], raw["easypost"]["status"],
        raw["easypost"]["status_detail"], raw["shippo"]["status"], raw["shippo"]["substatus"],
        raw["sendcloud"]["ids"], raw["sendcloud"]["messages"], raw["colis"]["aliases"],
    ]  # fmt: skip
    values = {value for table in tables for value in table.values()}
    values |= set(raw["easypost"]["broad_statuses"]) | set(raw["colis"]["canonical"])
    assert {S(value) for value in values} <= CARRIER_STATUSES


def test_sendcloud_messages_stay_distinct_once_normalised() -> None:
    raw = json.loads(STATUS_MAPS_PATH.read_text(encoding="utf-8"))["sendcloud"]["messages"]
    assert len(sendcloud_carrier.tables().messages) == len(raw)


def test_sendcloud_id_and_its_own_name_always_agree() -> None:
    vocabularies = json.loads(FIXTURE_VOCABULARIES.read_text(encoding="utf-8"))
    for code, name in vocabularies["sendcloud_v2_parcel_status_ids"]["ids"].items():
        assert map_status("sendcloud", code) is map_status("sendcloud", None, message=name), code


@pytest.mark.parametrize(
    ("subtag", "expected"),
    [
        ("Exception_004", S.delayed),
        ("Exception_005", S.delayed),
        ("Exception_016", S.delayed),
        ("Exception_017", S.delayed),
        ("Exception_010", S.returned_to_sender),
        ("Exception_011", S.returned_to_sender),
        ("Exception_013", S.exception),
        ("AttemptFail_001", S.failed_attempt),
        ("AttemptFail_002", S.failed_attempt),
        ("AttemptFail_003", S.failed_attempt),
        ("Expired_001", S.unknown),
        ("Delivered_005", S.delivered),
    ],
)
def test_aftership_subtag_decides(subtag: str, expected: TrackingStatus) -> None:
    assert map_status("aftership", subtag.split("_")[0], subtag) is expected


def test_aftership_subtag_wins_over_its_tag() -> None:
    assert map_status("aftership", "Exception", "Exception_004") is S.delayed


def test_aftership_unlisted_subtag_falls_back_to_the_tag() -> None:
    assert map_status("aftership", "Pending", "Pending_006") is S.pre_transit
    assert map_status("aftership", "Exception", "Exception_099") is S.exception


def test_aftership_expired_is_unknown() -> None:
    assert map_status("aftership", "Expired") is S.unknown


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        ("in_transit", "arrived_at_facility", S.in_transit),
        ("in_transit", "weather_delay", S.delayed),
        ("in_transit", "delayed", S.delayed),
        ("in_transit", "held", S.delayed),
        ("in_transit", "return", S.returned_to_sender),
        ("in_transit", "out_for_delivery", S.out_for_delivery),
        ("in_transit", "arrived_at_pickup_location", S.available_for_pickup),
        ("in_transit", "lost", S.exception),
        ("in_transit", "label_created", S.in_transit),
        ("in_transit", "status_update", S.in_transit),
        ("in_transit", "not_a_detail", S.in_transit),
        ("pre_transit", "cancelled", S.cancelled),
        ("pre_transit", "label_created", S.pre_transit),
        ("unknown", "label_created", S.pre_transit),
        ("unknown", "status_update", S.unknown),
        (None, "weather_delay", S.delayed),
        ("delivered", "arrived_at_facility", S.delivered),
        ("delivered", None, S.delivered),
        ("return_to_sender", "in_transit", S.returned_to_sender),
        ("failure", "lost", S.exception),
        ("failure", None, S.exception),
        ("error", None, S.exception),
        ("cancelled", None, S.cancelled),
        ("available_for_pickup", "arrived_at_pickup_location", S.available_for_pickup),
    ],
)
def test_easypost_detail_refines_only_a_broad_status(
    status: str | None, detail: str | None, expected: TrackingStatus
) -> None:
    assert map_status("easypost", status, detail) is expected


@pytest.mark.parametrize(
    ("status", "substatus", "expected"),
    [
        ("TRANSIT", "delayed", S.delayed),
        ("TRANSIT", "out_for_delivery", S.out_for_delivery),
        ("TRANSIT", "pickup_available", S.available_for_pickup),
        ("TRANSIT", "delivery_attempted", S.failed_attempt),
        ("TRANSIT", "package_departed", S.in_transit),
        ("TRANSIT", None, S.in_transit),
        ("RETURNED", "package_unclaimed", S.returned_to_sender),
        ("RETURNED", None, S.returned_to_sender),
        ("FAILURE", None, S.exception),
        ("DELIVERED", "information_received", S.delivered),
        ("PRE_TRANSIT", "delayed", S.pre_transit),
        ("UNKNOWN", "other", S.unknown),
    ],
)
def test_shippo_substatus_counts_only_under_its_own_status(
    status: str, substatus: str | None, expected: TrackingStatus
) -> None:
    assert map_status("shippo", status, substatus) is expected


@pytest.mark.parametrize(
    ("status_id", "message", "expected"),
    [
        ("11", "Delivered", S.delivered),
        ("1", "Ready to send", S.pre_transit),
        ("11", "Delivery attempt failed", S.failed_attempt),
        ("4242", "Delivered", S.delivered),
        (None, "  delivery   DELAYED ", S.delayed),
        ("11", "Bezorgd", S.delivered),
        ("11", None, S.delivered),
        ("4242", "Bezorgd", S.unknown),
        ("2000", "Cancelled", S.cancelled),
        ("1999", "Cancellation requested", S.unknown),
    ],
)
def test_sendcloud_maps_the_id_unless_a_listed_message_says_otherwise(
    status_id: str | None, message: str | None, expected: TrackingStatus
) -> None:
    assert map_status("sendcloud", status_id, message=message) is expected


@pytest.mark.parametrize("status", sorted(CARRIER_STATUSES))
def test_colis_accepts_every_canonical_status_name(status: TrackingStatus) -> None:
    assert map_status("colis", status.value) is status


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("InTransit_002", S.in_transit),
        ("Exception_011", S.returned_to_sender),
        ("AttemptFail", S.failed_attempt),
        ("in_transit/weather_delay", S.delayed),
        ("weather_delay", S.delayed),
        ("return_to_sender", S.returned_to_sender),
        ("TRANSIT/pickup_available", S.available_for_pickup),
        ("DELIVERED", S.delivered),
        ("11", S.delivered),
        ("ready_for_pickup", S.available_for_pickup),
        ("archived", S.unknown),
        ("deleted", S.unknown),
        ("Delivered!", S.unknown),
        ("", S.unknown),
        (None, S.unknown),
    ],
)
def test_colis_accepts_carrier_codes(code: str | None, expected: TrackingStatus) -> None:
    assert map_status("colis", code) is expected


def test_colis_reads_each_carrier_code_as_that_carrier_does() -> None:
    aftership, easypost = carrier_module("aftership").tables(), carrier_module("easypost").tables()  # type: ignore[attr-defined]
    shippo = carrier_module("shippo").tables()  # type: ignore[attr-defined]
    for subtag in aftership.subtags:
        assert map_status("colis", subtag) is map_status("aftership", None, subtag), subtag
    for tag in aftership.tags:
        assert map_status("colis", tag) is map_status("aftership", tag), tag
    for status in easypost.status:
        assert map_status("colis", status) is map_status("easypost", status), status
        for detail in easypost.detail:
            code = f"{status}/{detail}"
            assert map_status("colis", code) is map_status("easypost", status, detail), code
    for detail in easypost.detail:
        assert map_status("colis", detail) is map_status("easypost", None, detail), detail
    for status in shippo.status:
        assert map_status("colis", status) is map_status("shippo", status), status
    for pair in shippo.substatus:
        status, substatus = pair.split("/")
        assert map_status("colis", pair) is map_status("shippo", status, substatus), pair
    for status_id in sendcloud_carrier.tables().ids:
        assert map_status("colis", status_id) is map_status("sendcloud", status_id), status_id


@pytest.mark.parametrize("carrier", CARRIERS)
def test_unlisted_codes_are_unknown(carrier: str) -> None:
    assert map_status(carrier, "NOT_A_CODE", "NOT_A_DETAIL", "not a message") is S.unknown
    assert map_status(carrier, None) is S.unknown


def test_a_carrier_without_a_map_is_an_error() -> None:
    with pytest.raises(ValueError, match="no carrier"):
        map_status("ups", "D")


@pytest.mark.parametrize("carrier", CARRIERS)
def test_the_tables_are_read_once(carrier: str) -> None:
    module = carrier_module(carrier)
    assert module.tables() is module.tables()  # type: ignore[attr-defined]
