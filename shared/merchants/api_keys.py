"""Merchant API keys: only a SHA-256 hash is stored; the key is shown once at creation."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.dynamo import keys
from shared.dynamo.table import TableStore
from shared.dynamo.transactions import Transaction
from shared.dynamo.writes import ITEM_EXISTS, ITEM_IS_NEW, applied, update
from shared.platform import clock
from shared.platform.ids import new_id

KEY_PREFIX = "colis_sk_"


Scope = Literal["write", "read"]
# `last_used_at` is this precise: the authorizer writes it at most once per key per interval.
LAST_USED_INTERVAL = timedelta(seconds=60)


class ApiKeyRequest(BaseModel):
    """`POST /v1/api-keys`: a `read` key may only read (its writes answer 403)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str | None = Field(default=None, min_length=1, max_length=100,
                             description="what the key is for (a storefront, a script)")
    scope: Scope = "write"


class ApiKey(BaseModel):
    id: str
    merchant_id: str
    prefix: str
    created_at: str
    name: str | None = None
    scope: Scope = "write"  # keys made before scopes existed could write
    last_used_at: str | None = Field(default=None, description=f"to within {LAST_USED_INTERVAL.seconds} s")


class CreatedApiKey(BaseModel):
    id: str
    key: str = Field(description="shown in this answer only")
    name: str | None
    scope: Scope
    prefix: str
    created_at: str


def hash_key(plaintext: str) -> str:
    return keys.digest(plaintext)


class ApiKeyRepository(TableStore):

    def create(self, merchant_id: str, request: ApiKeyRequest | None = None) -> CreatedApiKey:
        wanted = request or ApiKeyRequest()
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(id=new_id("key"), merchant_id=merchant_id, prefix=plaintext[:12],
                        created_at=clock.isoformat(clock.now()), name=wanted.name, scope=wanted.scope)
        key_hash = hash_key(plaintext)
        attributes = {**record.model_dump(exclude_none=True), "key_hash": key_hash}
        (Transaction(self._table)
         .put({**keys.api_key_by_hash(key_hash), **attributes}, condition=ITEM_IS_NEW, rule="api_key_exists")
         .put({**keys.api_key_of_merchant(merchant_id, record.id), **attributes}, condition=ITEM_IS_NEW,
              rule="api_key_exists")
         .commit())
        return CreatedApiKey(id=record.id, key=plaintext, name=record.name, scope=record.scope, prefix=record.prefix,
                             created_at=record.created_at)

    def merchant_for_key(self, plaintext: str) -> ApiKey | None:
        item = self._table.get_item(Key=keys.api_key_by_hash(hash_key(plaintext)), ConsistentRead=True).get("Item")
        return ApiKey.model_validate(keys.strip_keys(item)) if item else None

    def mark_used(self, api_key: ApiKey, now: datetime) -> bool:
        """Records that `api_key` was just used, unless it already was within LAST_USED_INTERVAL.

        The authorizer runs before every request, so this must stay cheap: the hash item it reads
        is left alone (it carries no time), and the listed copy is written by one conditional
        UpdateItem that DynamoDB itself refuses while the stored time is recent. A busy key thus
        costs at most one write a minute, whichever authorizer instance sees it, without a read
        first; the existence check keeps a key revoked meanwhile from coming back as a stub.
        True when the time was written."""
        stamp = clock.isoformat(now)
        recent = clock.isoformat(now - LAST_USED_INTERVAL)
        return applied(lambda: update(
            self._table, keys.api_key_of_merchant(api_key.merchant_id, api_key.id), "SET last_used_at = :now",
            condition=f"{ITEM_EXISTS} AND (attribute_not_exists(last_used_at) OR last_used_at < :recent)",
            values={":now": stamp, ":recent": recent}, rule="api_key_used_recently"))

    def list(self, merchant_id: str) -> list[ApiKey]:
        return [ApiKey.model_validate(keys.strip_keys(item)) for item in self.items_under(*keys.api_keys_prefix(merchant_id))]

    def revoke(self, merchant_id: str, key_id: str) -> None:
        item = self.required_item(keys.api_key_of_merchant(merchant_id, key_id), f"API key {key_id} does not exist.")
        (Transaction(self._table)
         .delete(keys.api_key_by_hash(str(item["key_hash"])))
         .delete(keys.api_key_of_merchant(merchant_id, key_id))
         .commit())
