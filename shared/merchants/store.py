"""Merchants in the table: the merchant item (listed on GSI1 for the operators' merchant list) and
the tracking slugs it holds or held."""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.dynamo import keys, writes
from shared.dynamo.paging import query_all
from shared.dynamo.transactions import Transaction, TransactionRefused
from shared.dynamo.writes import ITEM_EXISTS, ITEM_IS_NEW
from shared.errors import NotFound, Refused
from shared.merchants.model import OPERATOR_OWNED, SLUG_TAKEN, TRACKING_SLUG, FeeSettings, Merchant, Settings
from shared.platform import aws, clock
from shared.platform.ids import new_id
from shared.values.money import RECORDED

_SLUG_SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

class MerchantRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def create(self, name: str, tracking_slug: str | None = None) -> Merchant:
        """The merchant with its tracking slug: the one asked for (taken → Refused), else one made
        from the name with a random suffix."""
        for _ in range(5):
            slug = tracking_slug or default_slug(name)
            merchant = Merchant(id=new_id("mer"), name=name, created_at=clock.isoformat(clock.now()),
                                settings=Settings(tracking_slug=slug))
            index, partition = keys.merchants_list()
            item = {**keys.merchant(merchant.id), **keys.index_entry(index, partition, merchant.id),
                    **merchant.model_dump(mode="json")}
            transaction = Transaction(self._table).put(item, condition=ITEM_IS_NEW, rule="merchant_exists")
            transaction.put(_slug_item(slug, merchant.id), condition=ITEM_IS_NEW, rule=SLUG_TAKEN)
            try:
                transaction.commit()
            except TransactionRefused as refused:
                if SLUG_TAKEN in refused.rules and tracking_slug is None:
                    continue  # another suffix
                if SLUG_TAKEN in refused.rules:
                    raise _slug_refusal(slug) from refused
                raise
            return merchant
        raise Refused("No free tracking slug was found for this name; give one.", rule=SLUG_TAKEN)

    def assign_default_slug(self, merchant: Merchant) -> str | None:
        """Gives a merchant that has no tracking slug (created before slugs existed) one made from its
        name, claimed as at creation; None when it has one already (also one set meanwhile)."""
        if merchant.settings.tracking_slug:
            return None
        names = {"#settings": "settings", "#slug": "tracking_slug"}
        for _ in range(5):
            slug = default_slug(merchant.name)
            transaction = Transaction(self._table).update(
                keys.merchant(merchant.id), "SET #settings.#slug = :slug", names=names,
                condition=f"{ITEM_EXISTS} AND (attribute_not_exists(#settings.#slug) OR #settings.#slug = :none)",
                values={":slug": slug, ":none": None}, rule="slug_already_set")
            transaction.put(_slug_item(slug, merchant.id), condition=ITEM_IS_NEW, rule=SLUG_TAKEN)
            try:
                transaction.commit()
            except TransactionRefused as refused:
                if SLUG_TAKEN in refused.rules and "slug_already_set" not in refused.rules:
                    continue  # another suffix
                if "slug_already_set" in refused.rules:
                    return None
                raise
            return slug
        raise Refused(f"No free tracking slug was found for merchant {merchant.id}; set one.", rule=SLUG_TAKEN)

    def list_all(self) -> list[Merchant]:
        """Every merchant, oldest first: the operator's list (a Query of the merchant index, no scan)."""
        index, partition = keys.merchants_list()
        items = query_all(self._table, IndexName=index.name, KeyConditionExpression=Key(index.pk).eq(partition))
        merchants = [Merchant.model_validate(keys.strip_keys(item), context=RECORDED) for item in items]
        return sorted(merchants, key=lambda merchant: (merchant.created_at, merchant.id))

    def get(self, merchant_id: str) -> Merchant:
        item = self._table.get_item(Key=keys.merchant(merchant_id)).get("Item")
        if not item:
            raise NotFound(f"Merchant {merchant_id} does not exist.")
        return Merchant.model_validate(keys.strip_keys(item), context=RECORDED)

    def save_settings(self, merchant_id: str, settings: Settings, *, claim_slug: bool = False) -> Settings:
        """Stores the merchant's own settings. Field by field, leaving the operator's (`fees`) as
        stored: a merchant's read-modify-write can never put back fee terms the operator changed
        meanwhile. `claim_slug`: the settings carry a new tracking slug, claimed in the same
        transaction: a slug another merchant holds (or ever held) → Refused (`tracking_slug_taken`);
        one this merchant held before is theirs again."""
        data = settings.model_dump(mode="json", exclude=set(OPERATOR_OWNED))
        names = {"#settings": "settings", **{f"#{field}": field for field in data}}
        values = {f":{field}": value for field, value in data.items()}
        assignments = ", ".join(f"#settings.#{field} = :{field}" for field in data)
        transaction = Transaction(self._table).update(
            keys.merchant(merchant_id), f"SET {assignments}", condition=ITEM_EXISTS, rule="merchant_exists",
            names=names, values=values)
        if claim_slug and settings.tracking_slug:
            transaction.put(_slug_item(settings.tracking_slug, merchant_id),
                            condition="attribute_not_exists(pk) OR merchant_id = :m", rule=SLUG_TAKEN,
                            values={":m": merchant_id})
        try:
            transaction.commit()
        except TransactionRefused as refused:
            if SLUG_TAKEN in refused.rules:
                raise _slug_refusal(settings.tracking_slug or "") from refused
            raise NotFound(f"Merchant {merchant_id} does not exist.") from refused
        return settings

    def set_fees(self, merchant_id: str, fees: FeeSettings) -> FeeSettings:
        """The operator's fee terms; orders imported from now on copy them (DESIGN.md §1.3)."""
        writes.update(self._table, keys.merchant(merchant_id), "SET #settings.#fees = :fees",
                      condition=writes.ITEM_EXISTS, rule="merchant_exists",
                      names={"#settings": "settings", "#fees": "fees"},
                      values={":fees": fees.model_dump(mode="json")},
                      detail=f"Merchant {merchant_id} does not exist.")
        return fees

    def merchant_for_slug(self, slug: str) -> str | None:
        """The merchant a slug belongs (or belonged) to, None when no merchant ever had it."""
        if not TRACKING_SLUG.match(slug):
            return None
        item = self._table.get_item(Key=keys.tracking_slug(slug)).get("Item")
        return str(item["merchant_id"]) if item else None


def default_slug(name: str) -> str:
    """`atelier-lune-x7k2q9` from "Atelier Lune": readable, and unlikely to be taken."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    words = "-".join(re.findall(r"[a-z0-9]+", plain))[:30].strip("-") or "shop"
    suffix = "".join(secrets.choice(_SLUG_SUFFIX_ALPHABET) for _ in range(6))
    return f"{words}-{suffix}"


def _slug_item(slug: str, merchant_id: str) -> dict[str, Any]:
    return {**keys.tracking_slug(slug), "merchant_id": merchant_id, "claimed_at": clock.isoformat(clock.now())}


def _slug_refusal(slug: str) -> Refused:
    return Refused(f"The tracking slug {slug!r} is taken by another merchant; choose another.", rule=SLUG_TAKEN)
