"""Carrier webhook ingestion: the checks in DESIGN.md §1.1's order, then each canonical update
applied to its parcel idempotently and out-of-order safe."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from functions.webhook.carriers import (
    MODULES,
    EventFailure,
    InvalidPayload,
    decode_body,
    parse_delivery,
    verify_signature,
)
from shared.dynamo.transactions import refused_by
from shared.errors import MAX_BODY_BYTES, NotAuthenticated, NotFound, Refused, TooLarge
from shared.merchants.connections import CONNECTION_GONE, CachedConnections
from shared.platform import clock
from shared.platform.observability import count, logger
from shared.shipments.store import ShipmentRepository
from shared.shipments.tracking import Outcome, WarmState, apply_canonical_update

WRITTEN = frozenset({"applied", "unchanged", "orphaned"})  # outcomes whose write held the connection


@dataclass
class DeliveryResult:
    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[EventFailure] = field(default_factory=list)
    ignored: bool = False
    batch: bool = False

    def body(self) -> dict[str, object]:
        accepted = len(self.outcomes)
        body: dict[str, object] = {"accepted": accepted,
                                   "duplicates": self.outcomes.count("duplicate"),
                                   "orphaned": self.outcomes.count("orphaned")}
        if self.batch:
            body["failed"] = [{"index": f.index, "detail": f.detail} for f in self.failures]
        if self.ignored:
            body["ignored"] = True
        return body


def ingest_delivery(connections: CachedConnections, shipments: ShipmentRepository, warm: WarmState, carrier: str,
                    connection_id: str, raw_body: bytes, headers: Mapping[str, str],
                    query: Mapping[str, str]) -> DeliveryResult:
    if carrier not in MODULES:
        raise NotFound(f"Unknown carrier {carrier!r}.")
    connection, secret = connections.lookup(connection_id)
    if connection is None or connection.carrier != carrier or secret is None:
        raise NotFound("No such webhook connection for this carrier.")
    if len(raw_body) > MAX_BODY_BYTES:
        raise TooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        verified = verify_signature(carrier, secret, raw_body, headers, query, clock.now())
    except NotAuthenticated:
        count("WebhookSignatureRejected")
        raise
    if not verified:
        count("WebhookSignatureRejected")
        raise NotAuthenticated("The signature is missing or does not match.")
    payload = decode_body(raw_body)
    parsed = parse_delivery(carrier, payload)
    result = DeliveryResult(failures=list(parsed.failures), ignored=parsed.ignored, batch=parsed.batch)
    requirement = connections.requirement(connection.id)
    try:
        for update in parsed.updates:
            result.outcomes.append(apply_canonical_update(shipments, connection.merchant_id, update, warm,
                                                          connection_id=connection.id, requirement=requirement))
    except Refused as refused:
        if not refused_by(refused, CONNECTION_GONE):
            raise
        connections.forget(connection.id)
        raise NotFound("No such webhook connection for this carrier.") from None
    if not any(outcome in WRITTEN for outcome in result.outcomes) and not connections.confirm(connection.id):
        # Nothing written, so no write checked the connection: a repeat from a deleted one is 404 too.
        raise NotFound("No such webhook connection for this carrier.")
    if result.batch and not result.outcomes and result.failures:
        raise InvalidPayload("No event of the batch could be applied.",
                             errors=[{"index": f.index, "detail": f.detail} for f in result.failures])
    logger.info("delivery ingested", extra={"carrier": carrier, "connection_id": connection_id,
                                            "outcomes": result.outcomes, "failed": len(result.failures)})
    return result
