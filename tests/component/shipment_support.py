"""Shipments through their API handler, for the webhook component tests and their fault walks."""

from __future__ import annotations

from typing import Any

from functions.shipments.handler import lambda_handler as shipments_api
from tests.apigw import api_event, call
from tests.factories import shipment_body


def new_shipment(merchant: str, parcels: int = 1, numbers: list[str] | None = None) -> dict[str, Any]:
    body = shipment_body(parcels=parcels)
    for parcel, number in zip(body["parcels"], numbers or [], strict=False):
        parcel["tracking_number"] = number
    response = call(shipments_api, api_event("POST", "/v1/shipments", body=body, merchant_id=merchant))
    assert response.status == 201, response.body
    return response.json()


def shipment(merchant: str, shipment_id: str) -> dict[str, Any]:
    return call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}", path_params={"shipment_id": shipment_id},
                                         merchant_id=merchant)).json()


def history(merchant: str, shipment_id: str) -> list[dict[str, Any]]:
    """The whole tracking history, newest first (every page)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = call(shipments_api, api_event("GET", "/v1/shipments/{shipment_id}/events",
                                             query={"cursor": cursor} if cursor else None,
                                             path_params={"shipment_id": shipment_id}, merchant_id=merchant)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
