"""Carrier payloads, in their published shapes, read into canonical updates."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from functions.webhook.carriers import (
    MODULES,
    EventFailure,
    InvalidPayload,
    ParsedDelivery,
    decode_body,
    parse_delivery,
)
from functions.webhook.carriers.colis import MAX_BATCH_EVENTS
from functions.webhook.carriers.status_mapping import STATUS_MAPS_PATH
from shared.errors import Malformed
from shared.http.problems import problem_of
from shared.shipments.carriers import CARRIERS
from shared.shipments.statuses import CanonicalUpdate, TrackingStatus

S = TrackingStatus
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SHARED_EXAMPLES = Path("/work/shared/carriers/examples")


def example(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def only_update(delivery: ParsedDelivery) -> CanonicalUpdate:
    assert not delivery.ignored
    assert delivery.failures == []
    assert len(delivery.updates) == 1
    return delivery.updates[0]


EXPECTED_EXAMPLES = [
    (
        "sendcloud",
        "sendcloud_parcel_status_changed.json",
        CanonicalUpdate(
            tracking_number="3SYZXG132912330",
            status=S.pre_transit,
            carrier_code="1",
            carrier_message="Ready to send",
            occurred_at=datetime(1970, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC),
            location=None, source="sendcloud",  # the parcel's city is the recipient's, no scan place
            carrier_event_id=None,
            carrier=None,
            estimated_delivery=None,
        ),
    ),
    (
        "easypost",
        "easypost_tracker.updated.json",
        CanonicalUpdate(
            tracking_number="1",
            status=S.in_transit,
            carrier_code="in_transit/arrived_at_facility",
            carrier_message="Arrived at FedEx location",
            occurred_at=datetime(2024, 8, 2, 18, 50, tzinfo=UTC),
            location="EDISON, NJ, US", city="EDISON", region="NJ", country="US", source="easypost",
            carrier_event_id="evt_1",
            carrier="FedEx",
            estimated_delivery=datetime(2024, 8, 5, tzinfo=UTC),
        ),
    ),
    (
        "easypost",
        "easypost_tracker.updated_landing_page_example.json",
        CanonicalUpdate(
            tracking_number="EZ4000000004",
            status=S.delivered,
            carrier_code="delivered",
            carrier_message="DELIVERED",
            occurred_at=datetime(2014, 8, 24, 15, 33, tzinfo=UTC),
            location="SAN FRANCISCO, CA, US", city="SAN FRANCISCO", region="CA", country="US", source="easypost",
            carrier_event_id="evt_qatAiJDM",
            carrier="UPS",
            estimated_delivery=datetime(2014, 8, 27, tzinfo=UTC),
        ),
    ),
    (
        "aftership",
        "aftership_tracking_update.json",
        CanonicalUpdate(
            tracking_number="0000000000000000",
            status=S.in_transit,
            carrier_code="InTransit_001",
            carrier_message="Departed Shipping Partner Facility, USPS Awaiting Item",
            occurred_at=datetime(2021, 1, 14, 0, 52, tzinfo=UTC),
            location=None, source="aftership",
            carrier_event_id="94dadd60-ed26-46d0-aa52-3ced925a50ff",
            carrier="usps",
            estimated_delivery=None,
        ),
    ),
    (
        "shippo",
        "shippo_track_updated.json",
        CanonicalUpdate(
            tracking_number="9205590164917312751089",
            status=S.delivered,
            carrier_code="DELIVERED/information_received",
            carrier_message="Your shipment has been delivered at the destination mailbox.",
            occurred_at=datetime(2016, 7, 23, tzinfo=UTC),
            location="Las Vegas, NV, US", city="Las Vegas", region="NV", country="US", source="shippo",
            carrier_event_id=None,
            carrier="usps",
            estimated_delivery=datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC),
        ),
    ),
]


@pytest.mark.parametrize(
    ("carrier", "name", "expected"), EXPECTED_EXAMPLES, ids=[name for _, name, _ in EXPECTED_EXAMPLES]
)
def test_published_examples_become_exact_canonical_updates(carrier: str, name: str, expected: CanonicalUpdate) -> None:
    update = only_update(parse_delivery(carrier, example(name)))
    assert update == expected
    assert update.occurred_at.tzinfo is UTC


def test_every_example_file_is_covered() -> None:
    assert {name for _, name, _ in EXPECTED_EXAMPLES} == {p.name for p in FIXTURES.glob("*.json")}


def test_fixture_copies_are_the_shared_examples() -> None:
    if not SHARED_EXAMPLES.exists():
        pytest.skip(f"{SHARED_EXAMPLES} is not here")
    shared = {p.name: p.read_bytes() for p in SHARED_EXAMPLES.glob("*.json")}
    copies = {p.name: p.read_bytes() for p in FIXTURES.glob("*.json")}
    assert copies == shared


def test_every_registered_carrier_has_a_module_with_its_parser_signature_and_status_table() -> None:
    assert tuple(MODULES) == CARRIERS
    for name, module in MODULES.items():
        assert all(callable(getattr(module, part, None)) for part in ("parse", "verify", "status", "recognise")), name
        assert name in json.loads(STATUS_MAPS_PATH.read_text(encoding="utf-8")), name


# --- Only the newest status is applied --------------------------------------------------------


def test_easypost_takes_the_newest_tracking_detail_whatever_the_order() -> None:
    body = example("easypost_tracker.updated.json")
    details = body["result"]["tracking_details"]
    details.reverse()
    update = only_update(parse_delivery("easypost", body))
    assert update.occurred_at == datetime(2024, 8, 2, 18, 50, tzinfo=UTC)
    assert update.carrier_message == "Arrived at FedEx location"
    assert update.location == "EDISON, NJ, US"


def test_easypost_status_comes_from_the_tracker_not_the_details() -> None:
    body = example("easypost_tracker.updated.json")
    body["result"]["status"], body["result"]["status_detail"] = "in_transit", "weather_delay"
    update = only_update(parse_delivery("easypost", body))
    assert (update.status, update.carrier_code) == (S.delayed, "in_transit/weather_delay")


def test_easypost_without_details_uses_the_tracker_update_time() -> None:
    body = example("easypost_tracker.updated.json")
    body["result"]["tracking_details"] = []
    update = only_update(parse_delivery("easypost", body))
    assert update.occurred_at == datetime(2024, 8, 2, 19, 26, 51, tzinfo=UTC)
    assert update.carrier_message is None
    assert update.location is None


def test_aftership_takes_the_newest_checkpoint() -> None:
    body = example("aftership_tracking_update.json")
    body["msg"].update(tag="OutForDelivery", subtag="OutForDelivery_003")
    body["msg"]["checkpoints"] = [
        {"checkpoint_time": "2021-01-15T09:00:00+01:00", "message": "Out for delivery",
         "city": "Utrecht", "state": None, "country_iso3": "NLD",
         "location": "Stationsplein 1, 3511 ED Utrecht"},
        {"checkpoint_time": "2021-01-14T00:52:00", "message": "Departed", "city": "Amsterdam"},
    ]  # fmt: skip
    update = only_update(parse_delivery("aftership", body))
    assert update.status is S.out_for_delivery
    assert update.carrier_code == "OutForDelivery_003"
    assert update.occurred_at == datetime(2021, 1, 15, 8, 0, tzinfo=UTC)
    assert update.carrier_message == "Out for delivery"
    assert update.location == "Utrecht, NLD"


def test_aftership_without_checkpoints_uses_the_tracking_update_time_then_ts() -> None:
    body = example("aftership_tracking_update.json")
    body["msg"].update(tag="Pending", subtag="Pending_001", checkpoints=[])
    body["msg"]["updated_at"] = "2024-04-10T09:30:00+00:00"
    update = only_update(parse_delivery("aftership", body))
    assert (update.status, update.occurred_at) == (S.pre_transit, datetime(2024, 4, 10, 9, 30, tzinfo=UTC))
    del body["msg"]["updated_at"]
    assert only_update(parse_delivery("aftership", body)).occurred_at == datetime.fromtimestamp(1712741696, UTC)


def test_aftership_reads_the_expected_delivery_when_given() -> None:
    body = example("aftership_tracking_update.json")
    body["msg"]["expected_delivery"] = "2021-01-18"
    assert only_update(parse_delivery("aftership", body)).estimated_delivery == datetime(2021, 1, 18, tzinfo=UTC)
    body["msg"]["expected_delivery"] = None
    assert only_update(parse_delivery("aftership", body)).estimated_delivery is None
    body["msg"]["expected_delivery"] = "next week"  # unreadable is invalid, as any time (DESIGN.md §1.1)
    with pytest.raises(InvalidPayload, match="estimated_delivery"):
        parse_delivery("aftership", body)


def test_sendcloud_prefers_the_carrier_status_change_time() -> None:
    body = example("sendcloud_parcel_status_changed.json")
    body["timestamp"], body["carrier_status_change_timestamp"] = 1_717_000_000_000, 1_716_999_999_500
    assert only_update(parse_delivery("sendcloud", body)).occurred_at == datetime(
        2024, 5, 29, 16, 26, 39, 500_000, tzinfo=UTC
    )
    del body["carrier_status_change_timestamp"]
    assert only_update(parse_delivery("sendcloud", body)).occurred_at == datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)


def test_sendcloud_reads_the_carrier_code_when_sent() -> None:
    body = example("sendcloud_parcel_status_changed.json")
    body["parcel"]["carrier"] = {"code": "postnl"}
    assert only_update(parse_delivery("sendcloud", body)).carrier == "postnl"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"id": 11, "message": "Delivered"}, S.delivered),
        ({"id": 11, "message": "Delivery attempt failed"}, S.failed_attempt),
        ({"id": 4242, "message": "Awaiting customer pickup"}, S.available_for_pickup),
        ({"id": 92, "message": "Chauffeur onderweg"}, S.out_for_delivery),
        ({"message": "Delivered"}, S.delivered),
        ({"id": 4242, "message": "Something new"}, S.unknown),
    ],
)
def test_sendcloud_status_is_the_id_unless_a_listed_message_contradicts_it(
    status: dict[str, Any], expected: TrackingStatus
) -> None:
    body = example("sendcloud_parcel_status_changed.json")
    body["parcel"]["status"] = status
    update = only_update(parse_delivery("sendcloud", body))
    assert update.status is expected
    assert update.carrier_code == (str(status["id"]) if "id" in status else None)
    assert update.carrier_message == status["message"]


def test_sendcloud_personal_data_never_reaches_the_update() -> None:
    body = example("sendcloud_parcel_status_changed.json")
    stored = only_update(parse_delivery("sendcloud", body)).model_dump_json()
    parcel = body["parcel"]
    for personal in (parcel["name"], parcel["company_name"], parcel["address"], "Stadhuisplein",
                     parcel["postal_code"], parcel["telephone"], parcel["email"],
                     parcel["order_number"], "label_printer", "hash="):  # fmt: skip
        assert personal not in stored


def test_sendcloud_retries_of_one_status_share_a_dedup_key() -> None:
    first = only_update(parse_delivery("sendcloud", example("sendcloud_parcel_status_changed.json")))
    again = only_update(parse_delivery("sendcloud", example("sendcloud_parcel_status_changed.json")))
    assert first.carrier_event_id is None
    assert first.dedup_key() == again.dedup_key()


def test_shippo_substatus_refines_the_status() -> None:
    body = example("shippo_track_updated.json")
    body["data"]["tracking_status"].update(status="TRANSIT", substatus={"code": "delivery_attempted"})
    update = only_update(parse_delivery("shippo", body))
    assert (update.status, update.carrier_code) == (S.failed_attempt, "TRANSIT/delivery_attempted")


def test_shippo_without_substatus() -> None:
    body = example("shippo_track_updated.json")
    body["data"]["tracking_status"].update(status="RETURNED", substatus=None)
    update = only_update(parse_delivery("shippo", body))
    assert (update.status, update.carrier_code) == (S.returned_to_sender, "RETURNED")


# --- Event types that are not tracking updates -----------------------------------------------


def _with(name: str, **fields: Any) -> dict[str, Any]:
    body = example(name)
    body.update(fields)
    return body


@pytest.mark.parametrize(
    ("carrier", "body"),
    [
        ("easypost", _with("easypost_tracker.updated.json", description="batch.created")),
        ("easypost", _with("easypost_tracker.updated.json", description="batch.updated")),
        ("easypost", _with("easypost_tracker.updated.json", description="refund.successful")),
        ("easypost", {"description": "insurance.purchased", "result": {"id": "ins_1"}}),
        ("sendcloud", _with("sendcloud_parcel_status_changed.json", action="integration_updated")),
        ("sendcloud", {"action": "integration_deleted", "timestamp": 123}),
        ("aftership", _with("aftership_tracking_update.json", event="tracking_created")),
        ("shippo", _with("shippo_track_updated.json", event="transaction_created")),
        ("shippo", {"event": "batch_purchased", "data": {}}),
    ],
)
def test_events_that_are_not_tracking_updates_are_ignored(carrier: str, body: dict[str, Any]) -> None:
    assert parse_delivery(carrier, body) == ParsedDelivery(ignored=True)


def test_easypost_tracker_created_is_a_tracking_update() -> None:
    body = _with("easypost_tracker.updated.json", description="tracker.created")
    assert only_update(parse_delivery("easypost", body)).status is S.in_transit


# --- Malformed payloads ------------------------------------------------------------------------


def _without(name: str, path: tuple[str, ...]) -> dict[str, Any]:
    body = example(name)
    holder = body
    for key in path[:-1]:
        holder = holder[key]
    del holder[path[-1]]
    return body


def _setting(name: str, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = example(name)
    holder = body
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return body


INVALID = [
    ("sendcloud", _setting("sendcloud_parcel_status_changed.json", ("parcel", "tracking_number"), ["x"]),
     "parcel.tracking_number"),
    ("sendcloud", _without("sendcloud_parcel_status_changed.json", ("parcel",)), "parcel"),
    ("sendcloud", _without("sendcloud_parcel_status_changed.json", ("parcel", "status")), "parcel.status"),
    ("sendcloud", _setting("sendcloud_parcel_status_changed.json", ("carrier_status_change_timestamp",), "yesterday"), "carrier_status_change_timestamp"),
    ("sendcloud", _setting("sendcloud_parcel_status_changed.json", ("carrier_status_change_timestamp",), 10**30), "carrier_status_change_timestamp"),
    ("sendcloud", _without("sendcloud_parcel_status_changed.json", ("timestamp",)) | {"carrier_status_change_timestamp": None}, "timestamp"),
    ("easypost", _without("easypost_tracker.updated.json", ("result",)), "result"),
    ("easypost", _setting("easypost_tracker.updated.json", ("result", "tracking_details", 2, "datetime"), "31/07/2024"), "result.tracking_details[2].datetime"),
    ("easypost", _setting("easypost_tracker.updated.json", ("result", "tracking_details"), "none"), "result.tracking_details"),
    ("aftership", _setting("aftership_tracking_update.json", ("msg", "checkpoints", 0, "checkpoint_time"), "soon"), "msg.checkpoints[0].checkpoint_time"),
    ("aftership", _setting("aftership_tracking_update.json", ("msg",), "text"), "msg"),
    ("shippo", _setting("shippo_track_updated.json", ("data", "tracking_status"), None), "data.tracking_status"),
    ("shippo", _setting("shippo_track_updated.json", ("data", "tracking_status", "status_date"), "23 July"), "data.tracking_status.status_date"),
    ("shippo", _setting("shippo_track_updated.json", ("data", "tracking_number"), ["x"]), "data.tracking_number"),
]  # fmt: skip


@pytest.mark.parametrize(("carrier", "body", "field"), INVALID, ids=[f"{c}-{f}" for c, _, f in INVALID])
def test_malformed_payloads_are_invalid_naming_the_field(carrier: str, body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_delivery(carrier, body)
    assert field in raised.value.detail


NUMBER_FIELDS = {"sendcloud": ("sendcloud_parcel_status_changed.json", ("parcel", "tracking_number")),
                 "easypost": ("easypost_tracker.updated.json", ("result", "tracking_code")),
                 "aftership": ("aftership_tracking_update.json", ("msg", "tracking_number")),
                 "shippo": ("shippo_track_updated.json", ("data", "tracking_number"))}


@pytest.mark.parametrize("carrier", sorted(NUMBER_FIELDS))
@pytest.mark.parametrize("blank", [None, "", "   ", "missing"])
def test_an_update_without_a_tracking_number_is_ignored(carrier: str, blank: str | None) -> None:
    # DESIGN.md §1.1: answered 200 and recorded nowhere, whatever the carrier (not a 400 it would retry).
    name, path = NUMBER_FIELDS[carrier]
    body = _without(name, path) if blank == "missing" else _setting(name, path, blank)
    assert parse_delivery(carrier, body) == ParsedDelivery.ignore()


@pytest.mark.parametrize("blank", [None, "", "  ", "missing"])
def test_a_colis_event_without_a_tracking_number_is_ignored_alone_or_in_a_batch(blank: str | None) -> None:
    event: dict[str, Any] = {"event_id": "e1", "carrier": "ups", "tracking_number": blank, "status": "in_transit",
                             "occurred_at": "2026-03-10T10:00:00Z"}
    if blank == "missing":
        del event["tracking_number"]
    assert parse_delivery("colis", event) == ParsedDelivery.ignore()
    kept = dict(event, tracking_number="1Z999", event_id="e2")
    batch = parse_delivery("colis", {"events": [event, kept, [1]]})
    assert [u.tracking_number for u in batch.updates] == ["1Z999"] and [f.index for f in batch.failures] == [2]
    assert not batch.ignored
    assert parse_delivery("colis", {"events": [event, event]}).ignored


def test_invalid_payload_is_a_bad_request() -> None:
    error = InvalidPayload("msg.tracking_number is missing")
    assert isinstance(error, Malformed)
    assert problem_of(error) == (400, {"type": "about:blank", "title": "Bad Request", "status": 400,
                                       "detail": "msg.tracking_number is missing"})


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("body", [[], "text", 42, None])
def test_a_body_that_is_not_an_object_is_invalid(carrier: str, body: Any) -> None:
    with pytest.raises(InvalidPayload, match="JSON object"):
        parse_delivery(carrier, body)


def test_an_unknown_carrier_has_no_parser() -> None:
    with pytest.raises(ValueError, match="no carrier"):
        parse_delivery("ups", {})


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[1, 2]", b'"text"', b"null"])
def test_decode_body_refuses_what_is_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(InvalidPayload):
        decode_body(raw)


def test_decode_body_reads_the_raw_bytes() -> None:
    raw = (FIXTURES / "shippo_track_updated.json").read_bytes()
    assert decode_body(raw) == example("shippo_track_updated.json")


# --- colis: our own format ---------------------------------------------------------------------


def colis_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "evt-42",
        "carrier": "postnl",
        "tracking_number": "3SYZXG132912330",
        "status": "out_for_delivery",
        "occurred_at": "2025-03-01T09:15:00+01:00",
        "location": "Eindhoven, NL",
        "message": "Bezorger is onderweg",
        "estimated_delivery": "2025-03-01T17:00:00Z",
    }
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}


def test_colis_single_event() -> None:
    update = only_update(parse_delivery("colis", colis_event()))
    assert update == CanonicalUpdate(
        tracking_number="3SYZXG132912330",
        status=S.out_for_delivery,
        carrier_code="out_for_delivery",
        carrier_message="Bezorger is onderweg",
        occurred_at=datetime(2025, 3, 1, 8, 15, tzinfo=UTC),
        location="Eindhoven, NL", source="colis",  # free text: no city, region or country of its own
        carrier_event_id="evt-42",
        carrier="postnl",
        estimated_delivery=datetime(2025, 3, 1, 17, 0, tzinfo=UTC),
    )


def test_colis_city_region_and_country_apart_are_the_public_place() -> None:
    update = only_update(parse_delivery("colis", colis_event(location="12 rue des Lilas, 75011 Paris", city="Paris",
                                                             region="IDF", country="FR")))
    assert (update.location, update.city, update.region, update.country) == (
        "12 rue des Lilas, 75011 Paris", "Paris", "IDF", "FR")
    alone = only_update(parse_delivery("colis", colis_event(location=None, city="Paris", country="FR")))
    assert (alone.location, alone.city, alone.country) == ("Paris, FR", "Paris", "FR")


def test_colis_minimal_event_with_a_carrier_code_and_time_without_offset() -> None:
    body = colis_event(status="InTransit_002", occurred_at="2025-03-01T09:15:00",
                       location=None, message=None, estimated_delivery=None)  # fmt: skip
    update = only_update(parse_delivery("colis", body))
    assert (update.status, update.carrier_code) == (S.in_transit, "InTransit_002")
    assert update.occurred_at == datetime(2025, 3, 1, 9, 15, tzinfo=UTC)
    assert (update.location, update.carrier_message, update.estimated_delivery) == (None, None, None)


def test_colis_unrecognised_status_is_kept_as_unknown() -> None:
    update = only_update(parse_delivery("colis", colis_event(status="parcel_teleported")))
    assert (update.status, update.carrier_code) == (S.unknown, "parcel_teleported")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event_id": None}, "event_id"),
        ({"tracking_number": 12345}, "tracking_number"),
        ({"status": None}, "status"),
        ({"carrier": None}, "carrier"),
        ({"occurred_at": None}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": 1_740_820_500}, "occurred_at"),
        ({"estimated_delivery": "soon"}, "estimated_delivery"),
        ({"location": "x" * 201}, "location"),
    ],
)
def test_colis_single_bad_event_is_invalid(overrides: dict[str, Any], field: str) -> None:
    body = colis_event()
    body.update(overrides)
    body = {key: value for key, value in body.items() if value is not None}
    with pytest.raises(InvalidPayload) as raised:
        parse_delivery("colis", body)
    assert raised.value.detail.startswith(field)


def test_colis_batch_reads_each_event_on_its_own() -> None:
    bad_time = colis_event(event_id="evt-2", occurred_at="not a time")
    body = {
        "events": [
            colis_event(event_id="evt-1"),
            bad_time,
            "not an event",
            colis_event(event_id="evt-4", status="delivered", tracking_number="OTHER"),
            colis_event(event_id="evt-5", tracking_number=None),  # no number yet: skipped, not failed
            {"tracking_number": ""},  # no number and no event either: failed
        ]
    }
    delivery = parse_delivery("colis", body)
    assert not delivery.ignored
    assert [u.carrier_event_id for u in delivery.updates] == ["evt-1", "evt-4"]
    assert [u.status for u in delivery.updates] == [S.out_for_delivery, S.delivered]
    assert [failure.index for failure in delivery.failures] == [1, 2, 5]
    index, detail = delivery.failures[0]
    assert (index, detail.split(":")[0]) == (1, "occurred_at")
    assert delivery.failures[1] == EventFailure(2, "an event must be an object")
    assert delivery.failures[2].detail.startswith("event_id")
    assert delivery.failures[0]._asdict() == {"index": 1, "detail": detail}


def test_colis_batch_where_every_event_fails_returns_only_failures() -> None:
    delivery = parse_delivery("colis", {"events": [{}, {"status": "delivered"}]})
    assert delivery.updates == []
    assert [failure.index for failure in delivery.failures] == [0, 1]


@pytest.mark.parametrize("events", [[], {}, "x", None])
def test_colis_batch_needs_a_list_of_events(events: Any) -> None:
    with pytest.raises(InvalidPayload, match="events"):
        parse_delivery("colis", {"events": events})


def test_colis_batch_is_bounded() -> None:
    events = [colis_event(event_id=f"evt-{i}") for i in range(MAX_BATCH_EVENTS + 1)]
    with pytest.raises(InvalidPayload, match=f"at most {MAX_BATCH_EVENTS}"):
        parse_delivery("colis", {"events": events})
    assert len(parse_delivery("colis", {"events": events[:-1]}).updates) == MAX_BATCH_EVENTS


def test_parsing_never_changes_the_payload() -> None:
    for carrier, name, _ in EXPECTED_EXAMPLES:
        body = example(name)
        before = copy.deepcopy(body)
        parse_delivery(carrier, body)
        assert body == before


@pytest.mark.parametrize("number", ["", "  ", None])
def test_sendcloud_announcing_a_parcel_without_a_tracking_number_records_nothing(number: str | None) -> None:
    body = example("sendcloud_parcel_status_changed.json")
    body["parcel"]["tracking_number"] = number
    body["parcel"]["status"] = {"id": 1001, "message": "Being announced"}
    delivery = parse_delivery("sendcloud", body)
    assert delivery.ignored and delivery.updates == [] and delivery.failures == []


@pytest.mark.parametrize(("status", "detail", "expected"), [
    ("failure", "delayed", S.failed_attempt),  # "customer not available"
    ("failure", None, S.exception),
    ("failure", "delivery_exception", S.exception),
    ("failure", "return", S.returned_to_sender),
    ("failure", "arrived_at_pickup_location", S.available_for_pickup),
    ("error", "delayed", S.exception),  # not broad: the detail does not drag it
    ("in_transit", "delayed", S.delayed),
])
def test_easypost_failure_refines_by_its_detail_like_a_broad_status(status: str, detail: str | None,
                                                                     expected: TrackingStatus) -> None:
    body = example("easypost_tracker.updated.json")
    body["result"]["status"], body["result"]["status_detail"] = status, detail
    assert only_update(parse_delivery("easypost", body)).status == expected


def test_aftership_retired_out_for_delivery_002_is_available_for_pickup() -> None:
    body = example("aftership_tracking_update.json")
    body["msg"]["tag"], body["msg"]["subtag"] = "OutForDelivery", "OutForDelivery_002"
    update = only_update(parse_delivery("aftership", body))
    assert (update.status, update.carrier_code) == (S.available_for_pickup, "OutForDelivery_002")
