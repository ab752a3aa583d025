"""Signed webhooks to merchants through the real local stack: outbox -> bus -> rule -> queue ->
delivery function -> a receiver on loopback (verifying with `standardwebhooks`); a failing
receiver's events wait in `/_local/webhook-deliveries` and go out when the product clock moves."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.component.webhook_receiver import Receiver, receiving
from tests.e2e.conftest import ApiClient
from tests.factories import shipment_body

pytest.importorskip("standardwebhooks", reason="standardwebhooks (requirements-dev.lock) is not installed")
pytestmark = pytest.mark.xdist_group("e2e")


def _eventually(check: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(Receiver()) as running:
        yield running


def _register(api: ApiClient, receiver: Receiver, events: list[str]) -> dict[str, Any]:
    created = api.post("/v1/webhook-endpoints", json={"url": receiver.url, "events": events})
    assert created.status_code == 201, created.text
    receiver.secrets.append(created.json()["secret"])
    return dict(created.json())


def _types(receiver: Receiver) -> set[str]:
    return {payload["type"] for payload in receiver.events.values()}


def test_a_new_shipment_reaches_the_merchants_receiver_over_http(api: ApiClient, second_api: ApiClient,
                                                                  receiver: Receiver) -> None:
    endpoint = _register(api, receiver, ["shipment.created"])
    with receiving(Receiver()) as theirs:
        _register(second_api, theirs, ["*"])
        created = api.post("/v1/shipments", json=shipment_body())
        assert created.status_code == 201, created.text
        shipment_id = created.json()["id"]
        assert _eventually(lambda: any(p["data"].get("shipment_id") == shipment_id
                                       for p in receiver.events.values())), receiver.requests
        assert receiver.unverified == 0 and _types(receiver) == {"shipment.created"}
        assert theirs.requests == 0  # the other merchant's endpoint never hears of it
    log = api.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries").json()["items"]
    assert log and log[0]["status_code"] == 204 and log[0]["event_type"] == "shipment.created"


def test_failed_deliveries_wait_and_go_out_when_the_clock_moves(api: ApiClient, public_api: ApiClient,
                                                                receiver: Receiver) -> None:
    endpoint = _register(api, receiver, ["shipment.created"])
    receiver.fail_next = 1_000
    shipment_id = api.post("/v1/shipments", json=shipment_body()).json()["id"]

    def waiting() -> bool:
        pending = public_api.get("/_local/webhook-deliveries").json()["items"]
        return any(p["endpoint_id"] == endpoint["id"] for p in pending)

    assert _eventually(waiting), receiver.requests
    receiver.fail_next = 0
    assert public_api.post("/_local/clock", json={"advance_hours": 1}).status_code == 200
    assert _eventually(lambda: any(p["data"].get("shipment_id") == shipment_id for p in receiver.events.values()))
    assert not waiting()


def test_a_test_ping_goes_out(api: ApiClient, receiver: Receiver) -> None:
    endpoint = _register(api, receiver, ["order.cancelled"])
    assert api.post(f"/v1/webhook-endpoints/{endpoint['id']}/test").status_code == 202
    assert _eventually(lambda: "ping" in _types(receiver))
