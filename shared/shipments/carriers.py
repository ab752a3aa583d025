"""The carriers whose tracking webhooks Colis reads: the one registry of their names.

Everything else about a carrier lives in its own module, `functions/webhook/carriers/<name>.py`,
found by its name: how its payload is read (`parse`), how its deliveries are signed (`verify`),
and how its codes map to canonical statuses (`status`, from its section of
`functions/webhook/status_maps.json`). The connections API, the CLI, the local stack's seed and
the tests take the list from here.

To add a carrier `acme`:
1. write `functions/webhook/carriers/acme.py` with `parse(body) -> ParsedDelivery`,
   `verify(request: SignedRequest) -> bool` and `status(code, detail, message) -> TrackingStatus | None`
   (the other carriers' modules show the shape; helpers in `payload.py`, `status_mapping.py`,
   `functions/webhook/signatures.py`);
2. add its status table, an `"acme"` section of `functions/webhook/status_maps.json`;
3. add `"acme"` to `CARRIERS` below (the API's carrier enum follows: regenerate openapi.json);
4. add its tests: a payload builder in tests/carrier_payloads.py, its signing in
   tests/carrier_signing.py, its published examples under tests/fixtures/carriers/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

CARRIERS: tuple[str, ...] = ("sendcloud", "easypost", "aftership", "shippo", "colis")

if TYPE_CHECKING:
    Carrier = str
else:
    # The registry as a type: request models validate it and the OpenAPI document lists it.
    Carrier = Literal[CARRIERS]
