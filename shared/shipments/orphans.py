"""Orphans: carrier updates for tracking numbers no shipment has yet (DESIGN.md §1.1). Each is kept
30 days (TTL) and attached when a shipment with its number is created; a connection holds at most
`cap` live ones, above which a delivery is refused with 429 so the carrier retries later.

Counting them: one counter item per connection, changed only in the same transaction as the
orphan it counts, so it can never drift from the items it counts:
- recording an orphan puts it (unless that update is already there) and ADDs 1, under the
  condition that the count is below the cap: both or neither (a duplicate never counts twice);
- attaching one deletes it (if still there) and ADDs -1: two workers attaching the same orphan
  decrement once;
- TTL's deletion of an expired one is seen by the retention consumer (a REMOVE by
  dynamodb.amazonaws.com), which ADDs -1 together with a claim item keyed by the orphan, so a
  stream record delivered twice decrements once.
An expired orphan TTL has not removed yet (TTL lags, by up to days) still counts until it is
removed: the cap errs on the safe side, and a refused carrier delivers again later.
A Query COUNT of a connection's orphans would cost reads in proportion to the orphans on every
delivery; the counter costs one item in the write that records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.dynamo import keys, writes
from shared.dynamo.table import TableStore
from shared.dynamo.transactions import Requirement, Transaction, TransactionRefused, refused_by
from shared.errors import TooManyRequests
from shared.platform import clock
from shared.platform.settings import settings
from shared.shipments.statuses import CanonicalUpdate
from shared.values.models import without_nulls

ORPHAN_DAYS = 30
RETRY_AFTER_SECONDS = 600
ORPHAN_RECORDED = "orphan_recorded"
ORPHAN_CAP_REACHED = "orphan_cap_reached"
ORPHAN_GONE = "orphan_gone"
EXPIRY_COUNTED = "orphan_expiry_counted"
CONNECTION_ATTRIBUTE = "connection_id"  # also what the retention consumer's stream filter matches
_LIVE = {"#live": "live"}


@dataclass(frozen=True)
class Orphan:
    key: dict[str, str]
    update: CanonicalUpdate
    connection_id: str | None


def _iso(moment: datetime) -> str:
    return clock.isoformat(moment)


class OrphanStore(TableStore):
    def __init__(self, table: Any | None = None, *, cap: int | None = None) -> None:
        super().__init__(table)
        self._cap = cap if cap is not None else settings().orphans_per_connection

    def record(self, merchant_id: str, update: CanonicalUpdate, connection_id: str | None,
               requirement: Requirement | None = None) -> bool:
        """Keeps the update until its shipment exists: False when it was already kept; over the
        connection's cap, `TooManyRequests` (nothing written). Without a connection (an update
        applied by Colis itself) there is no cap to count against."""
        now = clock.now()
        item = without_nulls({**keys.orphan_update(merchant_id, update.tracking_number, _iso(update.occurred_at),
                                                   update.dedup_key()),
                              "update": update.model_dump(mode="json"), "received_at": _iso(now),
                              CONNECTION_ATTRIBUTE: connection_id,
                              keys.TTL: int((now + timedelta(days=ORPHAN_DAYS)).timestamp())})
        if connection_id is None:
            return writes.put_new(self._table, item, rule=ORPHAN_RECORDED)
        tx = Transaction(self._table).put(item, condition=writes.ITEM_IS_NEW, rule=ORPHAN_RECORDED).require(requirement)
        tx.update(keys.orphan_counter(connection_id), "ADD #live :one",
                  condition="attribute_not_exists(#live) OR #live < :cap", rule=ORPHAN_CAP_REACHED,
                  names=_LIVE, values={":one": 1, ":cap": self._cap})
        try:
            tx.commit()
        except TransactionRefused as refused:
            if requirement is not None and refused_by(refused, requirement.rule):
                raise
            if ORPHAN_RECORDED in refused.rules:
                return False
            raise TooManyRequests(
                f"This connection holds {self._cap} updates for tracking numbers no shipment has yet; "
                "deliver again later.", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from refused
        return True

    def pending(self, merchant_id: str, number: str, *, limit: int | None = None) -> list[Orphan]:
        """The number's orphans that have not expired (TTL deletes lag), oldest first."""
        now = clock.epoch_seconds()
        request: dict[str, Any] = {"KeyConditionExpression": Key(keys.PK).eq(keys.orphan_partition(merchant_id, number))
                                   & Key(keys.SK).begins_with(keys.EVENT_PREFIX), "ScanIndexForward": True}
        found: list[Orphan] = []
        while True:
            if limit is not None:
                request["Limit"] = limit - len(found)
            response = self._table.query(**request)
            for item in response.get("Items", []):
                if int(item.get(keys.TTL, now + 1)) > now:
                    found.append(Orphan(keys.key(item[keys.PK], item[keys.SK]),
                                        CanonicalUpdate.model_validate(item["update"]), item.get(CONNECTION_ATTRIBUTE)))
            start = response.get("LastEvaluatedKey")
            if not start or (limit is not None and len(found) >= limit):
                return found
            request["ExclusiveStartKey"] = start

    def settle(self, orphan: Orphan) -> bool:
        """Drops an attached orphan and uncounts it, once: False when another worker did."""
        tx = Transaction(self._table).delete(orphan.key, condition=writes.ITEM_EXISTS, rule=ORPHAN_GONE)
        if orphan.connection_id:
            tx.update(keys.orphan_counter(orphan.connection_id), "ADD #live :minus", names=_LIVE,
                      values={":minus": -1})
        try:
            tx.commit()
        except TransactionRefused:
            return False
        return True

    def count_expired(self, old_image: dict[str, Any]) -> bool:
        """Uncounts an orphan TTL removed (its stream record's old image), once per orphan."""
        connection_id = old_image.get(CONNECTION_ATTRIBUTE)
        if not connection_id:
            return False
        now = clock.now()
        claim = {**keys.orphan_expiry_claim(str(old_image[keys.PK]), str(old_image[keys.SK])),
                 keys.TTL: int((now + timedelta(days=7)).timestamp())}  # stream records live 24 h
        tx = Transaction(self._table).put(claim, condition=writes.ITEM_IS_NEW, rule=EXPIRY_COUNTED)
        tx.update(keys.orphan_counter(str(connection_id)), "ADD #live :minus", names=_LIVE, values={":minus": -1})
        try:
            tx.commit()
        except TransactionRefused:
            return False
        return True

    def live(self, connection_id: str) -> int:
        item = self._table.get_item(Key=keys.orphan_counter(connection_id), ConsistentRead=True).get("Item") or {}
        return int(item.get("live", 0))
