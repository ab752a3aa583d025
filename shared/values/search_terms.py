"""Search terms: how names, emails, usernames and order numbers are folded so that `q` finds them
whatever the case and accents (API.md: `q` on customers, orders and shipments).

Folding (`fold`), the same on both sides (what is indexed and what is asked):
- Unicode compatibility decomposition (NFKD: full-width A (U+FF21) is `a`, the ligature `ﬁ` is `fi`),
  then every combining mark dropped (`é` → `e`, `ü` → `u`, Arabic vowel marks), then case folding
  (`str.casefold`: `ß` → `ss`, so `straße` and `STRASSE` are one word), then the few Latin letters
  that carry their stroke or ligature in the letter itself and would otherwise never meet their
  plain spelling: `ø` → `o`, `æ` → `ae`, `œ` → `oe`, `đ` → `d`, `ł` → `l`, `ħ` → `h`, `þ` → `th`.
  Recomposed at the end (NFC), so Hangul stays syllables. Control characters are dropped.
- Scripts without case or accents (Chinese, Japanese, Arabic letters) are left as they are: they
  match exactly, by prefix of a word (a Chinese name written without spaces is one word).
- Not folded: German `ü` written `ue` (`Mueller` does not find `Müller`; `muller` does).

Matching: a record's *terms* are the folded words of its names (split on spaces; a word joined by
`-`, `'` or `.` is also indexed by its parts and by its letters run together: `Jean-Pierre` is
`jean-pierre`, `jean`, `pierre`, `jeanpierre`) and whole values (email, username, order number).
`q` is folded and split on spaces into pieces; a record matches when every piece is the beginning
of one of its terms (AND). Terms are cut to `MAX_QUERY_LENGTH` characters: a longer prefix can
never be asked.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

MIN_QUERY_LENGTH, MAX_QUERY_LENGTH = 1, 100
QUERY_PATTERN = r"\S"  # not blank: a `q` of spaces only is refused (422), not read as "everyone"
MAX_TERMS = 16  # per record: its index entries are written with it, in one transaction

# Letters whose stroke or ligature is not a combining mark (NFKD leaves them whole).
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "ħ": "h", "þ": "th",
                          "\u0131": "i", "ŧ": "t", "ð": "d"})  # \u0131: dotless i
_JOINERS = "-'._\u2019"  # \u2019: the typographic apostrophe


def fold(text: str) -> str:
    """Case, accents and compatibility forms ignored; see the module's docstring."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cc")
    return unicodedata.normalize("NFC", kept.casefold().translate(_LETTERS))


def _parts(word: str) -> list[str]:
    """A word, and when joiners split it, its parts and its letters run together."""
    if not any(ch in _JOINERS for ch in word):
        return [word]
    parts, current = [], ""
    for ch in word:
        if ch in _JOINERS:
            if current:
                parts.append(current)
            current = ""
        else:
            current += ch
    if current:
        parts.append(current)
    return [word, *parts, "".join(parts)]


def name_terms(*names: str | None) -> list[str]:
    """The terms of names: each folded word, and the parts of joined words."""
    terms: list[str] = []
    for name in names:
        if name:
            for word in fold(name).split():
                terms.extend(_parts(word))
    return terms


def whole_terms(*values: str | None) -> list[str]:
    """Values searched from their beginning as a whole (an email, a username, an order number)."""
    return [folded for value in values if value and (folded := " ".join(fold(value).split()))]


def distinct_terms(terms: Iterable[str]) -> list[str]:
    """Each term once, cut to the longest prefix a query can ask, at most `MAX_TERMS`, in order."""
    seen: dict[str, None] = {}
    for term in terms:
        cut = term[:MAX_QUERY_LENGTH].strip()
        if cut:
            seen.setdefault(cut, None)
    return list(seen)[:MAX_TERMS]


def query_pieces(q: str) -> list[str]:
    """The pieces of a query (folded, split on spaces), each of which a record must match. Cut as
    the terms are: folding may lengthen a text (NFKD spells U+33AF, rad/s², in 6 characters), and a piece is
    read as a key prefix, which DynamoDB bounds (1,024 bytes)."""
    return list(dict.fromkeys(piece[:MAX_QUERY_LENGTH] for piece in fold(q).split()))


def lookup_piece(pieces: list[str]) -> str:
    """The piece the index is read with: the longest (the fewest entries to read)."""
    return max(pieces, key=len)


def matches(pieces: Iterable[str], terms: Iterable[str]) -> bool:
    """Every piece begins one of the terms."""
    terms = list(terms)
    return all(any(term.startswith(piece) for term in terms) for piece in pieces)


def first_match(piece: str, terms: Iterable[str]) -> str | None:
    """The smallest term the piece begins: the one entry of a record a list shows (a record with
    two matching terms has two entries, and must appear once)."""
    return min((term for term in terms if term.startswith(piece)), default=None)


class _Record(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_Record)


def select_matches(entries: Iterable[dict[str, Any]], records: Mapping[str, R], *, id_attribute: str,
                   pieces: list[str], terms_of: Callable[[R], list[str]],
                   accept: Callable[[R], bool] | None = None) -> list[tuple[dict[str, Any], R]]:
    """The search entries a list shows, with their records: an entry counts when its record still
    holds the entry's term as its first match of the looked-up piece (an entry lagging behind an
    edit is skipped, a record with several matching terms shows once) and matches every piece."""
    piece = lookup_piece(pieces)
    kept = []
    for entry in entries:
        record = records.get(str(entry[id_attribute]))
        if record is None:
            continue
        terms = terms_of(record)
        if entry.get("term") == first_match(piece, terms) and matches(pieces, terms) \
                and (accept is None or accept(record)):
            kept.append((entry, record))
    return kept
