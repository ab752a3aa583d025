"""Customer records in the table (identity rules: `shared.customers.rules`; items:
`shared.customers.items`): reads that answer with the master, creations and changes that move
unique-key items, tag entries, the address entry and the search entries along in one transaction,
merges, the claim fence, the search by `q`, and the bulk verbs of the CSV import.

Search entries ride in the record's transaction; only when a change is so large that they do not
fit in it (a merge moving 80 tag entries) do the rest follow right after the commit, idempotent
puts and deletes. A list by `q` reads the records of the entries it finds and keeps only those
whose current values still match, so an entry that lags never shows a wrong record; `colis
index-search` writes what is missing."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from datetime import timedelta
from functools import partial
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.customers.items import (
    claim_item,
    claim_keys,
    customer_from_item,
    customer_to_item,
    index_changes,
    index_items,
    search_changes,
    search_items,
    search_terms,
    tag_and_address_changes,
)
from shared.customers.model import STORE_MANUAL, AddressEntry, Customer, Fence
from shared.customers.rules import (
    FENCE_LEASE_SECONDS,
    FENCE_WAIT_SECONDS,
    MAX_MERGE_CHAIN,
    ClaimTaken,
    claim_is_stale,
    email_key,
    parse_time,
)
from shared.dynamo import batch, keys, writes
from shared.dynamo.paging import Page, query_all, query_page
from shared.dynamo.retry import attempts, poll
from shared.dynamo.table import TableStore
from shared.dynamo.transactions import Transaction, TransactionRefused, stage_within
from shared.errors import ChangedMeanwhile, NotFound, Unavailable
from shared.platform import clock
from shared.platform.ids import new_id
from shared.values.search_terms import lookup_piece, select_matches

# What a record's write checks: nobody changed it since it was read, and it was not absorbed.
UNCHANGED = "version = :v AND attribute_not_exists(merged_into)"
SEARCH_READ_BUDGET = 2_000  # search entries read per list request before it answers with a cursor
BUSY_IMPORTING = "Customer identifiers are being imported right now; retry in a minute."


class CustomerRepository(TableStore):
    # --- reads ------------------------------------------------------------------------------------
    def find(self, merchant_id: str, customer_id: str, *, consistent: bool = False) -> Customer | None:
        """The record itself, absorbed or not."""
        item = self._table.get_item(Key=keys.customer(merchant_id, customer_id), ConsistentRead=consistent).get("Item")
        return customer_from_item(item) if item else None

    def resolve(self, merchant_id: str, customer: Customer, *, consistent: bool = False) -> Customer:
        """The master of an absorbed record (following earlier merges), else the record."""
        for _ in range(MAX_MERGE_CHAIN):
            if not customer.merged_into:
                return customer
            master = self.find(merchant_id, customer.merged_into, consistent=consistent)
            if master is None:
                return customer
            customer = master
        return customer

    def get(self, merchant_id: str, customer_id: str, *, consistent: bool = False) -> Customer:
        """The record, or its master when it was absorbed; NotFound otherwise."""
        found = self.find(merchant_id, customer_id, consistent=consistent)
        if found is None:
            raise NotFound(f"Customer {customer_id} does not exist.")
        return self.resolve(merchant_id, found, consistent=consistent)

    def claim_owner(self, claim_key: dict[str, str], *, consistent: bool = True) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._table.get_item(Key=claim_key, ConsistentRead=consistent).get("Item")
        return item

    def _find_by_claim(self, merchant_id: str, claim_key: dict[str, str], consistent: bool) -> Customer | None:
        claim = self.claim_owner(claim_key, consistent=consistent)
        if not claim:
            return None
        found = self.find(merchant_id, str(claim["customer_id"]), consistent=consistent)
        return self.resolve(merchant_id, found, consistent=consistent) if found else None

    def find_by_username(self, merchant_id: str, username: str, *, consistent: bool = False) -> Customer | None:
        username = username.strip()
        if not username:
            return None
        return self._find_by_claim(merchant_id, keys.customer_username(merchant_id, username), consistent)

    def find_by_email(self, merchant_id: str, email: str, *, consistent: bool = False) -> Customer | None:
        if not email.strip():
            return None
        return self._find_by_claim(merchant_id, keys.customer_email(merchant_id, email_key(email)), consistent)

    def batch_get_items(self, item_keys: list[dict[str, str]], *, consistent: bool = False,
                        executor: Executor | None = None) -> list[dict[str, Any]]:
        return batch.get(self._table, item_keys, consistent=consistent, executor=executor)

    def batch_get(self, merchant_id: str, customer_ids: Iterable[str], *, consistent: bool = False) -> dict[str, Customer]:
        items = batch.get(self._table, [keys.customer(merchant_id, i) for i in customer_ids], consistent=consistent)
        return {str(item["id"]): customer_from_item(item) for item in items}

    def masters_of(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, Customer]:
        """id → master record, for many ids at once (absorbed ones followed to their master)."""
        return {customer_id: self.resolve(merchant_id, record)
                for customer_id, record in self.batch_get(merchant_id, customer_ids).items()}

    def page(self, merchant_id: str, *, limit: int, cursor: str | None) -> Page:
        """Masters, newest first."""
        return query_page(self._table, merchant_id, index=keys.GSI1, limit=limit, cursor=cursor,
                          key_condition=Key(keys.GSI1.pk).eq(keys.customers_of_merchant(merchant_id)))

    def tag_page(self, merchant_id: str, tag: str, *, limit: int, cursor: str | None) -> tuple[list[Customer], str | None]:
        """Records carrying the tag, newest first (tag entries, then the records in one batch)."""
        page = query_page(self._table, merchant_id, index=keys.GSI1, limit=limit, cursor=cursor,
                          key_condition=Key(keys.GSI1.pk).eq(keys.customers_by_tag(merchant_id, tag)))
        ids = [str(entry["customer_id"]) for entry in page.items]
        records = self.batch_get(merchant_id, ids)
        # An entry left behind by an interrupted write is ignored: the record is the truth.
        found = [records[i] for i in ids if i in records and tag in records[i].tags and not records[i].merged_into]
        return found, page.next_cursor

    def search_page(self, merchant_id: str, pieces: list[str], *, limit: int, cursor: str | None,
                    accept: Callable[[Customer], bool] | None = None) -> tuple[list[Customer], str | None]:
        """Masters matching every piece of a query (`shared.values.search_terms`), in the order of
        the matched term: one Query of the search entries by the longest piece, then their records
        in one batch per page. A record with several matching terms shows once (at its first)."""
        piece = lookup_piece(pieces)

        def select(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            records = self.batch_get(merchant_id, {str(entry["customer_id"]) for entry in entries})
            chosen = select_matches(entries, records, id_attribute="customer_id", pieces=pieces,
                                    terms_of=search_terms, accept=accept)
            found.update((record.id, record) for _, record in chosen)
            return [entry for entry, _ in chosen]

        found: dict[str, Customer] = {}
        page = query_page(self._table, merchant_id, limit=limit, cursor=cursor, newest_first=False, select=select,
                          read_budget=SEARCH_READ_BUDGET,
                          key_condition=Key(keys.PK).eq(keys.customer_search_partition(merchant_id))
                          & Key(keys.SK).begins_with(piece))
        return [found[str(entry["customer_id"])] for entry in page.items], page.next_cursor

    def iterate(self, merchant_id: str) -> Iterator[Customer]:
        """Every master record, oldest first (the customer list export walks this)."""
        items = query_all(self._table, IndexName=keys.GSI1.name, ScanIndexForward=True,
                          KeyConditionExpression=Key(keys.GSI1.pk).eq(keys.customers_of_merchant(merchant_id)))
        for item in items:
            yield customer_from_item(item)

    def absorbed_ids(self, merchant_id: str, master_id: str) -> list[str]:
        """Records absorbed into the master, directly or through earlier merges (erasure uses it)."""
        found: list[str] = []
        pending = [master_id]
        while pending:
            current = pending.pop()
            items = query_all(self._table, IndexName=keys.GSI1.name, ProjectionExpression="id",
                              KeyConditionExpression=Key(keys.GSI1.pk).eq(keys.customers_merged_into(merchant_id, current)))
            for item in items:
                absorbed = str(item["id"])
                if absorbed not in found and absorbed != master_id:
                    found.append(absorbed)
                    pending.append(absorbed)
        return found

    def address_entries(self, merchant_id: str, *, start: dict[str, Any] | None,
                        page_size: int = 500) -> tuple[list[AddressEntry], list[dict[str, Any]], dict[str, Any] | None]:
        """One page of address entries in fingerprint order: (entries, their index positions, next start)."""
        request: dict[str, Any] = {"IndexName": keys.GSI2.name, "Limit": page_size, "ScanIndexForward": True,
                                   "KeyConditionExpression": Key(keys.GSI2.pk).eq(keys.addresses_of_merchant(merchant_id))}
        if start:
            request["ExclusiveStartKey"] = start
        response = self._table.query(**request)
        items = response.get("Items", [])
        positions = [{n: i[n] for n in (keys.PK, keys.SK, keys.GSI2.pk, keys.GSI2.sk)} for i in items]
        return [AddressEntry.model_validate(keys.strip_keys(i)) for i in items], positions, response.get("LastEvaluatedKey")

    # --- claims ----------------------------------------------------------------------------------
    def _claim_conflict(self, merchant_id: str, kind: str, claim_key: dict[str, str]) -> ClaimTaken | None:
        """Why a claim failed: a live owner (ClaimTaken), or None after taking over a stale claim."""
        claim = self.claim_owner(claim_key)
        if not claim:
            return None  # released meanwhile: try again
        owner = str(claim["customer_id"])
        if self.find(merchant_id, owner, consistent=True) is not None:
            return ClaimTaken(kind, owner)
        if not claim_is_stale(claim.get("claimed_at")):
            return ClaimTaken(kind, None)  # its record is being written right now
        self.release_claim(claim_key, owner)  # left behind by a crashed import
        return None

    def _taken(self, merchant_id: str, refused: TransactionRefused, claims: dict[str, dict[str, str]]) -> ClaimTaken | None:
        for kind in sorted(refused.rules):
            if kind in claims and (taken := self._claim_conflict(merchant_id, kind, claims[kind])):
                return taken
        return None

    def release_claim(self, claim_key: dict[str, str], owner_id: str) -> None:
        """Deletes the claim while `owner_id` still holds it (else it is someone else's now)."""
        writes.applied(partial(writes.delete, self._table, claim_key, condition="customer_id = :owner",
                               rule="claim_held", values={":owner": owner_id}))

    # --- the claim fence (see `shared.customers.model.Fence`) --------------------------------------
    def read_fence(self, merchant_id: str) -> Fence:
        item = self._table.get_item(Key=keys.customer_claim_fence(merchant_id), ConsistentRead=True).get("Item") or {}
        lease = parse_time(item.get("lease_until")) if item.get("lease_until") else None
        busy = bool(item.get("writing")) and lease is not None and lease > clock.now()
        return Fence(int(item.get("seq", 0)), busy, lease)

    def acquire_fence(self, merchant_id: str, holder: str, *, lease_seconds: int = FENCE_LEASE_SECONDS) -> Fence | None:
        """Take the fence (None while someone else holds it): one more `seq`, `writing` until released."""
        now = clock.now()
        until = now + timedelta(seconds=lease_seconds)
        taken, item = writes.update_or_current(
            self._table, keys.customer_claim_fence(merchant_id),
            "SET seq = if_not_exists(seq, :zero) + :one, writing = :yes, holder = :holder, lease_until = :until",
            condition="attribute_not_exists(writing) OR writing = :no OR lease_until < :now",
            values={":zero": 0, ":one": 1, ":yes": True, ":no": False, ":holder": holder,
                    ":until": clock.isoformat(until), ":now": clock.isoformat(now)})
        return Fence(int(item["seq"]), True, until) if taken and item else None

    def hold_fence(self, merchant_id: str, holder: str, *, lease_seconds: int = FENCE_LEASE_SECONDS) -> Fence:
        """`acquire_fence`, waiting for the current holder (an import chunk claims for a few seconds)."""
        fence = poll(partial(self.acquire_fence, merchant_id, holder, lease_seconds=lease_seconds),
                     seconds=FENCE_WAIT_SECONDS)
        if fence is None:
            raise Unavailable(BUSY_IMPORTING)
        return fence

    def release_fence(self, merchant_id: str, holder: str, seq: int) -> None:
        # Refused when the lease ran out and someone else holds the fence now: theirs stands.
        writes.applied(partial(writes.update, self._table, keys.customer_claim_fence(merchant_id), "SET writing = :no",
                               condition="holder = :holder AND seq = :seq", rule="fence_held",
                               values={":no": False, ":holder": holder, ":seq": seq}))

    def _claims_lost(self, merchant_id: str, before: Fence, claims: dict[str, dict[str, str]], owner: str) -> list[str]:
        """After a creation: the kinds of claims an import chunk overwrote meanwhile (see `Fence`)."""
        if not claims:
            return []
        after = self.read_fence(merchant_id)
        if after.seq == before.seq and not before.busy and not after.busy:
            return []  # no chunk claimed while this write was in flight
        if after.busy:
            # Wait for the chunk that may have overlapped to release (a later `seq` means it did).
            overlapping = after.seq

            def released() -> Fence | None:
                fence = self.read_fence(merchant_id)
                return None if fence.busy and fence.seq == overlapping else fence

            if poll(released, seconds=FENCE_WAIT_SECONDS, first_pause=0.05, max_pause=0.05) is None:
                raise Unavailable(BUSY_IMPORTING)
        # A chunk that saw the creation may have matched the record and changed it: nothing was lost.
        # One that missed it overwrote the claims of a record it never touched (still version 1).
        record = self.find(merchant_id, owner, consistent=True)
        if record is None or record.version != 1:
            return []
        return [kind for kind, claim_key in claims.items()
                if (claim := self.claim_owner(claim_key)) and claim.get("customer_id") != owner]

    def _undo_create(self, merchant_id: str, customer: Customer) -> bool:
        """A creation that lost an identifier to an import chunk is taken back (it was never
        answered); False when the record changed meanwhile, which keeps it."""
        if not writes.applied(partial(writes.delete, self._table, keys.customer(merchant_id, customer.id),
                                      condition="version = :one", rule=writes.VERSION_CHANGED, values={":one": 1})):
            return False
        _, entries = tag_and_address_changes(merchant_id, customer,
                                             customer.model_copy(update={"tags": [], "address": None}))
        batch.write(self._table, deletes=[*entries, *search_changes(merchant_id, customer, None)[1]])
        for claim_key in claim_keys(merchant_id, customer).values():
            self.release_claim(claim_key, customer.id)
        return True

    # --- single writes ---------------------------------------------------------------------------------
    def create(self, merchant_id: str, customer: Customer) -> Customer:
        """Record, unique-key items, tag entries and address entry in one transaction. A username
        or email owned by another record → ClaimTaken."""
        customer.version = 1
        claims = claim_keys(merchant_id, customer)
        for _ in attempts(3):
            tx = Transaction(self._table).put(customer_to_item(merchant_id, customer), condition=writes.ITEM_IS_NEW,
                                              rule="customer_exists")
            for kind, claim_key in claims.items():
                tx.put(claim_item(claim_key, kind, customer.id), condition=writes.ITEM_IS_NEW, rule=kind)
            for item in index_items(merchant_id, customer):
                tx.put(item)
            fence = self.read_fence(merchant_id)
            try:
                tx.commit()
            except TransactionRefused as refused:
                if taken := self._taken(merchant_id, refused, claims):
                    raise taken from None
                continue
            except ChangedMeanwhile:
                continue
            return self._kept_after_fence(merchant_id, customer, fence, claims)
        raise Unavailable("The customer could not be created because of concurrent changes; retry.")

    def _kept_after_fence(self, merchant_id: str, customer: Customer, fence: Fence,
                          claims: dict[str, dict[str, str]]) -> Customer:
        """The created record, unless an import chunk took one of its identifiers meanwhile."""
        try:
            lost = self._claims_lost(merchant_id, fence, claims, customer.id)
        except Unavailable:
            if self._undo_create(merchant_id, customer):
                raise
            return customer
        if not lost or not self._undo_create(merchant_id, customer):
            return customer
        owner = (self.claim_owner(claims[lost[0]]) or {}).get("customer_id")
        raise ClaimTaken(lost[0], str(owner) if owner else None)

    def _record_and_indexes(self, merchant_id: str, before: Customer, after: Customer,
                            outbox: dict[str, Any] | None) -> Transaction:
        """The version-checked record, and its tag and address entries moved from before to after
        (its search entries: `_commit_with_search`)."""
        tx = Transaction(self._table).put(customer_to_item(merchant_id, after, outbox=outbox), condition=UNCHANGED,
                                          rule=writes.VERSION_CHANGED, values={":v": before.version})
        puts, deletes = tag_and_address_changes(merchant_id, before, after)
        for item in puts:
            tx.put(item)
        for entry in deletes:
            tx.delete(entry)
        return tx

    def _commit_with_search(self, tx: Transaction, *changes: tuple[list[dict[str, Any]], list[dict[str, str]]]) -> None:
        """Commits `tx` with the search entries' changes it has room for; the rest right after."""
        puts = [item for put, _ in changes for item in put]
        deletes = [entry for _, delete in changes for entry in delete]
        left_puts, left_deletes = stage_within(tx, puts=puts, deletes=deletes)
        tx.commit()
        if left_puts or left_deletes:
            batch.write(self._table, puts=left_puts, deletes=left_deletes)

    def save(self, merchant_id: str, before: Customer, after: Customer, *,
             outbox: dict[str, Any] | None = None) -> Customer:
        """Replace the record if nobody changed it since `before` (else ChangedMeanwhile), moving its
        unique-key items, tag entries and address entry along in the same transaction. A new username
        or email is claimed holding the claim fence (rare: a PATCH of an identifier)."""
        after.version = before.version + 1
        after.updated_at = clock.now()
        tx = self._record_and_indexes(merchant_id, before, after, outbox)
        old_claims, new_claims = claim_keys(merchant_id, before), claim_keys(merchant_id, after)
        claimed = {kind: k for kind, k in new_claims.items() if old_claims.get(kind) != k}
        for kind, claim_key in claimed.items():
            tx.put(claim_item(claim_key, kind, after.id), condition=writes.ITEM_IS_NEW, rule=kind)
        for kind, claim_key in old_claims.items():
            if new_claims.get(kind) != claim_key:
                tx.delete(claim_key, condition="customer_id = :me", rule="claim_held", values={":me": after.id})
        holder = f"save:{after.id}:{uuid.uuid4().hex[:8]}"
        fence = self.hold_fence(merchant_id, holder) if claimed else None
        try:
            self._commit_with_search(tx, search_changes(merchant_id, before, after))
        except TransactionRefused as refused:
            if taken := self._taken(merchant_id, refused, claimed):
                raise taken from None
            raise ChangedMeanwhile("The customer changed meanwhile; retry.") from None
        finally:
            if fence is not None:
                self.release_fence(merchant_id, holder, fence.seq)
        return after

    def absorb(self, merchant_id: str, master_before: Customer, master_after: Customer, absorbed: Customer,
               *, outbox: dict[str, Any]) -> Customer:
        """One merge step, atomic: the master takes its new values, the absorbed record is marked
        merged and leaves the list and tag indexes, and its username and email now name the master.
        Any condition failing means one of them changed meanwhile (ChangedMeanwhile)."""
        master_after.version = master_before.version + 1
        master_after.updated_at = clock.now()
        merged = absorbed.model_copy(update={"merged_into": master_after.id, "updated_at": clock.now(),
                                             "version": absorbed.version + 1})
        tx = self._record_and_indexes(merchant_id, master_before, master_after, outbox)
        tx.put(customer_to_item(merchant_id, merged), condition=UNCHANGED, rule=writes.VERSION_CHANGED,
               values={":v": absorbed.version})
        for kind, claim_key in claim_keys(merchant_id, absorbed).items():
            claim = self.claim_owner(claim_key)
            if claim and claim.get("customer_id") == absorbed.id:
                tx.put(claim_item(claim_key, kind, master_after.id), condition="customer_id = :absorbed",
                       rule=writes.VERSION_CHANGED, values={":absorbed": absorbed.id})
        for tag in absorbed.tags:
            tx.delete(keys.customer_tag(merchant_id, absorbed.id, tag))
        try:
            self._commit_with_search(tx, search_changes(merchant_id, master_before, master_after),
                                     search_changes(merchant_id, absorbed, merged))
        except TransactionRefused as refused:
            raise ChangedMeanwhile("A customer of this merge changed meanwhile; retry.") from refused
        return master_after

    def replace(self, merchant_id: str, before: Customer, after: Customer) -> None:
        """Writes `after` if the record is still at `before`'s version (ChangedMeanwhile otherwise),
        absorbed or not (erasure reaches absorbed records too), with its search entries moved in
        the same transaction (erasure: the entries of what it redacts go with it). Its other
        indexes are the caller's."""
        tx = Transaction(self._table).put(customer_to_item(merchant_id, after), condition="version = :v",
                                          rule=writes.VERSION_CHANGED, values={":v": before.version})
        self._commit_with_search(tx, search_changes(merchant_id, before, after))

    def index_search(self, merchant_id: str, customers: Iterable[Customer]) -> int:
        """Writes every search entry of the records (idempotent puts, in batches; `colis
        index-search` backfills records written before search existed). The number of entries."""
        return batch.put_all(self._table, (item for customer in customers for item in search_items(merchant_id, customer)))

    def announce_erasure(self, merchant_id: str, customer_id: str, erased_at: str, outbox: dict[str, Any]) -> bool:
        """Puts the erasure's event (`outbox`) on the record once per erasure (`erased_at`, set
        once): a request sent again to finish an erasure announces nothing more. False: already
        announced."""
        return writes.applied(partial(
            writes.update, self._table, keys.customer(merchant_id, customer_id),
            "SET outbox = :outbox, erasure_announced = :at",
            condition="attribute_exists(pk) AND (attribute_not_exists(erasure_announced) OR erasure_announced <> :at)",
            rule="erasure_announced", values={":outbox": outbox, ":at": erased_at}))

    def delete_address_entry(self, merchant_id: str, owner_id: str) -> None:
        """The duplicate-address entry of a record or an imported order (its address is going)."""
        writes.delete(self._table, keys.address_entry(merchant_id, owner_id))

    # --- bulk writes (CSV import): conditional single puts where uniqueness needs them, batches else
    def put_if_unchanged(self, merchant_id: str, before: Customer, after: Customer) -> bool:
        """Replace the record if its version is still `before`'s and it was not absorbed meanwhile."""
        return writes.applied(partial(writes.put, self._table, customer_to_item(merchant_id, after),
                                      condition=UNCHANGED, rule=writes.VERSION_CHANGED, values={":v": before.version}))

    def index_changes(self, merchant_id: str, before: Customer, after: Customer) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """(items to put, keys to delete) moving tag entries, the address entry and the search entries
        from before to after."""
        return index_changes(merchant_id, before, after)

    def batch_write(self, puts: list[dict[str, Any]], deletes: list[dict[str, str]] | None = None) -> None:
        """Unconditional: only for items no one else can be writing (new ids, index entries)."""
        batch.write(self._table, puts=puts, deletes=deletes or [])

    def find_or_create_for_order(self, merchant_id: str, *, store: str, username: str | None, email: str,
                                 first_name: str | None, last_name: str | None) -> Customer:
        """The customer an imported order belongs to: matched by username, else by email (both
        resolving to the master); created with the order's store when missing. Safe under
        concurrency: a creation that loses a race re-reads the winner."""
        username = (username or "").strip() or None
        for _ in attempts(8):  # after a lost race the winner (or an import) is still writing it
            found = (self.find_by_username(merchant_id, username, consistent=True) if username else None) \
                or self.find_by_email(merchant_id, email, consistent=True)
            if found is not None:
                return found
            now = clock.now()
            candidate = Customer(id=new_id("cus"), username=username, email=email.strip(),
                                 first_name=(first_name or "").strip() or None,
                                 last_name=(last_name or "").strip() or None,
                                 store=store or STORE_MANUAL, created_at=now, updated_at=now)
            try:
                return self.create(merchant_id, candidate)
            except ClaimTaken:
                continue
        raise Unavailable("The customer is being created by another request; retry.")
