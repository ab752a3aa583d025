"""The public page's texts for carrier codes (`functions/tracking/carrier_descriptions.json`):
fixed texts of each carrier's own vocabulary, in every supported language, and the fallback to the
canonical status. Never the carrier's free text (DESIGN.md §1.2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.notify.texts import SUPPORTED_LANGUAGES, Messages
from functions.tracking.descriptions import candidate_codes, describe_event, descriptions, vocabulary_text
from shared.shipments.statuses import TrackingStatus

VOCABULARIES = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "status_vocabularies.json")
                          .read_text(encoding="utf-8"))


def known_codes(vocabulary: str) -> set[str]:
    """Every code of the carrier's published vocabulary (tests/fixtures is a copy of shared/carriers)."""
    if vocabulary == "aftership":
        block = VOCABULARIES["aftership"]
        return set(block["tags"]) | set(block["subtags"])
    if vocabulary == "easypost":
        block = VOCABULARIES["easypost"]
        return set(block["status"]) | set(block["status_detail"])
    if vocabulary == "shippo":
        block = VOCABULARIES["shippo"]
        return set(block["status"]) | {code.rstrip("*") for codes in block["substatus_by_status"].values()
                                       for code in codes}
    if vocabulary == "sendcloud":
        return set(VOCABULARIES["sendcloud_v2_parcel_status_ids"]["ids"])
    raise AssertionError(f"unknown vocabulary {vocabulary}")


def test_every_vocabulary_is_a_webhook_format() -> None:
    assert set(descriptions()) == {"aftership", "easypost", "shippo", "sendcloud"}


@pytest.mark.parametrize("vocabulary", ["aftership", "easypost", "shippo", "sendcloud"])
def test_every_code_described_is_one_of_the_carriers_own(vocabulary: str) -> None:
    described = set(descriptions()[vocabulary])
    assert described <= known_codes(vocabulary), sorted(described - known_codes(vocabulary))


@pytest.mark.parametrize("vocabulary", ["aftership", "easypost", "shippo", "sendcloud"])
def test_every_text_exists_in_every_language_on_one_line(vocabulary: str) -> None:
    for code, texts in descriptions()[vocabulary].items():
        assert set(texts) == set(SUPPORTED_LANGUAGES), (vocabulary, code)
        for language, text in texts.items():
            assert text.strip() == text and text and text.isprintable(), (vocabulary, code, language)


def test_stored_codes_are_read_whole_then_by_detail_then_by_head() -> None:
    assert candidate_codes("in_transit/arrived_at_facility") == ["in_transit/arrived_at_facility",
                                                                 "arrived_at_facility", "in_transit"]
    assert candidate_codes("Delivered_005") == ["Delivered_005"]
    assert vocabulary_text("easypost", "delivered/arrived_at_destination", "en") == "Arrived in the destination area"
    assert vocabulary_text("shippo", "RETURNED/return_to_sender", "de") == "Auf dem Rückweg zum Absender"


def test_the_colis_format_borrows_the_other_vocabularies_codes() -> None:
    assert vocabulary_text("colis", "Exception_003", "nl") == "Levering geweigerd"
    assert vocabulary_text("colis", "delivered", "nl") is None  # a canonical status: its own text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_a_code_without_a_text_reads_as_its_canonical_status(language: str) -> None:
    messages = Messages(language)
    assert describe_event("aftership", "InTransit_001", TrackingStatus.in_transit, messages) == messages.status(
        "in_transit")
    assert describe_event(None, None, TrackingStatus.delivered, messages) == messages.status("delivered")
    assert describe_event("sendcloud", "999999", TrackingStatus.unknown, messages) == messages.status("unknown")
