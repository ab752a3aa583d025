"""The events merchants receive, made from the domain events on the bus (`shared.events.catalogue`).

A payload is thin: `{"id", "type", "created_at", "data"}` where `data` holds ids, statuses, amounts
and times, never personal data (the receiver reads the details from the API). One domain event may
give several webhook events (a carrier update that delivers the shipment is both
`shipment.status_changed` and `shipment.delivered`). Ids are derived from the bus event's id, so
the same bus event always yields the same `webhook-id` and a receiver can drop a duplicate.

Every type of `EVENT_TYPES` is sourced: shipment.created, shipment.status_changed,
shipment.delivered, shipment.exception, order.created, order.shipped (a shipment created for an
order ships it), order.cancelled, refund.succeeded, export.ready and export.failed (an export's
end), customer_import.done (an import's end, `done` or `failed`), customer.merged, customer.erased.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events.catalogue import (
    CustomerErased,
    CustomerImportEnded,
    CustomerMerged,
    DecimalText,
    Event,
    ExportFinished,
    Instant,
    OrderCancelled,
    OrderCreated,
    RefundIssued,
    ShipmentCreated,
    ShipmentStatusChanged,
    ShipmentTrackingUpdated,
)
from shared.platform import clock
from shared.platform.ids import derived_id
from shared.shipments.statuses import TrackingStatus
from shared.webhooks.model import PING


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]

    def body(self) -> str:
        """The exact text that is signed and sent (kept as is for every retry)."""
        return json.dumps({"id": self.id, "type": self.type, "created_at": clock.isoformat(self.created_at),
                           "data": self.data}, separators=(",", ":"), sort_keys=False)


class WebhookData(BaseModel):
    """The `data` of a webhook event: ids, statuses, amounts and times only."""

    model_config = ConfigDict(extra="forbid")


class ShipmentCreatedData(WebhookData):
    shipment_id: str
    order_id: str | None = None
    parcel_count: int | None = None


class OrderCreatedData(WebhookData):
    order_id: str
    order_number: str | None = None
    customer_id: str | None = None
    status: str = Field(description="paid (platform payment) or open (paid elsewhere)")
    payment_mode: str
    currency: str
    total: DecimalText
    created_at: Instant


class OrderShippedData(WebhookData):
    order_id: str
    shipment_id: str


class ShipmentStatusData(WebhookData):
    """A status change: a carrier's (the parcel's and the shipment's) or the merchant's (`action`)."""

    shipment_id: str
    order_id: str | None = None
    parcel_id: str | None = None
    previous_parcel_status: TrackingStatus | None = None
    parcel_status: TrackingStatus | None = None
    previous_status: TrackingStatus | None = None
    status: TrackingStatus
    action: str | None = Field(default=None, description="void_label, archive or delete: set by the merchant")
    occurred_at: Instant | None = None


class OrderCancelledData(WebhookData):
    order_id: str
    source: str | None = None
    currency: str | None = None
    refund_id: str | None = None
    refund_total: DecimalText | None = None
    cancelled_at: Instant | None = None


class RefundSucceededData(WebhookData):
    refund_id: str
    order_id: str
    total: DecimalText
    currency: str
    fee_returned: DecimalText
    kind: str
    created_at: Instant


class CustomerMergedData(WebhookData):
    customer_id: str = Field(description="the master record that absorbed the other")
    absorbed_id: str


class CustomerErasedData(WebhookData):
    customer_id: str
    absorbed_ids: list[str] = Field(default_factory=list, description="records merged into it, erased with it")
    erased_at: Instant


class CustomerImportDoneData(WebhookData):
    import_id: str
    status: str = Field(description="done, or failed (the import's `failure` says why)")
    rows_processed: int | None = None
    created: int | None = None
    updated: int | None = None
    unchanged: int | None = Field(default=None, description="rows that matched a record and changed nothing")
    skipped: int | None = None
    error_count: int | None = None
    warning_count: int | None = None
    finished_at: Instant


class ExportEndedData(WebhookData):
    export_id: str
    export_type: str = Field(description="shipments, customers or customer_data")
    format: str
    status: str = Field(description="ready (download it from GET /v1/exports/{id}/download) or failed")
    row_count: int | None = None
    finished_at: Instant


class PingData(WebhookData):
    endpoint_id: str


# Each event type merchants receive today, with its `data` (the OpenAPI document's `webhooks`).
DATA_OF: dict[str, type[WebhookData]] = {
    "shipment.created": ShipmentCreatedData, "shipment.status_changed": ShipmentStatusData,
    "shipment.delivered": ShipmentStatusData, "shipment.exception": ShipmentStatusData,
    "order.created": OrderCreatedData, "order.shipped": OrderShippedData, "order.cancelled": OrderCancelledData,
    "refund.succeeded": RefundSucceededData, "export.ready": ExportEndedData, "export.failed": ExportEndedData,
    "customer_import.done": CustomerImportDoneData, "customer.merged": CustomerMergedData,
    "customer.erased": CustomerErasedData, PING: PingData,
}


# One example `data` per event type, for the OpenAPI document (each is read by its model in a test).
_SHIPMENT = "shp_1m98w6q3cz7m2k5x0n4t8r9ab"
_ORDER = "ord_1m98w4azsqhamdcy0bwzgdmf5"
DATA_EXAMPLES: dict[str, dict[str, Any]] = {
    "shipment.created": {"shipment_id": _SHIPMENT, "order_id": _ORDER, "parcel_count": 2},
    "shipment.status_changed": {"shipment_id": _SHIPMENT, "parcel_id": "prc_1m98w6q3d0aa1b2c3d4e5f6g7",
                                "previous_parcel_status": "in_transit", "parcel_status": "out_for_delivery",
                                "previous_status": "in_transit", "status": "in_transit",
                                "occurred_at": "2026-12-07T08:12:00.000Z"},
    "shipment.delivered": {"shipment_id": _SHIPMENT, "parcel_id": "prc_1m98w6q3d0aa1b2c3d4e5f6g7",
                           "previous_parcel_status": "out_for_delivery", "parcel_status": "delivered",
                           "previous_status": "out_for_delivery", "status": "delivered",
                           "occurred_at": "2026-12-07T14:03:00.000Z"},
    "shipment.exception": {"shipment_id": _SHIPMENT, "parcel_id": "prc_1m98w6q3d0aa1b2c3d4e5f6g7",
                           "previous_parcel_status": "in_transit", "parcel_status": "exception",
                           "previous_status": "in_transit", "status": "exception",
                           "occurred_at": "2026-12-07T10:40:00.000Z"},
    "order.created": {"order_id": _ORDER, "order_number": "#1042", "customer_id": "cus_1m98w4b0k3r5t7v9x1z3b5d7f",
                      "status": "paid", "payment_mode": "platform", "currency": "EUR", "total": "120.00",
                      "created_at": "2026-12-07T09:30:00.000Z"},
    "order.shipped": {"order_id": _ORDER, "shipment_id": _SHIPMENT},
    "order.cancelled": {"order_id": _ORDER, "source": "merchant", "currency": "EUR",
                        "refund_id": "ref_1m98w8c2e4g6j8l0n2q4s6u8w", "refund_total": "120.00",
                        "cancelled_at": "2026-12-07T11:00:00.000Z"},
    "refund.succeeded": {"refund_id": "ref_1m98w8c2e4g6j8l0n2q4s6u8w", "order_id": _ORDER, "total": "10.00",
                         "currency": "EUR", "fee_returned": "0.00", "kind": "partial",
                         "created_at": "2026-12-07T10:15:00.000Z"},
    "export.ready": {"export_id": "exp_1m98w770xvwcg40r2q8hmg4e8", "export_type": "shipments", "format": "csv",
                     "status": "ready", "row_count": 1250, "finished_at": "2026-12-07T18:28:29.000Z"},
    "export.failed": {"export_id": "exp_1m98w770xvwcg40r2q8hmg4e9", "export_type": "shipments", "format": "xlsx",
                      "status": "failed", "row_count": None, "finished_at": "2026-12-07T18:29:02.000Z"},
    "customer_import.done": {"import_id": "imp_1m98w76q6vd4hdwn52t7j90jm", "status": "done", "rows_processed": 120,
                             "created": 90, "updated": 20, "unchanged": 7, "skipped": 3, "error_count": 3,
                             "warning_count": 2,
                             "finished_at": "2026-12-07T18:31:10.000Z"},
    "customer.merged": {"customer_id": "cus_1m98w4b0k3r5t7v9x1z3b5d7f", "absorbed_id": "cus_1m98w5c1m4p6r8t0v2x4z6b8d"},
    "customer.erased": {"customer_id": "cus_1m98w4b0k3r5t7v9x1z3b5d7f", "absorbed_ids": ["cus_1m98w5c1m4p6r8t0v2x4z6b8d"],
                        "erased_at": "2026-12-07T12:00:00.000Z"},
    PING: {"endpoint_id": "whe_1m98w777q5rjwhg0sm2yxp3dc"},
}


def _shipment_created(event: ShipmentCreated) -> list[tuple[str, WebhookData]]:
    found: list[tuple[str, WebhookData]] = [("shipment.created", ShipmentCreatedData(
        shipment_id=event.shipment_id, order_id=event.order_id, parcel_count=event.parcel_count))]
    if event.order_id:
        # The order is shipped from the write that created the shipment (API.md, Shipments).
        found.append(("order.shipped", OrderShippedData(order_id=event.order_id, shipment_id=event.shipment_id)))
    return found


def _tracking_updated(event: ShipmentTrackingUpdated) -> list[tuple[str, WebhookData]]:
    data = ShipmentStatusData(shipment_id=event.shipment_id, parcel_id=event.parcel_id,
                              previous_parcel_status=event.previous_parcel_status,
                              parcel_status=event.parcel_status, previous_status=event.previous_shipment_status,
                              status=event.shipment_status, occurred_at=event.occurred_at)
    found: list[tuple[str, WebhookData]] = [("shipment.status_changed", data)]
    moved = event.shipment_status != event.previous_shipment_status
    milestone = {TrackingStatus.delivered: "shipment.delivered", TrackingStatus.exception: "shipment.exception"}
    if moved and event.shipment_status in milestone:
        found.append((milestone[event.shipment_status], data))
    return found


def _status_changed(event: ShipmentStatusChanged) -> list[tuple[str, WebhookData]]:
    return [("shipment.status_changed", ShipmentStatusData(
        shipment_id=event.shipment_id, order_id=event.order_id, previous_status=event.previous_status,
        status=event.status, action=event.action))]


def _order_cancelled(event: OrderCancelled) -> list[tuple[str, WebhookData]]:
    return [("order.cancelled", OrderCancelledData(
        order_id=event.order_id, source=event.source, currency=event.currency, refund_id=event.refund_id,
        refund_total=event.refund_total, cancelled_at=event.cancelled_at))]


def _refund_issued(event: RefundIssued) -> list[tuple[str, WebhookData]]:
    return [("refund.succeeded", RefundSucceededData(
        refund_id=event.refund_id, order_id=event.order_id, total=event.total, currency=event.currency,
        fee_returned=event.fee_returned, kind=event.kind, created_at=event.created_at))]


def _customer_merged(event: CustomerMerged) -> list[tuple[str, WebhookData]]:
    return [("customer.merged", CustomerMergedData(customer_id=event.master_id, absorbed_id=event.absorbed_id))]


def _order_created(event: OrderCreated) -> list[tuple[str, WebhookData]]:
    return [("order.created", OrderCreatedData(
        order_id=event.order_id, order_number=event.order_number, customer_id=event.customer_id,
        status=event.status, payment_mode=event.payment_mode, currency=event.currency, total=event.total,
        created_at=event.created_at))]


_EXPORT_ENDS = {"ready": "export.ready", "failed": "export.failed"}


def _export_finished(event: ExportFinished) -> list[tuple[str, WebhookData]]:
    if event.status not in _EXPORT_ENDS:
        return []
    return [(_EXPORT_ENDS[event.status], ExportEndedData(
        export_id=event.export_id, export_type=event.export_type, format=event.format, status=event.status,
        row_count=event.row_count, finished_at=event.finished_at))]


def _import_ended(event: CustomerImportEnded) -> list[tuple[str, WebhookData]]:
    return [("customer_import.done", CustomerImportDoneData(
        import_id=event.import_id, status=event.status, rows_processed=event.rows_processed, created=event.created,
        updated=event.updated, unchanged=event.unchanged, skipped=event.skipped, error_count=event.error_count,
        warning_count=event.warning_count, finished_at=event.finished_at))]


def _customer_erased(event: CustomerErased) -> list[tuple[str, WebhookData]]:
    return [("customer.erased", CustomerErasedData(customer_id=event.customer_id, absorbed_ids=event.absorbed_ids,
                                                   erased_at=event.erased_at))]


_MAKERS: Mapping[type[Event], Callable[[Any], list[tuple[str, WebhookData]]]] = {
    ShipmentCreated: _shipment_created, ShipmentTrackingUpdated: _tracking_updated,
    ShipmentStatusChanged: _status_changed, OrderCreated: _order_created, OrderCancelled: _order_cancelled,
    RefundIssued: _refund_issued, ExportFinished: _export_finished, CustomerImportEnded: _import_ended,
    CustomerMerged: _customer_merged, CustomerErased: _customer_erased,
}
SOURCED_DOMAIN_EVENTS: tuple[str, ...] = tuple(kind.__name__ for kind in _MAKERS)


def webhook_events(event: Event, bus_event_id: str, published_at: datetime) -> list[WebhookEvent]:
    """The webhook events a domain event gives (none for an event merchants do not receive)."""
    maker = _MAKERS.get(type(event))
    if maker is None:
        return []
    return [WebhookEvent(id=derived_id("evt", bus_event_id, kind), type=kind, created_at=published_at,
                         data=data.model_dump(mode="json")) for kind, data in maker(event)]


def ping(endpoint_id: str) -> WebhookEvent:
    now = clock.now()
    return WebhookEvent(id=derived_id("evt", endpoint_id, clock.isoformat(now), "ping"), type=PING, created_at=now,
                        data=PingData(endpoint_id=endpoint_id).model_dump(mode="json"))


def openapi_webhooks() -> tuple[dict[str, Any], dict[str, Any]]:
    """(the OpenAPI 3.1 `webhooks` object, the component schemas it refers to): one POST per
    event type merchants receive, with the Standard Webhooks headers and the thin payload."""
    schemas: dict[str, Any] = {}
    webhooks: dict[str, Any] = {}
    headers = [{"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": text}
               for name, text in (("webhook-id", "the event id (evt_...), the same on every retry: drop duplicates"),
                                  ("webhook-timestamp", "seconds since the epoch when this attempt was signed"),
                                  ("webhook-signature", "space-separated `v1,<base64 HMAC-SHA256 of "
                                   "\"id.timestamp.body\">`, one per secret (two for 24 h after a rotation)"))]
    for event_type, model in DATA_OF.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        envelope = {"type": "object", "required": ["id", "type", "created_at", "data"], "additionalProperties": False,
                    "properties": {"id": {"type": "string", "pattern": "^evt_"}, "type": {"const": event_type},
                                   "created_at": {"type": "string", "format": "date-time"},
                                   "data": {"$ref": f"#/components/schemas/{model.__name__}"}}}
        webhooks[event_type] = {"post": {
            "summary": f"{event_type} (signed per Standard Webhooks; at least once, in no guaranteed order)",
            "parameters": headers,
            "requestBody": {"required": True, "content": {"application/json": {"schema": envelope, "examples": {
                "example": {"value": {"id": "evt_1m98wb2d4f6h8k0m2p4r6t8v0", "type": event_type,
                                      "created_at": "2026-12-07T18:30:00.000Z",
                                      # as sent: through the model (absent fields are null)
                                      "data": model.model_validate(DATA_EXAMPLES[event_type]).model_dump(
                                          mode="json")}}}}}},
            "responses": {"2XX": {"description": "Received (anything else, or no answer within 10 s, is retried "
                                                 "with backoff for about 3 days)"}}}}
    return webhooks, schemas
