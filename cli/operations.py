"""Operator actions shared by the `colis` CLI and the local stack's seeding."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.errors import Invalid
from shared.merchants.api_keys import ApiKeyRepository, ApiKeyRequest
from shared.merchants.connections import ConnectionRepository, webhook_url
from shared.merchants.model import FeeSettings
from shared.merchants.store import MerchantRepository
from shared.merchants.usage_plans import enrol_merchant


def create_merchant(name: str, usage_plan_id: str | None = None, tracking_slug: str | None = None) -> dict[str, Any]:
    """Creates the merchant with its tracking slug (given, else made from the name) and, given the
    stack's usage plan, enrols it (without a usage-plan key API Gateway refuses the merchant's
    requests with 403)."""
    merchant = MerchantRepository().create(name, tracking_slug)
    created: dict[str, Any] = {"merchant_id": merchant.id, "name": merchant.name, "created_at": merchant.created_at,
                               "tracking_slug": merchant.settings.tracking_slug}
    if usage_plan_id:
        created["usage_plan"] = enrol(merchant.id, usage_plan_id)
    return created


def enrol(merchant_id: str, usage_plan_id: str) -> dict[str, Any]:
    MerchantRepository().get(merchant_id)
    key_id = enrol_merchant(merchant_id, usage_plan_id)
    return {"usage_plan_id": usage_plan_id, "usage_key_id": key_id, "merchant_id": merchant_id}


def create_api_key(merchant_id: str, name: str | None = None, scope: str = "write") -> dict[str, Any]:
    """The same rules as `POST /v1/api-keys` (a name of 1-100 characters, scope read or write)."""
    request = _api_key_request(name, scope)
    MerchantRepository().get(merchant_id)
    created = ApiKeyRepository().create(merchant_id, request)
    return {"id": created.id, "key": created.key, "name": created.name, "scope": created.scope,
            "merchant_id": merchant_id}


def _api_key_request(name: str | None, scope: str) -> ApiKeyRequest:
    try:
        return ApiKeyRequest.model_validate({"name": name, "scope": scope})
    except ValidationError as error:
        problem = error.errors()[0]
        raise Invalid(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}") from error


def list_merchants() -> list[dict[str, Any]]:
    return [{"merchant_id": merchant.id, "name": merchant.name, "created_at": merchant.created_at,
             "tracking_slug": merchant.settings.tracking_slug} for merchant in MerchantRepository().list_all()]


def assign_tracking_slugs() -> list[dict[str, Any]]:
    """Every merchant without a tracking slug (created before slugs existed, so without a public
    page) gets a default one; merchants that have one are left as they are. Safe to run again."""
    merchants = MerchantRepository()
    assigned = ((merchant, merchants.assign_default_slug(merchant)) for merchant in merchants.list_all())
    return [{"merchant_id": merchant.id, "tracking_slug": slug} for merchant, slug in assigned if slug]


def index_search(merchant_id: str | None = None) -> list[dict[str, Any]]:
    """Writes the search entries of every customer and order (of one merchant, or of all) and folds
    the shipments' searchable recipient names: what records written before search existed lack.
    Reads through the lists' indexes, never a scan; idempotent (puts of the same entries), so it
    can run again, and while the API serves."""
    from shared.customers.store import CustomerRepository
    from shared.orders.store import OrderRepository
    from shared.shipments.store import ShipmentRepository

    merchants = MerchantRepository()
    chosen = [merchants.get(merchant_id)] if merchant_id else merchants.list_all()
    customers, orders, shipments = CustomerRepository(), OrderRepository(), ShipmentRepository()
    return [{"merchant_id": merchant.id,
             "customer_entries": customers.index_search(merchant.id, customers.iterate(merchant.id)),
             "order_entries": orders.index_search(merchant.id, orders.iterate(merchant.id)),
             "shipment_names_folded": shipments.refresh_name_search(
                 merchant.id, datetime.fromisoformat(merchant.created_at.replace("Z", "+00:00")))}
            for merchant in chosen]


def list_api_keys(merchant_id: str) -> list[dict[str, Any]]:
    MerchantRepository().get(merchant_id)
    keys = sorted(ApiKeyRepository().list(merchant_id), key=lambda key: key.created_at)
    return [key.model_dump(mode="json") for key in keys]


def revoke_api_key(merchant_id: str, key_id: str) -> dict[str, Any]:
    MerchantRepository().get(merchant_id)
    ApiKeyRepository().revoke(merchant_id, key_id)
    return {"merchant_id": merchant_id, "id": key_id, "revoked": True}


def create_connection(merchant_id: str, carrier: str, api_url: str, secret: str | None = None) -> dict[str, Any]:
    MerchantRepository().get(merchant_id)
    connection, secret = ConnectionRepository().create(merchant_id, carrier, secret)
    return {"id": connection.id, "carrier": connection.carrier, "url": webhook_url(api_url, connection),
            "secret": secret, "merchant_id": merchant_id}


def set_fees(merchant_id: str, *, rate_percent: str, fixed: str, card_percent: str) -> dict[str, Any]:
    """The operator's fee terms for one merchant, validated as the settings validate them (an
    invalid term is `Invalid`, naming it). Orders imported afterwards copy them; imported orders
    keep the terms they were imported with."""
    MerchantRepository().get(merchant_id)
    terms = parse_fee_terms(rate_percent=rate_percent, fixed=fixed, card_percent=card_percent)
    stored = MerchantRepository().set_fees(merchant_id, terms)
    return {"merchant_id": merchant_id, "fees": stored.model_dump(mode="json")}


def parse_fee_terms(**terms: str) -> FeeSettings:
    try:
        return FeeSettings.model_validate(terms)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in error.errors(include_url=False, include_input=False))
        raise Invalid(f"Invalid fee terms: {problems}") from None
