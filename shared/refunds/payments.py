"""Money moves through a `PaymentProvider` (DESIGN.md §1.3).

Every call carries the refund id as its idempotency key: the refund id is derived from the
merchant's `Idempotency-Key`, so a retried request reaches the provider with the same key and the
customer is refunded once. `payment_provider()` picks the implementation from configuration
(`PAYMENT_PROVIDER`, read at call time): `embedded` (default) settles in the table; `stripe`
calls Stripe's refunds API with the secret key held in Secrets Manager
(`PAYMENT_PROVIDER_SECRET_ARN`).
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from shared.dynamo import keys, writes
from shared.errors import Refused
from shared.platform import aws, clock
from shared.platform.settings import settings
from shared.values.money import minor_units


@dataclass(frozen=True)
class ProviderRefund:
    refund_id: str  # the idempotency key the provider deduplicates on
    merchant_id: str
    order_id: str
    amount: Decimal  # in the checkout currency
    currency: str
    payment_reference: str | None


@dataclass(frozen=True)
class ProviderReceipt:
    provider: str
    reference: str
    settled_at: datetime


class PaymentFailed(Exception):
    """The provider did not refund. Nothing moved; the same refund id may be retried."""


class PaymentOutcomeUnknown(Exception):
    """The request may have reached the provider and its answer was lost (a timeout, a 5xx): the
    money may have moved. Never taken for a failure, which would free the amount for another
    refund; the refund stays reserved and is finished by sending the same refund id again."""


class PaymentProvider(Protocol):
    name: str

    def refund(self, request: ProviderRefund) -> ProviderReceipt: ...


class EmbeddedPaymentProvider:
    """Settles in the table: one settlement item per refund id, written once."""

    name = "embedded"

    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else aws.table()

    def refund(self, request: ProviderRefund) -> ProviderReceipt:
        settled_at = clock.now()
        item = {**keys.order_settlement(request.merchant_id, request.order_id, request.refund_id),
                "refund_id": request.refund_id, "amount": request.amount, "currency": request.currency,
                "settled_at": clock.isoformat(settled_at)}
        try:
            writes.put(self._table, item, condition=writes.ITEM_IS_NEW, rule="settled")
        except Refused:
            return self._already_settled(request)
        except ClientError as error:
            if int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500:
                raise PaymentOutcomeUnknown("the settlement may have been recorded") from error
            raise PaymentFailed("the settlement could not be recorded") from error
        except (EndpointConnectionError, ConnectTimeoutError) as error:
            raise PaymentFailed("the settlement could not be recorded") from error
        except BotoCoreError as error:  # read timeouts, dropped connections: the write may have landed
            raise PaymentOutcomeUnknown("the settlement may have been recorded") from error
        return ProviderReceipt(self.name, request.refund_id, settled_at)

    def _already_settled(self, request: ProviderRefund) -> ProviderReceipt:
        key = keys.order_settlement(request.merchant_id, request.order_id, request.refund_id)
        existing = self._table.get_item(Key=key, ConsistentRead=True)["Item"]
        if Decimal(str(existing["amount"])) != request.amount or existing["currency"] != request.currency:
            raise PaymentFailed("this refund id was already settled with another amount")
        return ProviderReceipt(self.name, request.refund_id, datetime.fromisoformat(
            str(existing["settled_at"]).replace("Z", "+00:00")))


Opener = Callable[..., Any]


class StripePaymentProvider:
    """Stripe refunds (`POST /v1/refunds`), the order's `payment_reference` being the
    PaymentIntent. Stripe keeps idempotency keys 24 h, like Colis."""

    name = "stripe"
    TIMEOUT_SECONDS = 8  # below the refund's lease: a slow call is never taken over while alive

    def __init__(self, secret_key: str, *, base_url: str = "https://api.stripe.com",
                 opener: Opener = urllib.request.urlopen) -> None:
        self._secret_key = secret_key
        self._base_url = base_url.rstrip("/")
        self._open = opener

    def refund(self, request: ProviderRefund) -> ProviderReceipt:
        if not request.payment_reference:
            raise PaymentFailed("the order has no payment_reference to refund")
        form = urllib.parse.urlencode({
            "payment_intent": request.payment_reference,
            "amount": str(stripe_amount(request.amount, request.currency)),
            "metadata[refund_id]": request.refund_id, "metadata[order_id]": request.order_id,
        }).encode("ascii")
        http_request = urllib.request.Request(  # noqa: S310 - fixed https base URL
            f"{self._base_url}/v1/refunds", data=form, method="POST",
            headers={"Authorization": f"Bearer {self._secret_key}", "Idempotency-Key": request.refund_id,
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with self._open(http_request, timeout=self.TIMEOUT_SECONDS) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code >= 500:  # Stripe may have refunded; its idempotency key makes a retry safe
                raise PaymentOutcomeUnknown(f"Stripe answered {error.code}") from error
            raise PaymentFailed(f"Stripe answered {error.code}") from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, ConnectionRefusedError | socket.gaierror):
                raise PaymentFailed("Stripe could not be reached") from error
            raise PaymentOutcomeUnknown("Stripe's answer was lost") from error
        except (TimeoutError, ValueError) as error:  # sent, then no (readable) answer
            raise PaymentOutcomeUnknown("Stripe's answer was lost") from error
        if body.get("status") not in ("succeeded", "pending"):
            raise PaymentFailed(f"Stripe refund status {body.get('status')!r}")
        return ProviderReceipt(self.name, str(body["id"]), clock.now())


def stripe_amount(amount: Decimal, currency: str) -> int:
    """Stripe counts in the currency's minor unit (ISO 4217 exponent)."""
    return int((amount * (Decimal(10) ** minor_units(currency))).to_integral_value())


@cache
def _stripe_secret(secret_arn: str) -> str:
    return str(aws.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])


def payment_provider(table: Any | None = None) -> PaymentProvider:
    """The configured provider: `PAYMENT_PROVIDER` = `embedded` (default) or `stripe`."""
    choice = settings().payment_provider
    if choice == "embedded":
        return EmbeddedPaymentProvider(table)
    if choice == "stripe":
        return StripePaymentProvider(_stripe_secret(settings().payment_provider_secret_arn))
    raise RuntimeError(f"PAYMENT_PROVIDER {choice!r} is not one of: embedded, stripe")
