"""The single-table key scheme: the only module that knows `pk`, `sk`, index attributes and
prefixes. Repositories call these functions; nothing else builds a key."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

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


def strip_keys(item: Mapping[str, Any]) -> dict[str, Any]:
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


def tracking_slug(slug: str) -> dict[str, str]:
    """A merchant's public tracking slug, kept for good once used: its old links redirect."""
    return key(f"SLUG#{slug}", "SLUG")


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


def orphan_counter(connection_id: str) -> dict[str, str]:
    """The live orphan count of one carrier connection (beside the connection's own item)."""
    return key(f"CONN#{connection_id}", "ORPHANS")


def orphan_expiry_claim(orphan_pk: str, orphan_sk: str) -> dict[str, str]:
    """Marks an expired orphan's decrement as done, so a redelivered stream record counts once."""
    return key(orphan_pk, f"EXPIRED#{orphan_sk}")


# --- exports --------------------------------------------------------------------------------
def export_job(merchant_id: str, export_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", f"EXPORT#{export_id}")


# Fairness: one gate item per merchant holds its running exports (leases); the waiting exports are
# items of their own partition, in the order they must start, each also listed in one GSI1
# partition so that the sweep finds the merchants with waiting exports without a scan.
WAITING_EXPORTS = "EXPORTS#WAITING"


def export_jobs_prefix(merchant_id: str) -> tuple[str, str]:
    """The merchant's export jobs (ids sort by creation: newest first reads the key backwards)."""
    return f"M#{merchant_id}", "EXPORT#"


def export_gate(merchant_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", "EXPORTGATE")


def export_waiting_partition(merchant_id: str) -> str:
    return f"M#{merchant_id}#EXPWAIT"


def export_waiting(merchant_id: str, created_at: str, export_id: str) -> dict[str, str]:
    return key(export_waiting_partition(merchant_id), sortable(created_at, export_id))


def waiting_exports_entry(merchant_id: str, created_at: str, export_id: str) -> dict[str, str]:
    return index_entry(GSI1, WAITING_EXPORTS, f"{merchant_id}#{sortable(created_at, export_id)}")


# --- idempotency ----------------------------------------------------------------------------
def idempotency_record(scope: str, idempotency_key: str) -> dict[str, str]:
    return key(f"IDEMP#{digest(scope + chr(0) + idempotency_key)}", "IDEMP")


# --- orders, refunds, notes (orders area) ---------------------------------------------------
# Everything of one order lives in its partition `M#<m>#O#<id>`: the order, its refund ledger,
# refunds, provider settlements, tag entries and the activity log (notes included).
ACTIVITY_PREFIX = "ACT#"
REFUND_PREFIX = "REFUND#"


def order_partition(merchant_id: str, order_id: str) -> str:
    return f"M#{merchant_id}#O#{order_id}"


def order(merchant_id: str, order_id: str) -> dict[str, str]:
    return key(order_partition(merchant_id, order_id), "ORDER")


def order_ledger(merchant_id: str, order_id: str) -> dict[str, str]:
    """Per component: paid, and refunded-or-being-refunded (the over-refund guard)."""
    return key(order_partition(merchant_id, order_id), "LEDGER")


def order_number(merchant_id: str, number: str) -> dict[str, str]:
    """Unique-key item: one order per order number and merchant."""
    return key(f"M#{merchant_id}#ORDNUM#{number}", "ORDNUM")


def order_activity(merchant_id: str, order_id: str, version: int, position: int) -> dict[str, str]:
    # The order's version orders the log: every change writes its entries with the version it creates.
    return key(order_partition(merchant_id, order_id), f"{ACTIVITY_PREFIX}{version:010d}#{position:02d}")


def order_refund(merchant_id: str, order_id: str, refund_id: str) -> dict[str, str]:
    return key(order_partition(merchant_id, order_id), f"{REFUND_PREFIX}{refund_id}")


def order_settlement(merchant_id: str, order_id: str, refund_id: str) -> dict[str, str]:
    """The embedded payment provider's record of money returned, one per refund id."""
    return key(order_partition(merchant_id, order_id), f"SETTLEMENT#{refund_id}")


def order_tag(merchant_id: str, order_id: str, tag: str) -> dict[str, str]:
    return key(order_partition(merchant_id, order_id), f"TAG#{digest(tag)[:32]}")


def orders_of_merchant(merchant_id: str) -> str:
    """GSI1 partition of every order of a merchant (sort: created_at#id)."""
    return f"M#{merchant_id}#ORD"


def orders_by_tag(merchant_id: str, tag: str) -> str:
    """GSI1 partition of the tag entries of one tag."""
    return f"M#{merchant_id}#ORD#TAG#{digest(tag)[:32]}"


def orders_by_status(merchant_id: str, status: str) -> str:
    """GSI2 partition."""
    return f"M#{merchant_id}#ORD#ST#{status}"


def orders_by_customer(merchant_id: str, customer_id: str) -> str:
    """GSI3 partition (customer merges relink orders through it)."""
    return f"M#{merchant_id}#ORD#C#{customer_id}"


def order_search_partition(merchant_id: str) -> str:
    """Search entries of orders (order number, customer name and email): see `customer_search_partition`."""
    return f"M#{merchant_id}#ORD#FIND"


def order_search_entry(merchant_id: str, term: str, order_id: str) -> dict[str, str]:
    return key(order_search_partition(merchant_id), f"{term}#{order_id}")


def order_import_idempotency_scope(merchant_id: str) -> str:
    """Idempotency keys of order imports are scoped to the merchant: see `idempotency_record`."""
    return f"order-import\x00{merchant_id}"


def refund_idempotency_scope(merchant_id: str, order_id: str) -> str:
    """Idempotency keys of refunds are scoped to (merchant, order): see `idempotency_record`."""
    return f"refund\x00{merchant_id}\x00{order_id}"


# --- customers, imports (customers area) ------------------------------------------------------
# A customer's partition `M#<m>#C#<id>` holds the record and its tag entries. Usernames and emails
# are claimed by unique-key items whose keys carry a digest (no personal data in keys). Address
# entries (customer records' and imported orders' addresses) share one GSI2 partition per merchant,
# sorted by fingerprint, so duplicate candidates are adjacent and found by a Query, never a Scan.
CUSTOMER_SK = "CUSTOMER"
CUSTOMER_TAG_PREFIX = "TAG#"


def customer_partition(merchant_id: str, customer_id: str) -> str:
    return f"M#{merchant_id}#C#{customer_id}"


def customer(merchant_id: str, customer_id: str) -> dict[str, str]:
    return key(customer_partition(merchant_id, customer_id), CUSTOMER_SK)


def customers_of_merchant(merchant_id: str) -> str:
    """GSI1 partition of every master record (sort: created_at#id); absorbed records leave it."""
    return f"M#{merchant_id}#CUST"


def customers_merged_into(merchant_id: str, master_id: str) -> str:
    """GSI1 partition of the records absorbed into one master (erasure follows it)."""
    return f"M#{merchant_id}#CUST#MERGED#{master_id}"


def customer_username(merchant_id: str, username: str) -> dict[str, str]:
    """Unique-key item of a username (compared exactly, after trimming)."""
    return key(f"M#{merchant_id}#CUSTU#{digest(username)}", "CUSTU")


def customer_email(merchant_id: str, email_casefolded: str) -> dict[str, str]:
    """Unique-key item of an email (compared case-insensitively: pass it casefolded)."""
    return key(f"M#{merchant_id}#CUSTE#{digest(email_casefolded)}", "CUSTE")


def customer_tag(merchant_id: str, customer_id: str, tag: str) -> dict[str, str]:
    return key(customer_partition(merchant_id, customer_id), f"{CUSTOMER_TAG_PREFIX}{digest(tag)[:32]}")


def customers_by_tag(merchant_id: str, tag: str) -> str:
    """GSI1 partition of the tag entries of one tag (sort: the customer's created_at#id)."""
    return f"M#{merchant_id}#CUST#TAG#{digest(tag)[:32]}"


def address_entry(merchant_id: str, owner_id: str) -> dict[str, str]:
    """One address entry per owner (a customer record or an imported order)."""
    return key(f"M#{merchant_id}#ADDR#{owner_id}", "ADDRESS")


def addresses_of_merchant(merchant_id: str) -> str:
    """GSI2 partition of every address entry of a merchant (sort: fingerprint#owner)."""
    return f"M#{merchant_id}#ADDRS"


# Search entries (`q` on the customer and order lists): one item per (record, folded term) in one
# partition per merchant and kind, sorted by term, so a prefix of a term is one `begins_with` Query
# of the base table, never a scan (no index: half the write cost of a GSI entry, and consistent
# reads). Unlike the unique-key items, the term is in the key in clear (a digest has no prefix):
# these entries are personal data, written and removed with their record (edits, merges, retention
# redaction, erasure). See `shared.values.search_terms`.
def customer_search_partition(merchant_id: str) -> str:
    return f"M#{merchant_id}#CUST#FIND"


def customer_search_entry(merchant_id: str, term: str, customer_id: str) -> dict[str, str]:
    return key(customer_search_partition(merchant_id), f"{term}#{customer_id}")


def customer_claim_fence(merchant_id: str) -> dict[str, str]:
    """The merchant's claim fence: held by an import while it claims identifiers in batches."""
    return key(f"M#{merchant_id}", "CUSTFENCE")


def customer_import(merchant_id: str, import_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", f"CIMPORT#{import_id}")


def customer_imports_prefix(merchant_id: str) -> tuple[str, str]:
    """The merchant's import jobs (ids sort by creation: newest first reads the key backwards)."""
    return f"M#{merchant_id}", "CIMPORT#"


def customer_import_errors_partition(merchant_id: str, import_id: str) -> str:
    return f"M#{merchant_id}#CIMPORT#{import_id}"


def customer_import_errors(merchant_id: str, import_id: str, first_row: int) -> dict[str, str]:
    """The rejected rows of one chunk of an import (sorted by their first row)."""
    return key(customer_import_errors_partition(merchant_id, import_id), f"ERRORS#{first_row:09d}")


CUSTOMER_IMPORT_ERRORS_PREFIX = "ERRORS#"



# --- notifications (notifications area) -------------------------------------------------------
# One item per (subject, milestone), in the subject's own partition: retention deletes it with the
# shipment or order, and its conditional write (`attribute_not_exists`) is the claim that makes an
# email unique.
NOTIFICATION_PREFIX = "NOTIFY#"


def shipment_notification(merchant_id: str, shipment_id: str, milestone: str) -> dict[str, str]:
    return key(shipment_partition(merchant_id, shipment_id), f"{NOTIFICATION_PREFIX}{milestone}")


def order_notification(merchant_id: str, order_id: str, milestone: str) -> dict[str, str]:
    return key(order_partition(merchant_id, order_id), f"{NOTIFICATION_PREFIX}{milestone}")


def endpoint_notification(merchant_id: str, endpoint_id: str, milestone: str) -> dict[str, str]:
    """An email to the merchant about one of its webhook endpoints, in the merchant's partition."""
    return key(f"M#{merchant_id}", f"{NOTIFICATION_PREFIX}WHE#{endpoint_id}#{milestone}")


def shipment_notifications_prefix(merchant_id: str, shipment_id: str) -> tuple[str, str]:
    """(pk, sk prefix) of every notification of a shipment."""
    return shipment_partition(merchant_id, shipment_id), NOTIFICATION_PREFIX


def order_notifications_prefix(merchant_id: str, order_id: str) -> tuple[str, str]:
    return order_partition(merchant_id, order_id), NOTIFICATION_PREFIX



# --- retention timers (retention area) --------------------------------------------------------
# A timer per (shipment, action) lives in the shipment's partition, so deleting the partition
# takes it along. `ttl` is the due epoch (DynamoDB TTL fires the stream consumer); the sparse `due`
# index groups timers by the month they fall due in (sorted by due time), so the schedule reads the
# past months' partitions up to now only: what is due, never a scan and never what is not due yet.
TIMER_PREFIX = "TIMER#"
DUE_PARTITION_PREFIX = "DUE#"


def retention_timer(merchant_id: str, shipment_id: str, action: str) -> dict[str, str]:
    return key(shipment_partition(merchant_id, shipment_id), f"{TIMER_PREFIX}{action}")


def timer_action(sk: str) -> str | None:
    """`REDACT` of `TIMER#REDACT`; None for any other item of the partition."""
    return sk.removeprefix(TIMER_PREFIX) if sk.startswith(TIMER_PREFIX) else None


def shipment_of_partition(pk: str) -> tuple[str, str]:
    """(merchant_id, shipment_id) of a `shipment_partition` value (timers are read KEYS_ONLY)."""
    marker, merchant_id, kind, shipment_id = pk.split("#")
    if marker != "M" or kind != "S":
        raise ValueError("not a shipment partition")
    return merchant_id, shipment_id


def due_partition(day: date) -> str:
    """`due` index partition of the timers due in the UTC month of `day`."""
    return f"{DUE_PARTITION_PREFIX}{day:%Y-%m}"


def due_position(due_epoch: int, pk: str) -> str:
    # Zero-padded so that text order is time order within a month.
    return f"{due_epoch:010d}#{pk}"


def due_before(epoch: int) -> str:
    """Sort-key bound: every `due_position` due at or before `epoch` sorts below it."""
    return f"{epoch + 1:010d}"


def due_epoch_of(position: str) -> int:
    return int(position.split("#", 1)[0])


def retention_cursor() -> dict[str, str]:
    """The oldest month the schedule may still find due timers in (months before it are drained)."""
    return key("RETENTION", "CURSOR")


# --- email suppression (notifications area) ---------------------------------------------------
# One item per (merchant, address that bounced for good or complained), in the merchant's own
# partition. Only a digest of the address is kept: the list has to recognise an address, never to
# show one.
EMAIL_SUPPRESSION_PREFIX = "SUPPRESS#"


def email_suppression(merchant_id: str, address: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", f"{EMAIL_SUPPRESSION_PREFIX}{digest(address.strip().lower())}")


# --- outbound webhooks (webhooks area) ----------------------------------------------------------
# Endpoints live in the merchant's partition, so the delivery function finds a merchant's endpoints
# by one Query of that partition and can never reach another merchant's. Each delivery attempt log
# is an item of its own (TTL 30 days) in the merchant's partition, reachable by its id (retry), and
# listed per endpoint through GSI1 (sort: the delivery id, which sorts by creation time).
WEBHOOK_ENDPOINT_PREFIX = "WHE#"


def webhook_endpoint(merchant_id: str, endpoint_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", f"{WEBHOOK_ENDPOINT_PREFIX}{endpoint_id}")


def webhook_endpoints_prefix(merchant_id: str) -> tuple[str, str]:
    return f"M#{merchant_id}", WEBHOOK_ENDPOINT_PREFIX


def webhook_delivery(merchant_id: str, delivery_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", f"WHD#{delivery_id}")


def webhook_deliveries_of_endpoint(merchant_id: str, endpoint_id: str) -> str:
    """GSI1 partition of an endpoint's delivery attempts (sort: the delivery id)."""
    return f"M#{merchant_id}#WHE#{endpoint_id}#WHD"


# A delivery waiting for its next attempt: one item per (endpoint, event) in the merchant's
# partition, in the sparse `due` index under a partition per UTC day of its due time (not the
# retention timers' `DUE#` months), sorted by due time: the retry schedule reads the last few days'
# partitions up to now, never a scan.
WEBHOOK_RETRY_DUE_PREFIX = "WHDUE#"


def webhook_retry(merchant_id: str, endpoint_id: str, event_id: str) -> dict[str, str]:
    return key(f"M#{merchant_id}", f"WHR#{endpoint_id}#{event_id}")


def webhook_retry_due_partition(day: date) -> str:
    return f"{WEBHOOK_RETRY_DUE_PREFIX}{day:%Y-%m-%d}"


def webhook_retry_of(pk: str, sk: str) -> tuple[str, str, str]:
    """(merchant_id, endpoint_id, event_id) of a `webhook_retry` key (the due index is KEYS_ONLY)."""
    marker, merchant_id = pk.split("#", 1)
    kind, endpoint_id, event_id = sk.split("#")
    if marker != "M" or kind != "WHR":
        raise ValueError("not a webhook retry key")
    return merchant_id, endpoint_id, event_id
