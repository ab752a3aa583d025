"""Customer items in the single table: the record, its tag entries, the unique-key items
(claims) of its username and email, its duplicate-address entry and its search entries."""

from __future__ import annotations

from typing import Any

from shared.customers.model import Customer
from shared.customers.rules import address_fingerprint, email_key
from shared.dynamo import keys
from shared.platform import clock
from shared.values.models import Address, without_nulls
from shared.values.search_terms import distinct_terms, name_terms, whole_terms

REDACTED = "redacted"  # what retention and erasure leave in a field (shared.retention.redaction)


def address_entry_item(merchant_id: str, owner_id: str, customer_id: str, email: str | None,
                       address: Address) -> dict[str, Any]:
    """The full item (keys included) recording one address for duplicate detection.

    `owner_id` is the order id for an imported order's shipping address, or the customer id for a
    customer record's address. The email is kept only as a digest of its case-folded form (enough
    to tell "different emails" apart). Delete it with `keys.address_entry(merchant_id, owner_id)`
    when the owner's address is redacted or erased."""
    fingerprint = address_fingerprint(address)
    item: dict[str, Any] = {
        **keys.address_entry(merchant_id, owner_id),
        **keys.index_entry(keys.GSI2, keys.addresses_of_merchant(merchant_id), f"{fingerprint}#{owner_id}"),
        "fingerprint": fingerprint, "owner_id": owner_id, "customer_id": customer_id,
    }
    if email and email != "redacted":
        item["email_digest"] = keys.digest(email_key(email))
    return item



def customer_to_item(merchant_id: str, customer: Customer, *, outbox: dict[str, Any] | None = None,
                     import_id: str | None = None, import_row: int | None = None) -> dict[str, Any]:
    data = without_nulls(customer.model_dump(mode="json"))
    created = clock.isoformat(customer.created_at)
    data.update(merchant_id=merchant_id, created_at=created, version=customer.version)
    if customer.updated_at:
        data["updated_at"] = clock.isoformat(customer.updated_at)
    # Masters are listed; an absorbed record moves to its master's "merged" partition.
    partition = (keys.customers_merged_into(merchant_id, customer.merged_into) if customer.merged_into
                 else keys.customers_of_merchant(merchant_id))
    item = {**keys.customer(merchant_id, customer.id), **data,
            **keys.index_entry(keys.GSI1, partition, keys.sortable(created, customer.id))}
    if outbox:
        item["outbox"] = outbox
    if import_id:
        # Lets a resumed import recognise the records it created itself before a crash.
        item["import_id"], item["import_row"] = import_id, import_row
    return item


def customer_from_item(item: dict[str, Any]) -> Customer:
    data = keys.strip_keys(item)
    for internal in ("outbox", "merchant_id", "import_id", "import_row", "erasure_announced"):
        data.pop(internal, None)
    data["version"] = int(data.get("version", 0))
    return Customer.model_validate(data)


def tag_entry_item(merchant_id: str, customer: Customer, tag: str) -> dict[str, Any]:
    created = clock.isoformat(customer.created_at)
    return {**keys.customer_tag(merchant_id, customer.id, tag),
            **keys.index_entry(keys.GSI1, keys.customers_by_tag(merchant_id, tag), keys.sortable(created, customer.id)),
            "customer_id": customer.id, "tag": tag}


def claim_keys(merchant_id: str, customer: Customer) -> dict[str, dict[str, str]]:
    """kind → key of the unique-key items the record owns."""
    claims: dict[str, dict[str, str]] = {}
    if customer.username:
        claims["username"] = keys.customer_username(merchant_id, customer.username)
    if customer.email and customer.email != "redacted":
        claims["email"] = keys.customer_email(merchant_id, email_key(customer.email))
    return claims


def claim_item(claim_key: dict[str, str], kind: str, customer_id: str, *, import_id: str | None = None) -> dict[str, Any]:
    item = {**claim_key, "customer_id": customer_id, "kind": kind, "claimed_at": clock.isoformat(clock.now())}
    if import_id:
        item["import_id"] = import_id
    return item


def search_terms(customer: Customer) -> list[str]:
    """What `q` finds a record by (API.md: name, email, username): the words of its names, its
    whole email and username. Values already redacted are not terms; an absorbed record has none
    (it answers through its master, whose terms include what it brought)."""
    return [] if customer.merged_into else value_terms(customer)


def value_terms(customer: Customer) -> list[str]:
    """The terms of a record's values, absorbed or not: what entries it may have left behind."""
    def given(value: str | None) -> str | None:
        return value if value and value != REDACTED else None

    return distinct_terms([*name_terms(given(customer.first_name), given(customer.last_name), given(customer.name)),
                           *whole_terms(given(customer.email), given(customer.username))])


def search_entry_item(merchant_id: str, customer_id: str, term: str) -> dict[str, Any]:
    return {**keys.customer_search_entry(merchant_id, term, customer_id), "customer_id": customer_id, "term": term}


def search_items(merchant_id: str, customer: Customer) -> list[dict[str, Any]]:
    return [search_entry_item(merchant_id, customer.id, term) for term in search_terms(customer)]


def search_changes(merchant_id: str, before: Customer | None,
                   after: Customer | None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(entries to put, keys to delete) moving the search entries from `before` to `after` (None:
    no record, so no entries). Every term of `before`'s values that `after` lacks is deleted, also
    for an absorbed record (whose entries a merge deletes: a retry finds none left behind)."""
    old = value_terms(before) if before else []
    new = search_terms(after) if after else []
    record = after or before
    if record is None:
        return [], []
    customer_id = record.id
    kept = search_terms(before) if before else []
    puts = [search_entry_item(merchant_id, customer_id, term) for term in new if term not in kept]
    deletes = [keys.customer_search_entry(merchant_id, term, customer_id) for term in old if term not in new]
    return puts, deletes


def index_items(merchant_id: str, customer: Customer) -> list[dict[str, Any]]:
    """Tag entries, the address entry and the search entries of a record (what a creation writes
    beside it)."""
    return [*tag_and_address_items(merchant_id, customer), *search_items(merchant_id, customer)]


def tag_and_address_items(merchant_id: str, customer: Customer) -> list[dict[str, Any]]:
    items = [tag_entry_item(merchant_id, customer, tag) for tag in customer.tags]
    if customer.address is not None:
        items.append(address_entry_item(merchant_id, customer.id, customer.id, customer.email, customer.address))
    return items


def index_changes(merchant_id: str, before: Customer, after: Customer) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(items to put, keys to delete) moving tag entries, the address entry and the search entries
    from before to after."""
    puts, deletes = tag_and_address_changes(merchant_id, before, after)
    search_puts, search_deletes = search_changes(merchant_id, before, after)
    return [*puts, *search_puts], [*deletes, *search_deletes]


def tag_and_address_changes(merchant_id: str, before: Customer,
                            after: Customer) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    kept = set(after.tags)
    deletes = [keys.customer_tag(merchant_id, before.id, tag) for tag in before.tags if tag not in kept]
    puts = [tag_entry_item(merchant_id, after, tag) for tag in after.tags if tag not in before.tags]
    if after.address is not None and (after.address != before.address or after.email != before.email):
        puts.append(address_entry_item(merchant_id, after.id, after.id, after.email, after.address))
    elif after.address is None and before.address is not None:
        deletes.append(keys.address_entry(merchant_id, after.id))
    return puts, deletes
