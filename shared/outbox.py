"""Outbox entries: domain events written on an item (`outbox`) in the same write as the change.

`functions/outbox` (the table stream's dispatcher) publishes a new entry to the event bus once the
write has landed, so no event exists without its write and a crash only delays it. Any domain
(shipments, exports, ...) uses this; `shared.shipments` re-exports it for older imports.
"""

from __future__ import annotations

import uuid
from typing import Any


def outbox_entry(detail_type: str, details: list[dict[str, Any]]) -> dict[str, Any]:
    """Events published from the table's stream once this write lands (see functions/outbox)."""
    return {"id": uuid.uuid4().hex, "detail_type": detail_type, "events": details}
