"""EventBridge consumer of `ShipmentCreated`: attaches the orphan updates the creating request left
(it attaches at most `INLINE_ATTACH_LIMIT` itself), and any that landed while it ran.

Idempotent: an orphan already attached is gone, an update already applied is a duplicate, so a
repeated or concurrent event changes nothing twice. A failure raises: Lambda retries the
asynchronous invocation, then hands the event to the dead-letter queue (ids only).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.errors import NotFound
from shared.platform.observability import entrypoint, logger
from shared.shipments.creation import attach_orphan_updates
from shared.shipments.store import ShipmentRepository


def attach_left_orphans(shipments: ShipmentRepository, merchant_id: str, shipment_id: str) -> int:
    try:
        shipment = shipments.get(merchant_id, shipment_id, consistent=True)
    except NotFound:
        return 0  # deleted since: its numbers' orphans expire with their TTL
    return attach_orphan_updates(shipments, merchant_id, shipment, limit=None)


@entrypoint(correlation_id_path="id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    detail = event.get("detail") or {}
    attached = attach_left_orphans(ShipmentRepository(), str(detail["merchant_id"]), str(detail["shipment_id"]))
    logger.info("orphans attached", extra={"shipment_id": detail["shipment_id"], "attached": attached})
