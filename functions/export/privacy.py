"""The privacy export of one customer (DESIGN.md §1.4, Lightspeed seed; GDPR Art. 15 and 20).

What it holds, and only that: the customer's record (with the records merged into it); their
orders, each with its lines, addresses, refunds and notes; the shipments linked to those orders,
each with its tracking history; the emails sent about those orders and shipments. Everything is
reached from the customer by keys (customer → their orders → the shipments those orders name →
their notification records): never by address or batch, so a neighbour sharing the address or a
shipment in the same batch never comes along.

JSON: one document `{"customer", "orders", "shipments", "notifications"}`, written as it is read.
CSV: a zip of one spreadsheet-safe CSV per table.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from functions.export.columns import SHIPMENT_COLUMNS, Column, ColumnKind
from functions.export.shipment_rows import shipment_rows
from functions.export.spreadsheet import BinaryFile, CsvExportWriter
from shared.customers.store import CustomerRepository
from shared.errors import NotFound
from shared.notifications.model import Notification
from shared.notifications.store import NotificationRepository
from shared.orders.model import Order
from shared.orders.store import OrderRepository
from shared.refunds.store import RefundStore
from shared.shipments.model import Shipment
from shared.shipments.store import ShipmentRepository

Progress = Callable[[int], None]

# Leaves whose text is an identifier or a number a spreadsheet would mangle (leading zeros, digits
# past the fifteenth): written `="<digits>"` when made only of digits.
_DIGITS_LEAVES = frozenset({"id", "username", "phone", "postal_code", "order_number", "tracking_number", "sku",
                            "hs_code", "payment_reference", "ses_message_id"})


def _kind(path: str) -> ColumnKind:
    leaf = path.rsplit(".", 1)[-1]
    return ColumnKind.DIGITS_TEXT if leaf in _DIGITS_LEAVES or leaf.endswith("_id") else ColumnKind.TEXT


def _address(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}.{part}" for part in ("first_name", "last_name", "name", "company", "address_1",
                                                  "address_2", "city", "region", "postal_code", "country",
                                                  "phone", "email", "language"))


# The tables of the CSV zip: column paths into each record's JSON form (data, not code).
TABLES: dict[str, tuple[str, ...]] = {
    "customer": ("id", "merged_into", "username", "email", "first_name", "last_name", "name", "company", "phone",
                 *_address("address"), "tags", "store", "created_at", "updated_at", "erased_at"),
    "orders": ("id", "order_number", "store", "status", "refund_status", "customer.username", "customer.email",
               "customer.first_name", "customer.last_name", "currency", "display_currency", "exchange_rate",
               "amounts.subtotal", "amounts.shipping", "amounts.duties", "amounts.taxes", "total",
               "refunded.subtotal", "refunded.shipping", "refunded.duties_taxes", "refunded.total",
               "payment_mode", "guarantee", *_address("billing_address"), *_address("shipping_address"),
               "tags", "shipment_ids", "cancellation.reason", "cancellation.at", "created_at", "updated_at",
               "redacted_at"),
    "order_lines": ("order_id", "sku", "name", "quantity", "unit_price", "hs_code", "origin_country", "weight",
                    "weight_unit"),
    "refunds": ("order_id", "id", "amounts.subtotal", "amounts.shipping", "amounts.duties_taxes", "total",
                "currency", "reason", "note", "created_at"),
    "notes": ("order_id", "id", "at", "text"),
    "shipments": tuple(column.name for column in SHIPMENT_COLUMNS),
    "tracking_events": ("shipment_id", "parcel_id", "tracking_number", "status", "carrier_code", "carrier_message",
                        "location", "occurred_at", "received_at"),
    "notifications": ("shipment_id", "order_id", "milestone", "state", "language", "recipient_email", "created_at",
                      "sent_at"),
}


def _columns(table: str) -> tuple[Column, ...]:
    if table == "shipments":
        return SHIPMENT_COLUMNS
    return tuple(Column(path, _kind(path)) for path in TABLES[table])


def _flat(record: dict[str, Any], columns: tuple[Column, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column in columns:
        value: Any = record
        for part in column.name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        row[column.name] = ";".join(map(str, value)) if isinstance(value, list) else value
    return row


def _json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


@dataclass
class CustomerData:
    """Reads one customer's data, in the order the files are written."""

    customers: CustomerRepository
    orders: OrderRepository
    refunds: RefundStore
    shipments: ShipmentRepository
    notifications: NotificationRepository
    merchant_id: str
    customer_id: str
    _shipment_ids: list[str] = field(default_factory=list, init=False)
    _order_ids: list[str] = field(default_factory=list, init=False)

    def customer(self) -> dict[str, Any]:
        """The record (the master, when the id was absorbed) and the records merged into it."""
        master = self.customers.get(self.merchant_id, self.customer_id)
        merged = [self.customers.find(self.merchant_id, absorbed)
                  for absorbed in self.customers.absorbed_ids(self.merchant_id, master.id)]
        return {**_json(master), "merged_records": [_json(record) for record in merged if record is not None]}

    def master_id(self) -> str:
        return self.customers.get(self.merchant_id, self.customer_id).id

    def order_list(self) -> Iterator[Order]:
        master = self.master_id()
        for order_id in self.orders.order_ids_for_customer(self.merchant_id, master):
            order = self.orders.find(self.merchant_id, order_id)
            # The index may lag a merge's relink by a moment: the order's own link decides.
            if order is None or order.customer_id != master:
                continue
            self._order_ids.append(order.id)
            for shipment_id in order.shipment_ids:
                if shipment_id not in self._shipment_ids:
                    self._shipment_ids.append(shipment_id)
            yield order

    def order_document(self, order: Order) -> dict[str, Any]:
        return {**_json(order),
                "refunds": [_json(refund) for refund in self.refunds.list(self.merchant_id, order.id)],
                "notes": [{"id": note.id, "at": _json_time(note.at), "text": note.text}
                          for note in self.orders.notes(self.merchant_id, order.id)]}

    def shipment_list(self) -> Iterator[Shipment]:
        """The shipments the customer's orders name and own (call after `order_list` is consumed).
        A shipment that belongs to another order is left out, even when an order names it (a link
        written before a tracking number could only take a free shipment addressed to the order)."""
        for shipment_id in list(self._shipment_ids):
            try:
                shipment = self.shipments.get(self.merchant_id, shipment_id)
            except NotFound:
                self._shipment_ids.remove(shipment_id)
                continue  # deleted by retention since
            if shipment.order_id not in self._order_ids:
                self._shipment_ids.remove(shipment_id)  # nor its emails
                continue
            yield shipment

    def shipment_document(self, shipment: Shipment) -> dict[str, Any]:
        return {**_json(shipment),
                "events": [_json(event) for event in self.shipments.events(self.merchant_id, shipment.id)]}

    def notification_list(self) -> Iterator[Notification]:
        for order_id in self._order_ids:
            yield from self.notifications.for_order(self.merchant_id, order_id)
        for shipment_id in self._shipment_ids:
            yield from self.notifications.for_shipment(self.merchant_id, shipment_id)


