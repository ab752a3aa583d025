"""What the public page says for a tracking event (DESIGN.md §1.2): a fixed text of the carrier's
status vocabulary for its code, in the page's language, else the canonical status in that language.
Never the carrier's own message: carriers write names, streets and phone numbers into it.

The texts are data (`carrier_descriptions.json`); the rules of which part of a stored code counts
are here, per vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from functions.notify.texts import Messages
from shared.shipments.statuses import TrackingStatus

DESCRIPTIONS_PATH = Path(__file__).resolve().parent / "carrier_descriptions.json"
# colis events carry a canonical status or another vocabulary's code, recognised in this order
# (as functions/webhook/status_maps.json's `colis.carrier_codes_from`).
COLIS_BORROWS_FROM = ("aftership", "easypost", "shippo", "sendcloud")

Descriptions = Mapping[str, Mapping[str, Mapping[str, str]]]


@cache
def descriptions() -> Descriptions:
    raw = json.loads(DESCRIPTIONS_PATH.read_text(encoding="utf-8"))
    return {vocabulary: codes for vocabulary, codes in raw.items() if not vocabulary.startswith("_")}


def candidate_codes(code: str) -> list[str]:
    """The stored code, then its detail, then its head: `in_transit/arrived_at_facility`,
    `arrived_at_facility`, `in_transit` (EasyPost and Shippo store `status/detail`)."""
    head, _, detail = code.partition("/")
    return list(dict.fromkeys(candidate for candidate in (code, detail, head) if candidate))


def vocabulary_text(source: str | None, code: str | None, language: str) -> str | None:
    if not source or not code:
        return None
    table = descriptions()
    vocabularies = COLIS_BORROWS_FROM if source == "colis" else (source,)
    for vocabulary in vocabularies:
        codes = table.get(vocabulary, {})
        for candidate in candidate_codes(code):
            if candidate in codes:
                return codes[candidate].get(language)  # a missing language reads as the status
    return None


def describe_event(source: str | None, code: str | None, status: TrackingStatus, messages: Messages) -> str:
    return vocabulary_text(source, code, messages.language) or messages.status(status)
