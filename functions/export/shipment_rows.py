"""A shipment as export rows (DESIGN.md §1.4): one row per parcel, in `SHIPMENT_COLUMNS` terms.

- `tracking_number`, `tracking_url`, `parcel_index` are the parcel's; `weight` is the parcel's when
  it has its own, else the package's.
- The shipment's amounts (value, insurance, fees, taxes) are on the row with `parcel_index` 1 only,
  so that a spreadsheet's sums are right.
- Values are passed through as stored: a field retention replaced by `redacted` exports as that
  word, whatever the column (the writers keep non-numeric text as text).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.shipments.model import Parcel, Shipment
from shared.values.models import Address

# Columns left empty on every row but the first parcel's.
FIRST_PARCEL_ONLY = frozenset({"value", "insurance_amount", "shipping_fee", "provincial_tax", "federal_tax",
                               "postage_fee", "insurance_fee"})


def _recipient(address: Address) -> dict[str, Any]:
    return {
        "recipient_name": address.display_name(), "recipient_company": address.company,
        "recipient_address_1": address.address_1, "recipient_address_2": address.address_2,
        "recipient_city": address.city, "recipient_region": address.region,
        "recipient_postal_code": address.postal_code, "recipient_country": address.country,
        "recipient_phone": address.phone, "recipient_email": address.email,
    }


def _return_address(address: Address) -> dict[str, Any]:
    return {
        "return_name": address.display_name(), "return_address_1": address.address_1,
        "return_address_2": address.address_2, "return_city": address.city, "return_region": address.region,
        "return_postal_code": address.postal_code, "return_country": address.country,
    }


def _shipment_columns(shipment: Shipment) -> dict[str, Any]:
    package, fees = shipment.package, shipment.fees
    return {
        "shipment_id": shipment.id, "status": shipment.status.value,
        **_recipient(shipment.recipient), **_return_address(shipment.return_address),
        "contents": package.contents, "description": package.description, "value": package.value,
        "currency": package.currency, "order_id": shipment.order_id, "store": shipment.store,
        "package_type": package.type, "size_unit": package.size_unit, "length": package.length,
        "width": package.width, "height": package.height, "weight_unit": package.weight_unit,
        "insurance_amount": shipment.insurance_amount, "signature_confirmation": shipment.signature_confirmation,
        "postage_type": shipment.postage_type, "carrier": shipment.carrier, "ship_date": shipment.ship_date,
        "shipping_fee": fees.shipping, "provincial_tax": fees.provincial_tax, "federal_tax": fees.federal_tax,
        "postage_fee": fees.postage, "insurance_fee": fees.insurance, "created_at": shipment.created_at,
        "batch_id": shipment.batch_id, "parcel_count": len(shipment.parcels),
    }


def _parcel_columns(shipment: Shipment, parcel: Parcel) -> dict[str, Any]:
    return {"tracking_number": parcel.tracking_number, "tracking_url": parcel.tracking_url,
            "parcel_index": parcel.index, "weight": parcel.weight if parcel.weight is not None
            else shipment.package.weight}


def shipment_rows(shipment: Shipment) -> Iterator[dict[str, Any]]:
    common = _shipment_columns(shipment)
    later_rows = {**common, **dict.fromkeys(FIRST_PARCEL_ONLY)}
    for parcel in sorted(shipment.parcels, key=lambda p: p.index):
        base = common if parcel.index == 1 else later_rows
        yield {**base, **_parcel_columns(shipment, parcel)}
