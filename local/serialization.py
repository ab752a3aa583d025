"""DynamoDB attribute values written into the engine's JSON answers directly.

moto 5.2.5 writes every answer through a generic serializer that walks the service model: for
each attribute value of each item it asks for each of the ten members of `AttributeValue` (S, N,
B, SS, ...) in turn. That was most of the engine's time: a Query page of 20 shipments, and above
all the stream reader's GetRecords (1,000 records with their old and new images).

Here an `AttributeValue` made only of strings, numbers, their sets, maps and lists is written as
the generic serializer writes it (each string as `str`, each set as a list, maps and lists
recursively); any other value (binary, boolean, null, an unexpected shape) goes the generic way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.serialize import BaseJSONSerializer

_SCALARS = ("S", "N")
_SETS = ("SS", "NS")
_ATTRIBUTE_VALUE = "AttributeValue"


class _NotPlain(Exception):
    """A value the generic serializer must write (binary, boolean, null, unknown members)."""


def plain_attribute_value(value: Any) -> dict[str, Any]:
    """The JSON form of one attribute value, or `_NotPlain`."""
    if type(value) is not dict or len(value) != 1:
        raise _NotPlain
    (kind, inner), = value.items()
    if inner is None:
        raise _NotPlain
    if kind in _SCALARS:
        return {kind: _string(inner)}
    if kind in _SETS:
        return {kind: [_string(member) for member in inner]}
    if kind == "M" and type(inner) is dict:
        return {kind: {name: plain_attribute_value(member) for name, member in inner.items()}}
    if kind == "L" and type(inner) is list:
        return {kind: [plain_attribute_value(member) for member in inner]}
    raise _NotPlain


def _string(value: Any) -> str:
    if type(value) is not str:
        raise _NotPlain  # the generic serializer's own rules apply (enums, empty containers)
    return value


def _direct(serialize_structure: Callable[..., None]) -> Callable[..., None]:
    def serialize(self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.name == _ATTRIBUTE_VALUE:
            try:
                written = plain_attribute_value(value)
            except _NotPlain:
                pass
            else:
                if key:
                    self._default_serialize(serialized, written, shape, key)
                else:
                    serialized.update(written)
                return
        serialize_structure(self, serialized, value, shape, key)

    serialize.writes_attribute_values_directly = True  # type: ignore[attr-defined]
    return serialize


def install() -> None:
    if getattr(BaseJSONSerializer._serialize_type_structure, "writes_attribute_values_directly", False):
        return
    BaseJSONSerializer._serialize_type_structure = _direct(  # type: ignore[method-assign]
        BaseJSONSerializer._serialize_type_structure)
