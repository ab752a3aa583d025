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

    def save(self, merchant_id: str, endpoint: StoredEndpoint) -> StoredEndpoint:
        """Writes `endpoint` over the version it was read at (`ChangedMeanwhile` otherwise)."""
        saved = endpoint.model_copy(update={"version": endpoint.version + 1})
        writes.put(self._table, _endpoint_item(merchant_id, saved), condition="version = :read",
                   values={":read": endpoint.version}, rule=writes.VERSION_CHANGED)
        return saved

    def delete(self, merchant_id: str, endpoint_id: str) -> None:
        try:
            writes.delete(self._table, keys.webhook_endpoint(merchant_id, endpoint_id),
                          condition=writes.ITEM_EXISTS, rule="endpoint_missing")
        except Refused as refused:
            raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.") from refused

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
