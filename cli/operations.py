"""Operator actions shared by the `colis` CLI and the local stack's seeding."""

from __future__ import annotations

from typing import Any

from shared.api_keys import ApiKeyRepository
from shared.connections import ConnectionRepository, webhook_url
from shared.merchants import MerchantRepository


def create_merchant(name: str) -> dict[str, Any]:
    merchant = MerchantRepository().create(name)
    return {"merchant_id": merchant.id, "name": merchant.name, "created_at": merchant.created_at}


def create_api_key(merchant_id: str) -> dict[str, Any]:
    MerchantRepository().get(merchant_id)
    created = ApiKeyRepository().create(merchant_id)
    return {"id": created.id, "key": created.key, "merchant_id": merchant_id}


def create_connection(merchant_id: str, carrier: str, api_url: str, secret: str | None = None) -> dict[str, Any]:
    MerchantRepository().get(merchant_id)
    connection, secret = ConnectionRepository().create(merchant_id, carrier, secret)
    return {"id": connection.id, "carrier": connection.carrier, "url": webhook_url(api_url, connection),
            "secret": secret, "merchant_id": merchant_id}
