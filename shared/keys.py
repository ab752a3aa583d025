"""The single-table key scheme: the only module that knows `pk`, `sk`, index attributes and
prefixes. Repositories call these functions; nothing else builds a key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

PK, SK, TTL = "pk", "sk", "ttl"


@dataclass(frozen=True)
class Index:
    name: str
    pk: str
    sk: str


GSI1 = Index("gsi1", "gsi1pk", "gsi1sk")
GSI2 = Index("gsi2", "gsi2pk", "gsi2sk")
GSI3 = Index("gsi3", "gsi3pk", "gsi3sk")
DUE = Index("due", "due_pk", "due_sk")
INDEXES = (GSI1, GSI2, GSI3, DUE)
KEY_ATTRIBUTES = frozenset({PK, SK, TTL, *(a for i in INDEXES for a in (i.pk, i.sk))})


def key(pk: str, sk: str) -> dict[str, str]:
    return {PK: pk, SK: sk}


def index_entry(index: Index, pk: str, sk: str) -> dict[str, str]:
    return {index.pk: pk, index.sk: sk}


def strip_keys(item: dict) -> dict:
    """The item's domain attributes, without key and index attributes."""
    return {k: v for k, v in item.items() if k not in KEY_ATTRIBUTES}


def sortable(created_at: str, entity_id: str) -> str:
    return f"{created_at}#{entity_id}"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- merchants, api keys, connections -------------------------------------------------------
def merchant(merchant_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", "MERCHANT")


def merchants_list() -> tuple[Index, str]:
    return GSI1, "MERCHANTS"


def api_key_by_hash(key_hash: str) -> dict[str, str]:
    return key(f"KEY#{key_hash}", "KEY")


def api_key_of_merchant(merchant_id: str, key_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", f"APIKEY#{key_id}")


def api_keys_prefix(merchant_id: str) -> tuple[str, str]:
    return f"M#{merchant_id}", "APIKEY#"


def connection(connection_id: str) -> dict[str, str]:
    return key(f"CONN#{connection_id}", "CONN")


def connection_of_merchant(merchant_id: str, connection_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", f"CONN#{connection_id}")


def connections_prefix(merchant_id: str) -> tuple[str, str]:
    return f"M#{merchant_id}", "CONN#"


# --- shipments, parcels, tracking -----------------------------------------------------------
def shipment(merchant_id: str, shipment_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}#S#{shipment_id}", "SHIPMENT")


def shipment_partition(merchant_id: str, shipment_id: str) -> str:
    return f"M#{merchant_id}#S#{shipment_id}"


def shipment_created_month(merchant_id: str, created_at: datetime) -> str:
    return f"M#{merchant_id}#SHP#{created_at:%Y-%m}"


def shipment_status_partition(merchant_id: str, status: str) -> str:
    return f"M#{merchant_id}#SHP#ST#{status}"


def shipment_batch_partition(merchant_id: str, batch_id: str) -> str:
    return f"M#{merchant_id}#SHP#B#{batch_id}"


def tracking_event(merchant_id: str, shipment_id: str, occurred_at: str, dedup_key: str) -> dict[str, str]:
    return key(shipment_partition(merchant_id, shipment_id), f"EVENT#{occurred_at}#{digest(dedup_key)[:20]}")


EVENT_PREFIX = "EVENT#"


def tracking_number(number: str, merchant_id: str) -> dict[str, str]:
    return key(f"TN#{number}", f"M#{merchant_id}")


def tracking_number_partition(number: str) -> str:
    return f"TN#{number}"


def orphan_update(merchant_id: str, number: str, occurred_at: str, dedup_key: str) -> dict[str, str]:
    return key(orphan_partition(merchant_id, number), f"EVENT#{occurred_at}#{digest(dedup_key)[:20]}")


def orphan_partition(merchant_id: str, number: str) -> str:
    return f"M#{merchant_id}#ORPHAN#{number}"


# --- exports --------------------------------------------------------------------------------
def export_job(merchant_id: str, export_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", f"EXPORT#{export_id}")


# --- idempotency ----------------------------------------------------------------------------
def idempotency_record(scope: str, idempotency_key: str) -> dict[str, str]:
    return key(f"IDEMP#{digest(scope + chr(0) + idempotency_key)}", "IDEMP")


# --- orders, refunds, notes (orders area) ---------------------------------------------------


# --- customers, imports (customers area) ------------------------------------------------------


# --- notifications (notifications area) -------------------------------------------------------


# --- retention timers (retention area) --------------------------------------------------------
