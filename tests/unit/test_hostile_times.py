"""Hostile times in every carrier format: unparseable, past the calendar once converted to UTC
(year 1 or 9999 with an offset), out of range, or far ahead of the product clock. Each makes the
update invalid (a 400; in a colis batch, that event's `failed[]` entry), never an OverflowError."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.webhook.carriers import InvalidPayload, parse_delivery
from shared.errors import Malformed
from shared.http.problems import problem_of
from shared.platform import clock
from tests import carrier_payloads

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
AHEAD = NOW + timedelta(hours=25)

HOSTILE_ISO = [
    "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
    "0001-01-01T00:00:00Z",
    "0001-01-01",
    "9999-12-31T23:59:59-14:00",  # after 9999 once in UTC
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31",
    "2999-06-01T00:00:00Z",  # readable, but would outrank every real event
    "1969-12-31T23:59:59Z",
    AHEAD.isoformat(),
    "2026-02-30T10:00:00Z",
    "2026-05-04T25:00:00Z",
    "next tuesday",
    "",
]
HOSTILE_EPOCH_MS = [-62_135_596_800_000, -1, 253_402_300_799_999, 253_402_300_800_000, 10**20, -(10**20),
                    32_503_680_000_000, int(AHEAD.timestamp() * 1000), 1e308]

Setter = Callable[[dict[str, Any], Any], None]


def _set(*path: str | int) -> Setter:
    def put(body: dict[str, Any], value: Any) -> None:
        node: Any = body
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return put


def _easypost_without_details(body: dict[str, Any], value: Any) -> None:
    body["result"]["tracking_details"] = []
    body["result"]["updated_at"] = value


def _aftership_without_checkpoints(body: dict[str, Any], value: Any) -> None:
    body["msg"]["checkpoints"] = []
    body["msg"]["updated_at"] = value


def _aftership_second_checkpoint(body: dict[str, Any], value: Any) -> None:
    # Any time of the history is read (the newest one decides): a hostile one anywhere is refused.
    body["msg"]["checkpoints"].append({**body["msg"]["checkpoints"][0], "checkpoint_time": value})


ISO_FIELDS: list[tuple[str, str, Setter]] = [
    ("easypost", "tracking_details[].datetime", _set("result", "tracking_details", 0, "datetime")),
    ("easypost", "result.updated_at", _easypost_without_details),
    ("easypost", "est_delivery_date", _set("result", "est_delivery_date")),
    ("aftership", "checkpoint_time", _set("msg", "checkpoints", 0, "checkpoint_time")),
    ("aftership", "second checkpoint_time", _aftership_second_checkpoint),
    ("aftership", "msg.updated_at", _aftership_without_checkpoints),
    ("aftership", "expected_delivery", _set("msg", "expected_delivery")),
    ("shippo", "tracking_status.status_date", _set("data", "tracking_status", "status_date")),
    ("shippo", "eta", _set("data", "eta")),
    ("colis", "occurred_at", _set("occurred_at")),
    ("colis", "estimated_delivery", _set("estimated_delivery")),
]
EPOCH_FIELDS: list[tuple[str, str, Setter]] = [
    ("sendcloud", "carrier_status_change_timestamp", _set("carrier_status_change_timestamp")),
    ("sendcloud", "timestamp", lambda body, value: (body.pop("carrier_status_change_timestamp"),
                                                    _set("timestamp")(body, value))),
]


@pytest.fixture(autouse=True)
def _now() -> None:
    clock.use_fixed(NOW)


def _payload(carrier: str) -> dict[str, Any]:
    return carrier_payloads.BUILDERS[carrier]("3SYZXG000000001", "in_transit", NOW - timedelta(hours=1))


def _assert_invalid(carrier: str, body: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload) as refused:
        parse_delivery(carrier, body)
    assert isinstance(refused.value, Malformed) and problem_of(refused.value)[0] == 400


@pytest.mark.parametrize("value", HOSTILE_ISO)
@pytest.mark.parametrize(("carrier", "field", "put"), ISO_FIELDS, ids=[f"{c}-{f}" for c, f, _ in ISO_FIELDS])
def test_a_hostile_iso_time_is_an_invalid_update(carrier: str, field: str, put: Setter, value: str) -> None:
    body = _payload(carrier)
    put(body, value)
    if field in ("est_delivery_date", "expected_delivery", "eta") and value == "":
        assert parse_delivery(carrier, body).updates[0].estimated_delivery is None  # blank: no estimate
        return
    if field in ("est_delivery_date", "expected_delivery", "eta", "estimated_delivery") and value == AHEAD.isoformat():
        assert parse_delivery(carrier, body).updates[0].estimated_delivery == AHEAD  # estimates are ahead
        return
    _assert_invalid(carrier, body)


@pytest.mark.parametrize("value", HOSTILE_EPOCH_MS)
@pytest.mark.parametrize(("carrier", "field", "put"), EPOCH_FIELDS, ids=[f"{c}-{f}" for c, f, _ in EPOCH_FIELDS])
def test_a_hostile_epoch_time_is_an_invalid_update(carrier: str, field: str, put: Setter, value: float) -> None:
    body = _payload(carrier)
    put(body, value)
    _assert_invalid(carrier, body)


@pytest.mark.parametrize("value", [-62_135_596_800, 253_402_300_800, 10**18, int(AHEAD.timestamp())])
def test_aftership_ts_out_of_range_is_invalid(value: int) -> None:
    body = _payload("aftership")
    body["msg"]["checkpoints"] = []
    body["ts"] = value
    _assert_invalid("aftership", body)


@pytest.mark.parametrize("carrier", sorted(carrier_payloads.BUILDERS))
def test_an_event_up_to_a_day_ahead_is_accepted(carrier: str) -> None:
    at = NOW + timedelta(hours=23)
    body = carrier_payloads.BUILDERS[carrier]("3SYZXG000000001", "in_transit", at)
    assert parse_delivery(carrier, body).updates[0].occurred_at == at


def test_an_estimate_more_than_a_year_ahead_is_invalid() -> None:
    body = _payload("colis")
    body["estimated_delivery"] = (NOW + timedelta(days=400)).isoformat()
    _assert_invalid("colis", body)


def test_a_colis_batch_lists_each_hostile_time_and_applies_the_rest() -> None:
    good = _payload("colis")
    events = [good] + [{**_payload("colis"), "occurred_at": value} for value in HOSTILE_ISO]
    parsed = parse_delivery("colis", {"events": events})
    assert len(parsed.updates) == 1 and parsed.updates[0].tracking_number == good["tracking_number"]
    assert [failure.index for failure in parsed.failures] == list(range(1, len(events)))
    assert all("occurred_at" in failure.detail for failure in parsed.failures)


def test_a_long_carrier_message_is_cut_not_refused() -> None:
    body = _payload("colis")
    body["message"] = "é" * 5_000
    update = parse_delivery("colis", body).updates[0]
    assert update.carrier_message == "é" * 1_000
    easypost = _payload("easypost")
    easypost["result"]["tracking_details"][0]["message"] = "m" * 200_000
    assert parse_delivery("easypost", easypost).updates[0].carrier_message == "m" * 1_000
