"""What a carrier parser returns, and how it says a payload is malformed."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from shared.errors import Malformed
from shared.shipments.statuses import CanonicalUpdate


class InvalidPayload(Malformed):
    """The body is JSON but not a payload we can read (400): `detail` says what is wrong."""


class EventFailure(NamedTuple):
    """A colis batch event that could not be read; answered as `{"index", "detail"}`."""

    index: int
    detail: str


class ParsedDelivery(BaseModel):
    """One webhook delivery, read: the updates to apply, and colis batch events that failed."""

    model_config = ConfigDict(frozen=True)

    updates: list[CanonicalUpdate] = []
    ignored: bool = False
    failures: list[EventFailure] = []
    batch: bool = False  # a batch answers which of its events failed

    @classmethod
    def ignore(cls) -> ParsedDelivery:
        """An event type that is not a tracking update: answered 200, nothing applied."""
        return cls(ignored=True)
