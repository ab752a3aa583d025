"""`q` over HTTP against the local stack: a customer and an order found by a name typed without its
accents, in another case; the other merchant finds neither."""

from __future__ import annotations

import uuid

from tests.e2e.conftest import ApiClient
from tests.e2e.test_orders_e2e import create_order


def test_customers_and_orders_are_found_by_name_whatever_the_case_and_accents(api: ApiClient,
                                                                              second_api: ApiClient) -> None:
    run = uuid.uuid4().hex[:8]  # the stack lives for the whole session: a name no other test uses
    created = api.post("/v1/customers", json={"email": f"lea.{run}@example.com", "first_name": "Léa",
                                              "last_name": f"Müller{run}"})
    assert created.status_code == 201, created.text
    found = api.get("/v1/customers", params={"q": f"LEA MULLER{run.upper()}"})
    assert found.status_code == 200, found.text
    assert [c["id"] for c in found.json()["items"]] == [created.json()["id"]]

    order = create_order(api, customer={"email": f"jorg.{run}@example.de", "first_name": "Jörg",
                                        "last_name": f"Ångström{run}"})
    found = api.get("/v1/orders", params={"q": f"angstrom{run}"})
    assert found.status_code == 200, found.text
    assert [o["id"] for o in found.json()["items"]] == [order["id"]]

    assert second_api.get("/v1/customers", params={"q": f"muller{run}"}).json()["items"] == []
    assert second_api.get("/v1/orders", params={"q": f"angstrom{run}"}).json()["items"] == []
    assert api.get("/v1/customers", params={"q": "   "}).status_code == 422
