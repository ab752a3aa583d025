"""Search terms (shared.values.search_terms): folding, terms of names and whole values, matching."""

from __future__ import annotations

import pytest

from shared.values.search_terms import (
    distinct_terms,
    first_match,
    fold,
    lookup_piece,
    matches,
    name_terms,
    query_pieces,
    whole_terms,
)


@pytest.mark.parametrize(("text", "folded"), [
    ("Léa", "lea"), ("LÉA", "lea"), ("lea", "lea"),
    ("MÜLLER", "muller"), ("Müller", "muller"),
    ("Ørsted", "orsted"), ("ØRSTED", "orsted"),
    ("straße", "strasse"), ("STRASSE", "strasse"), ("Straße", "strasse"),
    ("Zoë", "zoe"), ("Cæsar", "caesar"), ("Œuvre", "oeuvre"), ("Łódź", "lodz"), ("Đorđe", "dorde"),
    ("François", "francois"), ("Ñúñez", "nunez"), ("İstanbul", "istanbul"),
    ("\uff21\uff22", "ab"),  # full-width letters
    ("\ufb01ne", "fine"),  # the ligature fi
    ("王小明", "王小明"),  # no case, no accents: unchanged
    ("محمد", "محمد"),
    ("مُحَمَّد", "محمد"),  # Arabic vowel marks are combining marks
    ("김민준", "김민준"),  # Hangul stays syllables
    ("Ana 🌸", "ana 🌸"),  # emoji kept
    ("", ""),
    ("a\x00b\x07", "ab"),  # control characters dropped
])
def test_folding_ignores_case_accents_and_compatibility_forms(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_a_name_is_indexed_by_its_words_and_the_parts_of_joined_words() -> None:
    assert name_terms("Jean-Pierre", "O'Brien") == ["jean-pierre", "jean", "pierre", "jeanpierre",
                                                     "o'brien", "o", "brien", "obrien"]
    assert name_terms("Léa  Müller", None, "") == ["lea", "muller"]


def test_emails_usernames_and_order_numbers_are_whole_terms() -> None:
    assert whole_terms("Lea.Muller@Example.COM", "lea_m.92", None, "  ") == ["lea.muller@example.com", "lea_m.92"]


def test_terms_are_distinct_cut_to_the_longest_query_and_bounded() -> None:
    assert distinct_terms(["lea", "lea", "x" * 150]) == ["lea", "x" * 100]
    assert len(distinct_terms([f"t{n}" for n in range(40)])) == 16


@pytest.mark.parametrize(("q", "terms", "found"), [
    ("lea", ["lea", "muller"], True),
    ("LEA", ["lea", "muller"], True),
    ("Léa", ["lea", "muller"], True),
    ("mül", ["lea", "muller"], True),
    ("lea mu", ["lea", "muller"], True),
    ("mu lea", ["lea", "muller"], True),
    ("lea x", ["lea", "muller"], False),  # every piece must match (AND)
    ("ea", ["lea"], False),  # a beginning, not any part
    ("王", ["王小明"], True),
    ("小明", ["王小明"], False),  # a name written without spaces is one word
    ("lea.m", ["lea.muller@example.com"], True),
    ("STRASSE", [fold("Straße")], True),
])
def test_a_record_matches_when_every_piece_begins_one_of_its_terms(q: str, terms: list[str], found: bool) -> None:
    assert matches(query_pieces(q), terms) is found


def test_the_query_is_read_with_its_longest_piece_and_a_record_shows_at_its_first_matching_term() -> None:
    assert lookup_piece(query_pieces("a Müller bo")) == "muller"
    assert first_match("an", ["annabel", "anna", "bob"]) == "anna"
    assert first_match("z", ["anna"]) is None


def test_a_query_of_control_characters_has_no_pieces() -> None:
    assert query_pieces("\x01\x02") == []
    assert query_pieces("  Léa   LÉA ") == ["lea"]


def test_a_piece_is_cut_as_terms_are_whatever_folding_makes_of_it() -> None:
    pieces = query_pieces("\u33af" * 100)  # the square unit rad/s², which NFKD spells in 6 characters
    assert len(pieces) == 1 and len(pieces[0]) == 100
    assert matches(pieces, distinct_terms(name_terms("\u33af" * 100)))
