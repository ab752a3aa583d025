"""Merchant API keys: only a SHA-256 hash is stored; the key is shown once at creation."""

from __future__ import annotations

import secrets
from typing import Any

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel

from shared.dynamo import keys
from shared.dynamo.paging import query_all
from shared.dynamo.transactions import Transaction
from shared.dynamo.writes import ITEM_IS_NEW
from shared.errors import NotFound
from shared.platform import aws, clock
from shared.platform.ids import new_id

KEY_PREFIX = "colis_sk_"


class ApiKey(BaseModel):
    id: str
    merchant_id: str
    prefix: str
    created_at: str


class CreatedApiKey(BaseModel):
    id: str
    key: str
    prefix: str
    created_at: str


def hash_key(plaintext: str) -> str:
    return keys.digest(plaintext)


class ApiKeyRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def create(self, merchant_id: str) -> CreatedApiKey:
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(id=new_id("key"), merchant_id=merchant_id, prefix=plaintext[:12],
                        created_at=clock.isoformat(clock.now()))
        key_hash = hash_key(plaintext)
        attributes = {**record.model_dump(), "key_hash": key_hash}
        (Transaction(self._table)
         .put({**keys.api_key_by_hash(key_hash), **attributes}, condition=ITEM_IS_NEW, rule="api_key_exists")
         .put({**keys.api_key_of_merchant(merchant_id, record.id), **attributes}, condition=ITEM_IS_NEW,
              rule="api_key_exists")
         .commit())
        return CreatedApiKey(id=record.id, key=plaintext, prefix=record.prefix, created_at=record.created_at)

    def merchant_for_key(self, plaintext: str) -> ApiKey | None:
        item = self._table.get_item(Key=keys.api_key_by_hash(hash_key(plaintext)), ConsistentRead=True).get("Item")
        return ApiKey.model_validate(keys.strip_keys(item)) if item else None

    def list(self, merchant_id: str) -> list[ApiKey]:
        pk, prefix = keys.api_keys_prefix(merchant_id)
        return [ApiKey.model_validate(keys.strip_keys(item)) for item in
                query_all(self._table, KeyConditionExpression=Key(keys.PK).eq(pk) & Key(keys.SK).begins_with(prefix))]

    def revoke(self, merchant_id: str, key_id: str) -> None:
        item = self._table.get_item(Key=keys.api_key_of_merchant(merchant_id, key_id)).get("Item")
        if not item:
            raise NotFound(f"API key {key_id} does not exist.")
        (Transaction(self._table)
         .delete(keys.api_key_by_hash(str(item["key_hash"])))
         .delete(keys.api_key_of_merchant(merchant_id, key_id))
         .commit())
