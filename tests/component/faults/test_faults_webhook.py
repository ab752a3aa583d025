"""Carrier webhooks under DynamoDB (and SSM) faults: a delivery whose update was not stored never
gets a 2xx, so the carrier retries; the redelivery stores the update exactly once (one history
event, one outbox event, the parcel's status right) and later repeats are duplicates.

Faults are injected at the call layer (above botocore's retries: what the function sees once
retries are spent), except where a test says `at="send"`: there botocore's own retry meets it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.shipments.handler import lambda_handler as shipments_api
from functions.webhook import handler as webhook_module
from shared.dynamo import keys
from shared.merchants.store import MerchantRepository
from shared.platform import clock
from tests.apigw import ApiResponse, api_event, call
from tests.component.notify_pipeline import TableStream, colis_connection, colis_delivery
from tests.component.shipment_support import history, new_shipment, shipment
from tests.factories import colis_event, shipment_body
from tests.faults import (
    DYNAMODB_THROTTLED,
    AwsError,
    Error,
    FaultInjector,
    LostAnswer,
)

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)

# Every AWS call of a first delivery to a cold function, in order (checked by the first test).
COLD_DELIVERY = [("dynamodb", "GetItem"),  # the connection
                 ("ssm", "GetParameter"),  # its secret
                 ("dynamodb", "GetItem"),  # the tracking number's entry
                 ("dynamodb", "GetItem"),  # the shipment
                 # the shipment, version-checked, with its outbox entry, and the history event,
                 # conditional on its dedup key, in one transaction
                 ("dynamodb", "TransactWriteItems")]
# A refusal (nothing written: throttling, a 5xx, no connection look the same to the function) and
# a lost answer (written, but the function cannot know it).
ERRORS: dict[str, Error] = {"throttled": DYNAMODB_THROTTLED, "timeout": LostAnswer()}
WRITES = {4}  # index in COLD_DELIVERY of the write


@pytest.fixture
def merchant(aws_env: dict[str, Any]) -> str:
    clock.use_fixed(NOW)
    webhook_module._connections.cache_clear()
    webhook_module._warm_state.cache_clear()
    return MerchantRepository().create("Atelier Lune").id


@pytest.fixture
def stream(aws_env: dict[str, Any]) -> TableStream:
    return TableStream(aws_env["TABLE_NAME"])


def cold_function() -> None:
    """A carrier retry may land on a new Lambda instance: nothing remembered."""
    webhook_module._connections.cache_clear()
    webhook_module._warm_state.cache_clear()


def assert_stored_once(merchant: str, made: dict[str, Any], stream: TableStream, status: str = "in_transit") -> None:
    assert shipment(merchant, made["id"])["parcels"][0]["status"] == status
    assert [e["status"] for e in history(merchant, made["id"])] == [status]
    published = stream.published("ShipmentTrackingUpdated")
    assert [(e.detail["shipment_id"], e.detail["parcel_status"]) for e in published] == [(made["id"], status)]


def test_the_walk_covers_every_aws_call_of_a_delivery(merchant: str, faults: FaultInjector) -> None:
    made = new_shipment(merchant)
    connection = colis_connection(merchant)
    cold_function()
    faults.clear()
    answer = colis_delivery(connection, colis_event(made["parcels"][0]["tracking_number"], "in_transit", NOW))
    assert answer.status == 200
    assert [(c.service, c.operation) for c in faults.calls] == COLD_DELIVERY


@pytest.mark.parametrize("error", list(ERRORS), ids=list(ERRORS))
def test_a_fault_at_any_call_answers_5xx_and_the_redelivery_stores_the_update_once(
        merchant: str, stream: TableStream, faults: FaultInjector, error: str) -> None:
    """Each call of the delivery in turn (a fresh shipment each time). After a failed write the
    carrier's retry may land on the same warm instance (which may remember a stale shipment) or on
    a new one: both are walked; after a failed read nothing was remembered."""
    connection = colis_connection(merchant)
    for point, (service, operation) in enumerate(COLD_DELIVERY):
        for warm in (True, False) if point in WRITES else (True,):
            where = f"fault at call {point + 1} ({service} {operation}), redelivered to a {'warm' if warm else 'new'} instance"
            made = new_shipment(merchant)
            cold_function()
            stream.published()  # the creation's own events are not under test
            nth = COLD_DELIVERY[: point + 1].count((service, operation))
            faults.clear()
            fault = faults.fail(service, operation, ERRORS[error], on_call=nth)
            event = colis_event(made["parcels"][0]["tracking_number"], "in_transit", NOW - timedelta(hours=1))

            failed = colis_delivery(connection, event)
            assert fault.hits == 1, where
            assert failed.status >= 500, (where, failed.status, failed.body)  # never a 2xx for an update not stored

            if not warm:
                cold_function()
            redelivered = colis_delivery(connection, event)
            assert redelivered.status == 200 and redelivered.json()["accepted"] == 1, (where, redelivered.body)
            assert_stored_once(merchant, made, stream)
            again = colis_delivery(connection, event)
            assert again.status == 200 and again.json()["duplicates"] == 1, where
            assert [e["status"] for e in history(merchant, made["id"])] == ["in_transit"], where
            assert stream.published("ShipmentTrackingUpdated") == [], where


def test_a_shipment_write_whose_answer_was_lost_is_resent_by_botocore_and_stored_once(
        merchant: str, stream: TableStream, faults: FaultInjector) -> None:
    """Below the retry layer: the transaction landed, botocore resends it, the conditions refuse
    the copy, and the function sees its own update on the re-read."""
    made = new_shipment(merchant)
    connection = colis_connection(merchant)
    stream.published()
    fault = faults.fail("dynamodb", "TransactWriteItems", LostAnswer(), at="send",
                        when=lambda wire: any("version" in i.get("Put", {}).get("Item", {}) and keys.SK in i["Put"]["Item"]
                                              for i in wire.get("TransactItems", [])))
    answer = colis_delivery(connection, colis_event(made["parcels"][0]["tracking_number"], "in_transit", NOW))
    assert fault.hits == 1
    assert answer.status == 200 and answer.json()["accepted"] == 1
    assert_stored_once(merchant, made, stream)


def test_a_single_throttle_is_absorbed_by_botocores_retry(merchant: str, stream: TableStream,
                                                         faults: FaultInjector) -> None:
    made = new_shipment(merchant)
    connection = colis_connection(merchant)
    stream.published()
    fault = faults.fail("dynamodb", "*", AwsError("ThrottlingException"), at="send", on_call=3)
    answer = colis_delivery(connection, colis_event(made["parcels"][0]["tracking_number"], "in_transit", NOW))
    assert fault.hits == 1 and answer.status == 200
    assert_stored_once(merchant, made, stream)


def test_a_batch_cut_short_by_a_fault_is_redelivered_whole_and_each_event_stored_once(
        merchant: str, stream: TableStream, faults: FaultInjector) -> None:
    made = new_shipment(merchant, parcels=2)
    connection = colis_connection(merchant)
    stream.published()
    numbers = [p["tracking_number"] for p in made["parcels"]]
    batch = {"events": [colis_event(numbers[0], "in_transit", NOW - timedelta(hours=2)),
                        colis_event(numbers[1], "in_transit", NOW - timedelta(hours=1))]}
    # The second event's write: the first event is stored, the second is not.
    fault = faults.fail("dynamodb", "TransactWriteItems", DYNAMODB_THROTTLED, on_call=2)
    assert colis_delivery(connection, batch).status >= 500
    assert fault.hits == 1
    answer = colis_delivery(connection, batch)
    assert answer.status == 200 and answer.json()["duplicates"] == 1
    current = shipment(merchant, made["id"])
    assert [p["status"] for p in current["parcels"]] == ["in_transit", "in_transit"]
    assert sorted(e["tracking_number"] for e in history(merchant, made["id"])) == sorted(numbers)
    published = stream.published("ShipmentTrackingUpdated")
    assert sorted(e.detail["parcel_id"] for e in published) == sorted(p["id"] for p in made["parcels"])


def test_an_update_for_an_unknown_number_is_kept_once_across_a_fault(merchant: str, faults: FaultInjector) -> None:
    connection = colis_connection(merchant)
    event = colis_event("3SYZXG999000111", "in_transit", NOW)
    # the orphan and its count landed (one transaction), the answer did not
    fault = faults.fail("dynamodb", "TransactWriteItems", LostAnswer())
    assert colis_delivery(connection, event).status >= 500
    assert fault.hits == 1
    redelivered: ApiResponse = colis_delivery(connection, event)
    assert redelivered.status == 200 and redelivered.json()["duplicates"] == 1
    made = call(shipments_api, api_event("POST", "/v1/shipments", merchant_id=merchant, body={
        **shipment_body(), "parcels": [{"tracking_number": "3SYZXG999000111"}]})).json()
    assert [e["status"] for e in history(merchant, made["id"])] == ["in_transit"]
