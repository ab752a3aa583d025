"""Merchant self-service: settings, API keys and carrier connections."""

from __future__ import annotations

from pydantic import BaseModel

from functions.account.settings_patch import SettingsPatch, apply_settings_patch
from shared.dynamo.paging import list_scope, page_of_read_list
from shared.merchants.api_keys import ApiKey, ApiKeyRepository, ApiKeyRequest, CreatedApiKey
from shared.merchants.connections import Connection, ConnectionRepository, webhook_url
from shared.merchants.model import Settings
from shared.merchants.store import MerchantRepository


class ConnectionOut(BaseModel):
    id: str
    carrier: str
    url: str
    created_at: str


class CreatedConnection(ConnectionOut):
    secret: str


def get_settings(merchants: MerchantRepository, merchant_id: str) -> Settings:
    return merchants.get(merchant_id).settings


def update_settings(merchants: MerchantRepository, merchant_id: str, patch: SettingsPatch) -> Settings:
    current = merchants.get(merchant_id).settings
    updated = apply_settings_patch(current, patch)
    # A new slug is claimed for good; the former one stays this merchant's and redirects.
    return merchants.save_settings(merchant_id, updated, claim_slug=updated.tracking_slug != current.tracking_slug)


def create_api_key(api_keys: ApiKeyRepository, merchant_id: str, request: ApiKeyRequest | None = None) -> CreatedApiKey:
    return api_keys.create(merchant_id, request)


def list_api_keys(api_keys: ApiKeyRepository, merchant_id: str, limit: int,
                  cursor: str | None) -> tuple[list[ApiKey], str | None]:
    """Oldest first; a merchant has few keys, read whole and paged like every list."""
    ordered = sorted(api_keys.list(merchant_id), key=_created)
    return page_of_read_list(merchant_id, ordered, _created, limit=limit, cursor=cursor,
                             scope=list_scope("api-keys"))


def _created(record: ApiKey | Connection) -> str:
    return f"{record.created_at} {record.id}"


def revoke_api_key(api_keys: ApiKeyRepository, merchant_id: str, key_id: str) -> None:
    api_keys.revoke(merchant_id, key_id)


def _connection_out(connection: Connection, base_url: str) -> ConnectionOut:
    return ConnectionOut(id=connection.id, carrier=connection.carrier, url=webhook_url(base_url, connection),
                         created_at=connection.created_at)


def create_connection(connections: ConnectionRepository, merchant_id: str, carrier: str, secret: str | None,
                      base_url: str) -> CreatedConnection:
    connection, secret = connections.create(merchant_id, carrier, secret)
    return CreatedConnection(**_connection_out(connection, base_url).model_dump(), secret=secret)


def list_connections(connections: ConnectionRepository, merchant_id: str, base_url: str, limit: int,
                     cursor: str | None) -> tuple[list[ConnectionOut], str | None]:
    """Oldest first; a merchant has few connections, read whole and paged like every list."""
    ordered = sorted(connections.list(merchant_id), key=_created)
    page, next_cursor = page_of_read_list(merchant_id, ordered, _created, limit=limit, cursor=cursor,
                                          scope=list_scope("connections"))
    return [_connection_out(c, base_url) for c in page], next_cursor


def delete_connection(connections: ConnectionRepository, merchant_id: str, connection_id: str) -> None:
    connections.delete(merchant_id, connection_id)
