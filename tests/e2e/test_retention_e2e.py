"""Retention end to end over HTTP: the local stack's product clock moved with `/_local/clock`, its
TTL emulation removing timers (REMOVE records stamped by the TTL service, through the template's
FilterCriteria to the retention function), and `/_local/schedules/retention` catching up.

This module runs its own local stack: it moves the product clock by 15 months, which the shared
session stack's other tests should not see.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from shared.retention.timers import add_months
from tests.carrier_payloads import body as carrier_body
from tests.carrier_signing import signed_headers
from tests.e2e.conftest import PROJECT_ROOT, ApiClient, _stop, _wait_for_state
from tests.factories import address, shipment_body

pytestmark = pytest.mark.xdist_group("retention-e2e")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("retention-stack")
    state_file, stdout_path, stderr_path = work / "local-stack.json", work / "stdout.log", work / "stderr.log"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "local", "--api-port", "0", "--moto-port", "0", "--state-file", str(state_file),
             "--template", str(PROJECT_ROOT / "template.yaml")],
            cwd=PROJECT_ROOT, stdout=out, stderr=err)
        try:
            yield _wait_for_state(process, state_file, stderr_path)
        finally:
            _stop(process)


@pytest.fixture
def api(stack: dict[str, Any]) -> Iterator[ApiClient]:
    with ApiClient(stack["api_url"], stack["api_key"]) as client:
        yield client


# --- steps ----------------------------------------------------------------------------------------
def now(api: ApiClient) -> datetime:
    return datetime.fromisoformat(api.get("/_local/clock").json()["now"].replace("Z", "+00:00"))


def advance_to(api: ApiClient, moment: datetime) -> None:
    """Moves the product clock (TTL reacts at once: expired timers are removed and streamed)."""
    seconds = (moment - now(api)).total_seconds()
    assert seconds >= 0
    assert api.post("/_local/clock", json={"advance_seconds": seconds}).status_code == 200


def run_retention(api: ApiClient) -> dict[str, Any]:
    response = api.post("/_local/schedules/retention")
    assert response.status_code == 200, response.text
    return response.json()["result"]


def eventually(check: Callable[[], bool], seconds: float = 20.0) -> None:
    """The TTL path is asynchronous (stream reader, consumer): wait for its effect."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("the retention work did not happen in time")
        time.sleep(0.2)


def deliver(stack: dict[str, Any], api: ApiClient, number: str, status: str) -> None:
    hook = stack["webhooks"]["colis"]
    at = now(api)
    raw = carrier_body("colis", number, status, at - timedelta(minutes=5))
    response = requests.post(hook["url"], data=raw, timeout=30,
                             headers={"Content-Type": "application/json", **signed_headers("colis", hook["secret"], raw, at)})
    assert response.status_code == 200, response.text


def created_at(shipment: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(shipment["created_at"].replace("Z", "+00:00"))


def shipment(api: ApiClient, shipment_id: str) -> requests.Response:
    return api.get(f"/v1/shipments/{shipment_id}")


# --- the timeline ---------------------------------------------------------------------------------
def test_archive_at_60_days_redaction_at_90_and_deletion_at_15_months(api: ApiClient, stack: dict[str, Any]) -> None:
    assert "retention" in api.get("/_local/schedules").json()["schedules"]
    silent = api.post("/v1/shipments", json=shipment_body()).json()
    delivered = api.post("/v1/shipments", json=shipment_body(recipient=address(first_name=None, last_name=None,
                                                                               name="Camille Dupont"))).json()
    deliver(stack, api, delivered["parcels"][0]["tracking_number"], "delivered")
    start = created_at(silent)

    advance_to(api, start + timedelta(days=59))
    run_retention(api)
    assert shipment(api, silent["id"]).json()["status"] == "pre_transit"

    advance_to(api, start + timedelta(days=61))
    eventually(lambda: shipment(api, silent["id"]).json()["status"] == "archived")  # TTL's stream path alone
    run_retention(api)
    assert shipment(api, delivered["id"]).json()["status"] == "delivered"

    advance_to(api, start + timedelta(days=89))
    run_retention(api)
    assert shipment(api, silent["id"]).json()["recipient"]["last_name"] == "Dupont"
    advance_to(api, start + timedelta(days=91))
    run_retention(api)
    eventually(lambda: shipment(api, silent["id"]).json()["redacted_at"] is not None)
    redacted = shipment(api, silent["id"]).json()["recipient"]
    assert (redacted["first_name"], redacted["last_name"], redacted["address_1"], redacted["postal_code"],
            redacted["phone"], redacted["email"], redacted["city"]) == \
        ("Camille", "redacted", "redacted", "redacted", "redacted", "redacted", "Lyon")
    eventually(lambda: shipment(api, delivered["id"]).json()["redacted_at"] is not None)
    assert shipment(api, delivered["id"]).json()["recipient"]["name"] == "Camille Dupont"  # a single name is kept
    found = api.get("/v1/shipments", params={"q": "dupont"}).json()["items"]
    assert [s["id"] for s in found] == [delivered["id"]]  # the other's last name left the name search

    fifteen_months = add_months(start, 15)
    advance_to(api, fifteen_months - timedelta(days=1))
    run_retention(api)
    assert shipment(api, silent["id"]).status_code == 200 and shipment(api, delivered["id"]).status_code == 200
    advance_to(api, fifteen_months + timedelta(days=1))
    run_retention(api)
    eventually(lambda: shipment(api, silent["id"]).status_code == 404 and shipment(api, delivered["id"]).status_code == 404)
    number = delivered["parcels"][0]["tracking_number"]
    assert api.get(f"/track/{stack['tracking_slug']}/{number}", headers={"Accept": "application/json"}).status_code == 404


def test_a_shipment_in_transit_at_its_date_is_kept_then_deleted_once_delivered(api: ApiClient,
                                                                               stack: dict[str, Any]) -> None:
    # A new period applies to shipments created afterwards: one month here.
    assert api.patch("/v1/settings", json={"retention": {"delete_after_months": 1}}).status_code == 200
    parcel = api.post("/v1/shipments", json=shipment_body()).json()
    number = parcel["parcels"][0]["tracking_number"]
    deliver(stack, api, number, "in_transit")
    advance_to(api, created_at(parcel) + timedelta(days=32))
    assert run_retention(api)["complete"] is True
    time.sleep(1.0)  # let the TTL path have its go too: it must keep the shipment as well
    assert shipment(api, parcel["id"]).json()["status"] == "in_transit"

    deliver(stack, api, number, "delivered")
    advance_to(api, now(api) + timedelta(seconds=2))  # the very next run, not an hour later
    assert run_retention(api)["done"] == 1
    assert shipment(api, parcel["id"]).status_code == 404
    api.patch("/v1/settings", json={"retention": {"delete_after_months": 15}})
