"""Relinks the orders of an absorbed customer to its master, from the `CustomerMerged` event
(EventBridge rule on the bus; published by the outbox with the merge's write).

The merge request relinks what it can inline; this worker walks the absorbed record's orders
(the orders' customer index) to the end, in batches. Relinking is idempotent, so a retried or
duplicated event is harmless; when the time budget runs out, the invocation fails and Lambda's
retry continues with what is left.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.customers import service
from shared.customers.store import CustomerRepository
from shared.events.catalogue import CustomerMerged, parse_as
from shared.platform.observability import entrypoint

SAFETY_SECONDS = 30


class RelinkUnfinished(Exception):
    """Raised so that Lambda retries the event; the retry continues the relinking."""


def _orders() -> Any:
    from shared.orders.store import OrderRepository

    return OrderRepository()


def relink(event: dict[str, Any], remaining_seconds: float, orders: Any = None,
           customers: CustomerRepository | None = None) -> None:
    merged = parse_as(CustomerMerged, event)
    # At least one batch is always relinked, so every invocation makes progress.
    deadline = time.monotonic() + remaining_seconds - SAFETY_SECONDS
    done = service.relink_orders(customers or CustomerRepository(), orders or _orders(), merged.merchant_id,
                                 merged.absorbed_id, deadline=deadline)
    if not done:
        raise RelinkUnfinished(f"orders of {merged.absorbed_id} still being relinked")


@entrypoint(correlation_id_path="detail.absorbed_id")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    relink(event, context.get_remaining_time_in_millis() / 1000)
