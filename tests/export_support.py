"""Shared steps of the export tests: a merchant, shipments at given times, the export API, the
worker, and reading the file back the way a merchant gets it (through the presigned link)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from functions.export.contents import Sources
from functions.export.files import ExportFiles
from functions.export.handler import lambda_handler as exports_api
from functions.export.jobs import Worker, run_export
from functions.shipments import service as shipments_service
from shared.exports.model import ExportStatus
from shared.exports.store import ExportRepository
from shared.merchants.store import MerchantRepository
from shared.platform import aws, clock
from shared.platform.ids import new_id
from shared.platform.settings import settings
from shared.shipments.model import Parcel, Shipment, ShipmentIn
from shared.shipments.store import ShipmentRepository, shipment_to_item
from tests.apigw import ApiResponse, api_event, call
from tests.factories import shipment_body, tracking_number

MERCHANT_SINCE = datetime(2025, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

# The shipment header of API.md, in its order: the contract, written out rather than imported.
API_MD_HEADER = [
    "shipment_id", "status", "recipient_name", "recipient_company", "recipient_address_1", "recipient_address_2",
    "recipient_city", "recipient_region", "recipient_postal_code", "recipient_country", "recipient_phone",
    "recipient_email", "return_name", "return_address_1", "return_address_2", "return_city", "return_region",
    "return_postal_code", "return_country", "contents", "description", "value", "currency", "order_id", "store",
    "package_type", "size_unit", "length", "width", "height", "weight_unit", "weight", "insurance_amount",
    "signature_confirmation", "postage_type", "carrier", "tracking_number", "tracking_url", "ship_date",
    "shipping_fee", "provincial_tax", "federal_tax", "postage_fee", "insurance_fee", "created_at", "batch_id",
    "parcel_index", "parcel_count",
]


def new_merchant(name: str = "Atelier Lune") -> str:
    """A merchant created before every shipment of the tests; the clock is left at NOW."""
    clock.use_fixed(MERCHANT_SINCE)
    merchant_id = MerchantRepository().create(name).id
    clock.use_fixed(NOW)
    return merchant_id


def create_shipment(merchant_id: str, at: datetime | None = None, *, parcels: int | list[dict[str, Any]] = 1,
                    **overrides: Any) -> Shipment:
    """Through the shipments use case, at `at` on the product clock (the clock is put back).
    `parcels`: how many (numbered by the factory), or the request's parcel list itself."""
    before = clock.now()
    if at is not None:
        clock.use_fixed(at)
    try:
        raw = shipment_body(parcels=parcels if isinstance(parcels, int) else len(parcels), **overrides)
        if not isinstance(parcels, int):
            raw["parcels"] = parcels
        body = ShipmentIn.model_validate(raw)
        return shipments_service.create_shipment(ShipmentRepository(), merchant_id, body)
    finally:
        clock.use_fixed(before)


def bulk_shipments(merchant_id: str, count: int, *, parcels: int, at: datetime | None = None,
                   tracking_url: str | None = None) -> list[Shipment]:
    """Many shipments at once, written as their items in 25-item batches: creating them one by one
    (a transaction each) is slow in moto and proves nothing more here. A long `tracking_url` makes
    big files from few items (moto's cost is per attribute value, not per byte)."""
    made = []
    body = ShipmentIn.model_validate(shipment_body(parcels=parcels))
    created_at = at or clock.now()
    with aws.table().batch_writer() as batch:
        for _ in range(count):
            shipment = Shipment(**body.model_dump(exclude={"parcels"}), id=new_id("shp"), status="pre_transit",
                                created_at=created_at, parcels=[
                                    Parcel(id=new_id("prc"), index=n, tracking_number=tracking_number(),
                                           tracking_url=tracking_url)
                                    for n in range(1, parcels + 1)])
            batch.put_item(Item=shipment_to_item(merchant_id, shipment))
            made.append(shipment)
    return made


def write_shipment_item(merchant_id: str, shipment: Shipment, **changes: Any) -> None:
    """Store a shipment item as another area would have left it (e.g. retention's `redacted`)."""
    item = shipment_to_item(merchant_id, shipment)
    document = json.loads(item["doc"])  # recipient, addresses, package, parcels live in `doc`
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        target = document if (parents or [leaf])[0] in document else item
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    item["doc"] = json.dumps(document)
    aws.table().put_item(Item=item)


def post_export(merchant_id: str, body: Any) -> ApiResponse:
    return call(exports_api, api_event("POST", "/v1/exports", body=body, merchant_id=merchant_id))


def get_export(merchant_id: str, export_id: str, **query: str) -> ApiResponse:
    return call(exports_api, api_event("GET", "/v1/exports/{export_id}", path_params={"export_id": export_id},
                                       query=query or None, merchant_id=merchant_id))


def download(merchant_id: str, export_id: str, **query: str) -> ApiResponse:
    return call(exports_api, api_event("GET", "/v1/exports/{export_id}/download",
                                       path_params={"export_id": export_id}, query=query or None,
                                       merchant_id=merchant_id))


def worker(**source_overrides: Any) -> Worker:
    return Worker(exports=ExportRepository(), files=ExportFiles(),
                  sources=dataclasses.replace(Sources.default(), **source_overrides))


def run(merchant_id: str, export_id: str, the_worker: Worker | None = None,
        remaining_ms: Callable[[], int] | None = None) -> ExportStatus | None:
    return run_export(the_worker or worker(), merchant_id, export_id, remaining_ms)


def requested(merchant_id: str, body: dict[str, Any]) -> str:
    response = post_export(merchant_id, body)
    assert response.status == 202, response.body
    return response.json()["id"]


def fetch(url: str) -> bytes:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return response.content


def export_file(merchant_id: str, body: dict[str, Any], the_worker: Worker | None = None) -> bytes:
    """Request, run, and download through the link the API hands out."""
    export_id = requested(merchant_id, body)
    assert run(merchant_id, export_id, the_worker) is ExportStatus.READY
    shown = get_export(merchant_id, export_id).json()
    assert shown["status"] == "ready", shown
    return fetch(shown["download_url"])


def csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "the CSV starts with a UTF-8 BOM"
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return list(reader)


def export_rows(merchant_id: str, filters: dict[str, Any] | None = None) -> list[dict[str, str]]:
    return csv_rows(export_file(merchant_id, {"type": "shipments", "format": "csv", "filters": filters or {}}))


def leftovers(prefix: str = "exports/") -> tuple[list[str], int]:
    """(object keys, incomplete multipart uploads) under `prefix` of the export bucket."""
    s3, bucket = aws.client("s3"), settings().export_bucket
    objects = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
    return objects, len(uploads)
