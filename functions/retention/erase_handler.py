"""`POST /v1/customers/{customer_id}/erase` (API.md, Customers): erasure on request.

Its own function beside the customers API: it reaches orders, shipments and notification records
as retention does, with the retention function's rules (functions/retention/erasure.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.retention import erasure
from functions.retention.actions import Repositories
from shared.customers.model import Customer
from shared.customers.store import CustomerRepository
from shared.http.api import api_resolver, merchant_id
from shared.platform import clock
from shared.platform.observability import entrypoint

app = api_resolver()


def _seconds_left() -> float:
    return app.lambda_context.get_remaining_time_in_millis() / 1000


@app.post("/v1/customers/<customer_id>/erase", tags=["Customers"], summary="Erase a customer's personal data",
          description=("Redacts the customer now, with the records merged into it, their orders and "
                       "the shipments of those orders; answers the record with `erased_at` set. "
                       "Sending it again changes nothing more."))
def erase_customer(customer_id: str) -> Customer:
    """Redacts the customer now, with the records merged into it, their orders and the shipments of
    those orders; answers the record, `erased_at` set. Sending it again changes nothing more."""
    return erasure.erase_customer(Repositories.default(), CustomerRepository(), merchant_id(app), customer_id,
                                  clock.now(), _seconds_left)


@entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
