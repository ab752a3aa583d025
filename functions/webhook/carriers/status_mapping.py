"""Carrier status codes to canonical statuses, from the tables in `status_maps.json`.

The rules of each carrier (which of code, detail and message decides) are written beside the
tables in the JSON file, under `_rule`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from shared.shipments.statuses import TrackingStatus

STATUS_MAPS_PATH = Path(__file__).resolve().parent.parent / "status_maps.json"

Table = Mapping[str, TrackingStatus]


@dataclass(frozen=True)
class StatusMaps:
    aftership_tags: Table
    aftership_subtags: Table
    easypost_status: Table
    easypost_detail: Table
    easypost_broad: frozenset[TrackingStatus]
    shippo_status: Table
    shippo_substatus: Table
    sendcloud_ids: Table
    sendcloud_messages: Table
    colis_canonical: Table
    colis_aliases: Table
    colis_carrier_codes_from: tuple[str, ...]


def _table(entries: Mapping[str, str], key: Callable[[str], str] = str) -> Table:
    return {key(code): TrackingStatus(status) for code, status in entries.items()}


def normalise_message(message: str) -> str:
    return " ".join(message.split()).casefold()


@cache
def status_maps() -> StatusMaps:
    """The tables, read once per process (cold start) and validated on the way in."""
    raw: dict[str, Any] = json.loads(STATUS_MAPS_PATH.read_text(encoding="utf-8"))
    aftership, easypost, shippo = raw["aftership"], raw["easypost"], raw["shippo"]
    sendcloud, colis = raw["sendcloud"], raw["colis"]
    return StatusMaps(
        aftership_tags=_table(aftership["tags"]),
        aftership_subtags=_table(aftership["subtags"]),
        easypost_status=_table(easypost["status"]),
        easypost_detail=_table(easypost["status_detail"]),
        easypost_broad=frozenset(TrackingStatus(s) for s in easypost["broad_statuses"]),
        shippo_status=_table(shippo["status"]),
        shippo_substatus=_table(shippo["substatus"]),
        sendcloud_ids=_table(sendcloud["ids"]),
        sendcloud_messages=_table(sendcloud["messages"], key=normalise_message),
        colis_canonical={name: TrackingStatus(name) for name in colis["canonical"]},
        colis_aliases=_table(colis["aliases"]),
        colis_carrier_codes_from=tuple(colis["carrier_codes_from"]),
    )


def combined_code(code: str | None, detail: str | None) -> str | None:
    """The raw code as stored on an update: `status/detail`, or whichever part exists."""
    if code and detail:
        return f"{code}/{detail}"
    return code or detail or None


# Each returns None when the carrier's tables do not list the code.


def _aftership(tag: str | None, subtag: str | None, _message: str | None) -> TrackingStatus | None:
    maps = status_maps()
    return maps.aftership_subtags.get(subtag or "") or maps.aftership_tags.get(tag or "")


def _easypost(status: str | None, detail: str | None, _message: str | None) -> TrackingStatus | None:
    maps = status_maps()
    base = maps.easypost_status.get(status or "")
    refined = maps.easypost_detail.get(detail or "")
    if refined is None:
        return base
    if base is None or base is TrackingStatus.unknown:
        return refined
    if base in maps.easypost_broad and refined not in maps.easypost_broad:
        return refined
    return base


def _shippo(status: str | None, substatus: str | None, _message: str | None) -> TrackingStatus | None:
    maps = status_maps()
    by_pair = maps.shippo_substatus.get(f"{status}/{substatus}") if status and substatus else None
    return by_pair or maps.shippo_status.get(status or "")


def _sendcloud(status_id: str | None, _detail: str | None, message: str | None) -> TrackingStatus | None:
    maps = status_maps()
    by_message = maps.sendcloud_messages.get(normalise_message(message or ""))
    return by_message or maps.sendcloud_ids.get(status_id or "")


def _split(code: str) -> tuple[str, str | None]:
    head, _, tail = code.partition("/")
    return head, tail or None


def _aftership_code(code: str) -> TrackingStatus | None:
    return _aftership(code, code, None)


def _easypost_code(code: str) -> TrackingStatus | None:
    head, tail = _split(code)
    if head in status_maps().easypost_status:
        return _easypost(head, tail, None)
    return _easypost(None, code, None)


def _shippo_code(code: str) -> TrackingStatus | None:
    head, tail = _split(code)
    return _shippo(head, tail, None)


def _sendcloud_code(code: str) -> TrackingStatus | None:
    return status_maps().sendcloud_ids.get(code)


# How a colis event's status is recognised as another carrier's code (the `carrier_code` our
# parsers store), tried in the order the JSON gives.
CARRIER_CODE_RECOGNISERS: dict[str, Callable[[str], TrackingStatus | None]] = {
    "aftership": _aftership_code,
    "easypost": _easypost_code,
    "shippo": _shippo_code,
    "sendcloud": _sendcloud_code,
}


def _any_carrier_code(code: str) -> TrackingStatus | None:
    for carrier in status_maps().colis_carrier_codes_from:
        status = CARRIER_CODE_RECOGNISERS[carrier](code)
        if status is not None:
            return status
    return None


def _colis(code: str | None, _detail: str | None, _message: str | None) -> TrackingStatus | None:
    if not code:
        return None
    maps = status_maps()
    return maps.colis_canonical.get(code) or maps.colis_aliases.get(code) or _any_carrier_code(code)


MAPPERS: dict[str, Callable[[str | None, str | None, str | None], TrackingStatus | None]] = {
    "aftership": _aftership,
    "easypost": _easypost,
    "shippo": _shippo,
    "sendcloud": _sendcloud,
    "colis": _colis,
}


def map_status(carrier: str, code: str | None, detail: str | None = None, message: str | None = None) -> TrackingStatus:
    """Canonical status of a carrier's code (AfterShip tag, EasyPost status, Shippo status,
    Sendcloud id, colis status), refined by `detail` (subtag, status_detail, substatus code) or
    `message` (Sendcloud) per the carrier's rule. Codes not listed give `unknown`."""
    mapper = MAPPERS.get(carrier)
    if mapper is None:
        raise ValueError(f"no status map for carrier {carrier!r}")
    return mapper(code, detail, message) or TrackingStatus.unknown
