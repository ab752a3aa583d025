"""Merchants' webhook endpoints (DESIGN.md §1.7, API.md "Webhook endpoints"): what an endpoint
subscribes to, where it points, the secrets that sign what it receives, and the rules on each.
`shared.webhooks.store` keeps them in the table."""

from __future__ import annotations

import base64
import ipaddress
import secrets
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.platform import clock
from shared.platform.ids import new_id

# The events a merchant may subscribe to (API.md): `*` stands for all of them.
EVENT_TYPES: tuple[str, ...] = (
    "shipment.created", "shipment.status_changed", "shipment.delivered", "shipment.exception",
    "order.created", "order.shipped", "order.cancelled", "refund.succeeded", "export.ready", "export.failed",
    "customer_import.done", "customer.merged", "customer.erased",
)
ALL_EVENTS = "*"
PING = "ping"  # sent by `POST /v1/webhook-endpoints/{id}/test` only, whatever the subscription

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret (Standard Webhooks), not one
SECRET_BYTES = 24  # Standard Webhooks: between 24 and 64 bytes of randomness
# A rotated secret keeps signing beside the new one this long, so receivers switch without loss.
ROTATION_OVERLAP = timedelta(hours=24)
MAX_URL_LENGTH = 2048
MAX_ENDPOINTS = 16  # per merchant: bounds the fan-out of one event


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for (Standard Webhooks: base64 after the prefix)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


# --- values checked on the way in ------------------------------------------------------------------
def _subscribed_events(events: list[str]) -> list[str]:
    unknown = [name for name in events if name != ALL_EVENTS and name not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type(s) {', '.join(sorted(set(unknown)))[:300]}; "
                         f"use {', '.join(EVENT_TYPES)} or {ALL_EVENTS}")
    return [ALL_EVENTS] if ALL_EVENTS in events else sorted(set(events))


def refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, loopback_allowed: bool) -> str | None:
    """Why an endpoint may not be reached at `address` (None: it may). Checked on the URL's host
    when it is a literal and, at every delivery attempt, on every address its name resolves to."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refused_address(address.ipv4_mapped, loopback_allowed=loopback_allowed)
    if address.is_loopback:
        return None if loopback_allowed else "a loopback address"
    if address.is_link_local:
        return "a link-local address"  # 169.254.169.254 (instance metadata) included
    if address.is_private:
        return "a private address"  # 10/8, 172.16/12, 192.168/16, fc00::/7 (unique local), ...
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "a reserved address"
    return None


def url_problem(url: str, *, loopback_http_allowed: bool) -> str | None:
    """Why `url` cannot be an endpoint (None: it can). Only https; plain http to a loopback host
    where the local stack allows it (`OUTBOUND_ALLOW_LOOPBACK`)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "not a valid URL"
    if not host:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "the URL may not carry credentials"
    if parts.fragment:
        return "the URL may not carry a fragment"
    del port  # read for its validation only (a port over 65535 raises)
    literal = _literal_address(host)
    loopback = host == "localhost" or (literal is not None and literal.is_loopback)
    if parts.scheme == "http" and loopback and loopback_http_allowed:
        return None
    if parts.scheme != "https":
        return "only https URLs are accepted"
    if host == "localhost" and not loopback_http_allowed:
        return "the URL points to a loopback address"
    if literal is not None:
        why = refused_address(literal, loopback_allowed=loopback_http_allowed)
        if why:
            return f"the URL points to {why}"
    return None


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


EventList = Annotated[list[Annotated[str, Field(max_length=64)]], Field(min_length=1, max_length=32),
                      AfterValidator(_subscribed_events)]
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
Description = Annotated[str, Field(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]


class EndpointRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url = Field(description="https URL the events are POSTed to")
    events: EventList = Field(description="event types to receive, or [\"*\"] for all")
    description: Description | None = None


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url | None = None
    events: EventList | None = None
    enabled: bool | None = Field(default=None, description="false pauses deliveries; true re-enables "
                                 "(also an endpoint disabled after 5 days of failures)")


# --- the endpoint -------------------------------------------------------------------------------
class SigningSecret(BaseModel):
    secret: str
    expires_at: datetime | None = None  # set when rotated away: it keeps signing until then


class WebhookEndpoint(BaseModel):
    """An endpoint as the API shows it (never its secrets)."""

    model_config = ConfigDict(extra="ignore")
    id: str
    url: str
    events: list[str]
    description: str | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    # The first failure of the current unbroken run of failures (None while deliveries succeed).
    failing_since: datetime | None = None

    def receives(self, event_type: str) -> bool:
        return event_type == PING or ALL_EVENTS in self.events or event_type in self.events


class StoredEndpoint(WebhookEndpoint):
    """The endpoint with its signing secrets, newest first (kept in the table only)."""

    secrets: list[SigningSecret]
    version: int = 1

    def signing_secrets(self, at: datetime) -> list[str]:
        return [s.secret for s in self.secrets if s.expires_at is None or s.expires_at > at]

    def public(self) -> WebhookEndpoint:
        return WebhookEndpoint.model_validate(self.model_dump(exclude={"secrets", "version"}))


class CreatedEndpoint(WebhookEndpoint):
    secret: str = Field(description="the signing secret (whsec_...), shown once")


def new_endpoint(request: EndpointRequest) -> tuple[StoredEndpoint, str]:
    secret = new_secret()
    endpoint = StoredEndpoint(id=new_id("whe"), url=request.url, events=request.events,
                              description=request.description, created_at=clock.now(),
                              secrets=[SigningSecret(secret=secret)])
    return endpoint, secret


def rotated(endpoint: StoredEndpoint, at: datetime) -> tuple[StoredEndpoint, str]:
    """A new secret first; the current one keeps signing for `ROTATION_OVERLAP`; older ones go."""
    secret = new_secret()
    kept = [SigningSecret(secret=s.secret, expires_at=s.expires_at or at + ROTATION_OVERLAP)
            for s in endpoint.secrets if s.expires_at is None or s.expires_at > at]
    return endpoint.model_copy(update={"secrets": [SigningSecret(secret=secret), *kept], "updated_at": at}), secret
