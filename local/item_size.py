"""An item's 400 KB limit checked once per item, not once per attribute.

moto 5.2.5 builds an item attribute by attribute into a dict whose every assignment sums the size
of the whole item so far: quadratic in the attributes, and with nested maps (addresses, search
terms) it was the largest single cost of a write. Sizes only add up, so the whole item is over the
limit exactly when some prefix of it is: the built item is measured once, with moto's own formula
and limit, and assignments made later (update expressions) still go through moto's check.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

ITEM_SIZE_LIMIT = 405000  # moto's: between AWS's documented 400 KB and the 409-410 KB measured


def _measured_once(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    self.hash_key = hash_key
    self.range_key = range_key
    values = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in values.items()) > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict(values)  # its constructor's update() skips the per-key check


_measured_once.measures_once = True  # type: ignore[attr-defined]


def install() -> None:
    if getattr(Item.__init__, "measures_once", False):
        return
    Item.__init__ = _measured_once  # type: ignore[method-assign]