def _json_time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class _Document:
    """Writes a JSON document piece by piece: memory holds one record at a time."""

    def __init__(self, sink: BinaryFile) -> None:
        self._sink = sink
        self.records = 0

    def raw(self, text: str) -> None:
        self._sink.write(text.encode("utf-8"))

    def array(self, key: str, records: Iterator[dict[str, Any]], progress: Progress, *, last: bool = False) -> None:
        self.raw(f"{json.dumps(key)}: [")
        for number, record in enumerate(records):
            self.raw(("," if number else "") + "\n  " + json.dumps(record, ensure_ascii=False))
            self.records += 1
            progress(self.records)
        self.raw("\n]" + ("" if last else ",\n"))


def write_json(data: CustomerData, sink: BinaryFile, progress: Progress) -> int:
    document = _Document(sink)
    document.raw("{\n" + json.dumps("customer") + ": " + json.dumps(data.customer(), ensure_ascii=False) + ",\n")
    document.records += 1
    progress(document.records)
    document.array("orders", (data.order_document(order) for order in data.order_list()), progress)
    document.array("shipments", (data.shipment_document(s) for s in data.shipment_list()), progress)
    document.array("notifications", (_json(n) for n in data.notification_list()), progress, last=True)
    document.raw("}\n")
    return document.records


class _ForwardOnly:
    """What zipfile needs of a sink it cannot seek: write (answering the length) and flush."""

    def __init__(self, sink: BinaryFile) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        self._sink.write(data)
        return len(data)

    def flush(self) -> None:
        pass


class _Tables:
    def __init__(self, archive: zipfile.ZipFile, progress: Progress) -> None:
        self._archive = archive
        self._progress = progress
        self.rows = 0

    def write(self, table: str, rows: Iterator[dict[str, Any]]) -> None:
        columns = _columns(table)
        with self._archive.open(f"{table}.csv", "w", force_zip64=True) as entry, \
                CsvExportWriter(entry, columns) as writer:
            for row in rows:
                writer.write_row(row if table == "shipments" else _flat(row, columns))
                self.rows += 1
                self._progress(self.rows)


def write_zip(data: CustomerData, sink: BinaryFile, progress: Progress) -> int:
    """One CSV per table, streamed into the zip entry by entry. The customer's orders and shipments
    are held while their tables are written (a zip entry must end before the next begins, and each
    feeds several tables); everything else is read as it is written."""
    with zipfile.ZipFile(_ForwardOnly(sink), "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        tables = _Tables(archive, progress)
        customer = data.customer()
        tables.write("customer", iter([customer, *customer["merged_records"]]))
        orders = [_json(order) for order in data.order_list()]  # ids and small records: one customer's orders
        tables.write("orders", iter(orders))
        tables.write("order_lines", ({**line, "order_id": order["id"]} for order in orders for line in order["lines"]))
        tables.write("refunds", (_json(refund) for order in orders
                                 for refund in data.refunds.list(data.merchant_id, order["id"])))
        tables.write("notes", ({"order_id": order["id"], "id": note.id, "at": _json_time(note.at), "text": note.text}
                               for order in orders for note in data.orders.notes(data.merchant_id, order["id"])))
        shipments = list(data.shipment_list())
        tables.write("shipments", (row for shipment in shipments for row in shipment_rows(shipment)))
        tables.write("tracking_events", ({**_json(event), "shipment_id": shipment.id} for shipment in shipments
                                         for event in data.shipments.events(data.merchant_id, shipment.id)))
        tables.write("notifications", (_json(n) for n in data.notification_list()))
    return tables.rows
