"""Webhook endpoints and their delivery log in the table (model: `shared.webhooks.model`).

An endpoint lives in its merchant's partition (`keys.webhook_endpoint`), secrets included: the
delivery function reads a merchant's endpoints by one Query of that partition, so an event of
merchant A can only ever find A's endpoints. Changes are conditional on the endpoint's version.
Each delivery attempt is an item (`keys.webhook_delivery`, TTL 30 days) listed per endpoint
through GSI1, newest first (delivery ids sort by creation time).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict

from shared.dynamo import keys, writes
from shared.dynamo.paging import Page, query_all, query_page
from shared.errors import NotFound, Refused
from shared.platform import aws, clock
from shared.webhooks.model import MAX_ENDPOINTS, StoredEndpoint

DELIVERY_LOG_LIFETIME = timedelta(days=30)
# A claimed retry is hidden this long: if its run dies, the schedule finds it again afterwards.
CLAIM_LEASE = timedelta(minutes=5)
# The retry schedule looks this far back for due items (retries last about 3 days).
DUE_LOOKBACK_DAYS = 5
# A retry item outlives its due time by this much at most (a safety net; it is deleted when done).
RETRY_ITEM_SLACK = timedelta(days=7)


class PendingDelivery(BaseModel):
    """An event waiting for its next attempt at one endpoint."""

    model_config = ConfigDict(extra="ignore")
    endpoint_id: str
    event_id: str
    event_type: str
    body: str
    attempt: int  # the number the next attempt will have
    first_attempt_at: datetime
    due_at: datetime


class DeliveryAttempt(BaseModel):
    """One attempt to deliver one event to one endpoint (API.md: the delivery log)."""

    model_config = ConfigDict(extra="ignore")
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    attempt: int
    next_attempt_at: datetime | None = None
    attempted_at: datetime
    # The exact body that was signed and sent (thin: ids, statuses, amounts); a retry sends it again.
    body: str


def _iso(moment: datetime | None) -> str | None:
    return clock.isoformat(moment) if moment else None


def _endpoint_item(merchant_id: str, endpoint: StoredEndpoint) -> dict[str, Any]:
    data = endpoint.model_dump(mode="json")
    for name in ("created_at", "updated_at", "failing_since"):
        data[name] = _iso(getattr(endpoint, name))
    data["secrets"] = [{"secret": s.secret, "expires_at": _iso(s.expires_at)} for s in endpoint.secrets]
    return {**keys.webhook_endpoint(merchant_id, endpoint.id), **data}


def _endpoint_of(item: dict[str, Any]) -> StoredEndpoint:
    return StoredEndpoint.model_validate(keys.strip_keys(item))


class WebhookEndpointStore:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    # --- endpoints ---------------------------------------------------------------------------
    def create(self, merchant_id: str, endpoint: StoredEndpoint) -> None:
        if len(self.all_of(merchant_id)) >= MAX_ENDPOINTS:
            raise Refused(f"A merchant may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first.",
                          rule="too_many_endpoints")
        writes.put(self._table, _endpoint_item(merchant_id, endpoint), condition=writes.ITEM_IS_NEW,
                   rule="endpoint_exists")

    def get(self, merchant_id: str, endpoint_id: str, *, consistent: bool = True) -> StoredEndpoint:
        item = self._table.get_item(Key=keys.webhook_endpoint(merchant_id, endpoint_id),
                                    ConsistentRead=consistent).get("Item")
        if not item:
            raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.")
        return _endpoint_of(item)

    def page(self, merchant_id: str, *, limit: int, cursor: str | None) -> tuple[list[StoredEndpoint], str | None]:
        pk, prefix = keys.webhook_endpoints_prefix(merchant_id)
        page: Page = query_page(self._table, merchant_id, limit=limit, cursor=cursor,
                                key_condition=Key(keys.PK).eq(pk) & Key(keys.SK).begins_with(prefix))
        return [_endpoint_of(item) for item in page.items], page.next_cursor

    def all_of(self, merchant_id: str) -> list[StoredEndpoint]:
        """Every endpoint of the merchant (at most `MAX_ENDPOINTS`): the delivery fan-out."""
        pk, prefix = keys.webhook_endpoints_prefix(merchant_id)
        items = query_all(self._table, KeyConditionExpression=Key(keys.PK).eq(pk) & Key(keys.SK).begins_with(prefix),
                          ConsistentRead=True)
        return [_endpoint_of(item) for item in items]

    def save(self, merchant_id: str, endpoint: StoredEndpoint, *,
             outbox: dict[str, Any] | None = None) -> StoredEndpoint:
        """Writes `endpoint` over the version it was read at (`ChangedMeanwhile` otherwise), with
        the `outbox` entry of an event the change publishes."""
        saved = endpoint.model_copy(update={"version": endpoint.version + 1})
        item = _endpoint_item(merchant_id, saved)
        if outbox:
            item["outbox"] = outbox
        writes.put(self._table, item, condition="version = :read", values={":read": endpoint.version},
                   rule=writes.VERSION_CHANGED)
        return saved

    def delete(self, merchant_id: str, endpoint_id: str) -> None:
        try:
            writes.delete(self._table, keys.webhook_endpoint(merchant_id, endpoint_id),
                          condition=writes.ITEM_EXISTS, rule="endpoint_missing")
        except Refused as refused:
            raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.") from refused

    # --- deliveries waiting for their next attempt ---------------------------------------------
    def _due_entry(self, moment: datetime, sk: str) -> dict[str, str]:
        return keys.index_entry(keys.DUE, keys.webhook_retry_due_partition(moment.date()),
                                keys.due_position(clock.epoch_seconds(moment), sk))

    def schedule(self, merchant_id: str, pending: PendingDelivery) -> None:
        key = keys.webhook_retry(merchant_id, pending.endpoint_id, pending.event_id)
        data = pending.model_dump(mode="json")
        data["first_attempt_at"] = _iso(pending.first_attempt_at)
        data["due_at"] = _iso(pending.due_at)
        writes.put(self._table, {**key, **data, **self._due_entry(pending.due_at, key[keys.SK]),
                                 keys.TTL: clock.epoch_seconds(pending.due_at + RETRY_ITEM_SLACK)})

    def drop(self, merchant_id: str, endpoint_id: str, event_id: str) -> None:
        writes.delete(self._table, keys.webhook_retry(merchant_id, endpoint_id, event_id))

    def due(self, now: datetime, *, limit: int) -> list[tuple[str, str, str, str]]:
        """(merchant_id, endpoint_id, event_id, due position) of retries due at `now`, oldest first."""
        return self._due_until(now, days=DUE_LOOKBACK_DAYS, limit=limit)

    def pending(self, now: datetime, *, limit: int = 200) -> list[tuple[str, str, str, str]]:
        """Every waiting retry, due or not (the local stack's `/_local/` view), soonest first."""
        return self._due_until(now + timedelta(days=DUE_LOOKBACK_DAYS), days=2 * DUE_LOOKBACK_DAYS, limit=limit)

    def _due_until(self, until: datetime, *, days: int, limit: int) -> list[tuple[str, str, str, str]]:
        found: list[tuple[str, str, str, str]] = []
        for back in range(days, -1, -1):
            day = (until - timedelta(days=back)).date()
            condition = (Key(keys.DUE.pk).eq(keys.webhook_retry_due_partition(day))
                         & Key(keys.DUE.sk).lte(keys.due_before(clock.epoch_seconds(until))))
            for item in query_all(self._table, IndexName=keys.DUE.name, KeyConditionExpression=condition):
                found.append((*keys.webhook_retry_of(item[keys.PK], item[keys.SK]), item[keys.DUE.sk]))
                if len(found) >= limit:
                    return found
        return found

    def claim(self, merchant_id: str, endpoint_id: str, event_id: str, position: str) -> PendingDelivery | None:
        """The retry, hidden for `CLAIM_LEASE` while this run attempts it; None when another run
        took it or it is gone (the due position it was found at no longer holds)."""
        key = keys.webhook_retry(merchant_id, endpoint_id, event_id)
        lease = self._due_entry(clock.now() + CLAIM_LEASE, key[keys.SK])
        claimed, item = writes.update_or_current(
            self._table, key, "SET #due_pk = :due_pk, #due_sk = :due_sk",
            condition="#due_sk = :seen", names={"#due_pk": keys.DUE.pk, "#due_sk": keys.DUE.sk},
            values={":due_pk": lease[keys.DUE.pk], ":due_sk": lease[keys.DUE.sk], ":seen": position})
        return PendingDelivery.model_validate(keys.strip_keys(item)) if claimed and item else None

    # --- the delivery log ----------------------------------------------------------------------
    def log(self, merchant_id: str, attempt: DeliveryAttempt) -> None:
        data = attempt.model_dump(mode="json")
        data["attempted_at"] = _iso(attempt.attempted_at)
        data["next_attempt_at"] = _iso(attempt.next_attempt_at)
        item = {**keys.webhook_delivery(merchant_id, attempt.id), **data,
                **keys.index_entry(keys.GSI1, keys.webhook_deliveries_of_endpoint(merchant_id, attempt.endpoint_id),
                                   attempt.id),
                keys.TTL: clock.epoch_seconds(attempt.attempted_at + DELIVERY_LOG_LIFETIME)}
        writes.put(self._table, item)

    def delivery(self, merchant_id: str, delivery_id: str) -> DeliveryAttempt:
        item = self._table.get_item(Key=keys.webhook_delivery(merchant_id, delivery_id)).get("Item")
        # TTL deletes within days, not at once: an expired attempt reads as gone.
        if not item or int(item.get(keys.TTL, 0)) <= clock.epoch_seconds():
            raise NotFound(f"Webhook delivery {delivery_id} does not exist.")
        return DeliveryAttempt.model_validate(keys.strip_keys(item))

    def deliveries(self, merchant_id: str, endpoint_id: str, *, limit: int,
                   cursor: str | None) -> tuple[list[DeliveryAttempt], str | None]:
        now = clock.epoch_seconds()
        page = query_page(self._table, merchant_id, index=keys.GSI1, limit=limit, cursor=cursor,
                          key_condition=Key(keys.GSI1.pk).eq(keys.webhook_deliveries_of_endpoint(merchant_id,
                                                                                                   endpoint_id)),
                          keep=lambda item: int(item.get(keys.TTL, 0)) > now)
        return [DeliveryAttempt.model_validate(keys.strip_keys(item)) for item in page.items], page.next_cursor
