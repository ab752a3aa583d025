"""What each kind of export writes: its file name and type, and the bytes, streamed to a sink.

A content's `write(sink, progress)` returns the number of data rows it wrote and calls
`progress(rows_so_far)` after each one (the run decides how often that reaches the job record).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from functions.export import privacy
from functions.export.columns import SHIPMENT_COLUMNS, Column, ColumnKind
from functions.export.shipment_rows import shipment_rows
from functions.export.spreadsheet import XLSX_MAX_DATA_ROWS, BinaryFile, CsvExportWriter, XlsxExportWriter
from shared.customers.model import CUSTOMER_LIST_COLUMNS as CUSTOMER_LIST_CELLS
from shared.customers.model import customer_to_csv_row
from shared.customers.store import CustomerRepository
from shared.exports.model import ExportJob, ExportType
from shared.merchants.store import MerchantRepository
from shared.notifications.store import NotificationRepository
from shared.orders.store import OrderRepository
from shared.refunds.store import RefundStore
from shared.shipments.queries import ShipmentFilter, iterate_shipments
from shared.shipments.store import ShipmentRepository

Progress = Callable[[int], None]


class ExportContent(Protocol):
    filename: str
    content_type: str

    def write(self, sink: BinaryFile, progress: Progress) -> int: ...


@dataclass
class Sources:
    """The repositories an export reads (tests bind them to moto; the worker builds defaults)."""

    shipments: ShipmentRepository
    merchants: MerchantRepository
    customers: CustomerRepository
    orders: OrderRepository
    refunds: RefundStore
    notifications: NotificationRepository
    xlsx_max_rows: int = XLSX_MAX_DATA_ROWS

    @classmethod
    def default(cls) -> Sources:
        return cls(shipments=ShipmentRepository(), merchants=MerchantRepository(), customers=CustomerRepository(),
                   orders=OrderRepository(), refunds=RefundStore(), notifications=NotificationRepository())


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d-%H%M%S")


@dataclass
class ShipmentsContent:
    """One row per parcel of every shipment the filters match, in the API.md columns."""

    shipments: ShipmentRepository
    merchant_id: str
    filters: ShipmentFilter
    oldest: datetime
    format: str
    created_at: datetime
    xlsx_max_rows: int = XLSX_MAX_DATA_ROWS

    @property
    def filename(self) -> str:
        return f"shipments-{_stamp(self.created_at)}.{self.format}"

    @property
    def content_type(self) -> str:
        return XlsxExportWriter.content_type if self.format == "xlsx" else CsvExportWriter.content_type

    def write(self, sink: BinaryFile, progress: Progress) -> int:
        writer: CsvExportWriter | XlsxExportWriter
        if self.format == "xlsx":
            writer = XlsxExportWriter(sink, SHIPMENT_COLUMNS, max_data_rows=self.xlsx_max_rows)
        else:
            writer = CsvExportWriter(sink, SHIPMENT_COLUMNS)
        with writer:
            for shipment in iterate_shipments(self.shipments, self.merchant_id, self.filters, self.oldest):
                for row in shipment_rows(shipment):
                    writer.write_row(row)
                    progress(writer.rows_written)
        return writer.rows_written


# The import template's columns (DESIGN.md §4), then what the import ignores (id, store, times),
# with the spreadsheet treatment the customers module gives each: the import undoes exactly these
# escapes, so the file re-imports unchanged.
CUSTOMER_LIST_COLUMNS: tuple[Column, ...] = tuple(Column(c.header, ColumnKind(c.kind)) for c in CUSTOMER_LIST_CELLS)


@dataclass
class CustomerListContent:
    """Every customer (masters only: absorbed records resolve to them; erased ones as erasure left
    them) in the import template's columns and the extra ones the import ignores."""

    customers: CustomerRepository
    merchant_id: str
    created_at: datetime
    content_type: str = CsvExportWriter.content_type

    @property
    def filename(self) -> str:
        return f"customers-{_stamp(self.created_at)}.csv"

    def write(self, sink: BinaryFile, progress: Progress) -> int:
        with CsvExportWriter(sink, CUSTOMER_LIST_COLUMNS) as writer:
            for customer in self.customers.iterate(self.merchant_id):
                writer.write_row(customer_to_csv_row(customer))
                progress(writer.rows_written)
        return writer.rows_written


@dataclass
class CustomerDataContent:
    """One customer's privacy export: a JSON document, or a zip of CSV tables."""

    data: privacy.CustomerData
    format: str
    created_at: datetime

    @property
    def filename(self) -> str:
        extension = "json" if self.format == "json" else "zip"
        return f"customer-data-{self.data.customer_id}-{_stamp(self.created_at)}.{extension}"

    @property
    def content_type(self) -> str:
        return "application/json" if self.format == "json" else "application/zip"

    def write(self, sink: BinaryFile, progress: Progress) -> int:
        writer = privacy.write_json if self.format == "json" else privacy.write_zip
        return writer(self.data, sink, progress)


def _merchant_since(merchants: MerchantRepository, merchant_id: str) -> datetime:
    return datetime.fromisoformat(merchants.get(merchant_id).created_at.replace("Z", "+00:00"))


def content_for(job: ExportJob, merchant_id: str, sources: Sources) -> ExportContent:
    if job.type is ExportType.SHIPMENTS:
        return ShipmentsContent(shipments=sources.shipments, merchant_id=merchant_id,
                                filters=job.filters or ShipmentFilter(),
                                oldest=_merchant_since(sources.merchants, merchant_id), format=job.format,
                                created_at=job.created_at, xlsx_max_rows=sources.xlsx_max_rows)
    if job.type is ExportType.CUSTOMERS:
        return CustomerListContent(customers=sources.customers, merchant_id=merchant_id, created_at=job.created_at)
    assert job.customer_id is not None  # required by the request model
    data = privacy.CustomerData(customers=sources.customers, orders=sources.orders, refunds=sources.refunds,
                                shipments=sources.shipments, notifications=sources.notifications,
                                merchant_id=merchant_id, customer_id=job.customer_id)
    return CustomerDataContent(data=data, format=job.format, created_at=job.created_at)
