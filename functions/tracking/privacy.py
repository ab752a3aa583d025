"""Keeping the recipient out of the public page (DESIGN.md §1.2: no personal data at all).

The page's view has no field for a name or an address, but carriers write free text: "Delivered
to CAMILLE DUPONT", "Left at 12 rue des Lilas", "Call +33 6 98 76 54 32". A carrier text that
mentions the recipient (name, company, street, postal code, phone, email) or any email address or
international phone number is left out rather than edited: a half-redacted sentence still hints.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from shared.values.models import Address

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_INTERNATIONAL_PHONE = re.compile(r"\+\s?\d(?:[\s().-]?\d){6,}")
_DIGIT_RUN = re.compile(r"\d(?:[\s().-]?\d){5,}")
_PLACEHOLDERS = {"redacted"}
MIN_PHONE_DIGITS = 6
# Single name words shorter than this, and name particles, would match ordinary words
# ("de", "van"); they are still caught inside the full name.
MIN_WORD_LENGTH = 3
_PARTICLES = frozenset({"van", "von", "der", "den", "des", "del", "della", "los", "las", "dos", "das", "ter"})


@dataclass(frozen=True)
class Recipient:
    """What must never appear on the page, prepared for matching."""

    words: tuple[str, ...]  # names and company, matched as whole words
    phrases: tuple[str, ...]  # full names, street lines, postal code: matched between word boundaries
    phone_digits: str | None
    email: str | None

    @classmethod
    def of(cls, address: Address) -> Recipient:
        names = [address.first_name, address.last_name, address.name, address.company]
        full_name = " ".join(part for part in (address.first_name, address.last_name) if part)
        words = {word for value in names for word in _fold(value).split()
                 if len(word) >= MIN_WORD_LENGTH and word not in _PARTICLES}
        lines = (address.address_1, address.address_2, address.postal_code, full_name, address.name, address.company)
        phrases = {_fold(value) for value in lines if value}
        digits = re.sub(r"\D", "", address.phone or "")
        return cls(words=tuple(sorted(words - _PLACEHOLDERS)), phrases=tuple(sorted(phrases - _PLACEHOLDERS - {""})),
                   phone_digits=digits[-8:] if len(digits) >= MIN_PHONE_DIGITS else None,
                   email=_fold(address.email) if address.email and address.email != "redacted" else None)


def public_text(text: str | None, recipient: Recipient) -> str | None:
    """`text` when it says nothing about a person, else None."""
    if not text or not text.strip():
        return None
    return None if mentions_person(text, recipient) else text


def mentions_person(text: str, recipient: Recipient) -> bool:
    folded = _fold(text)
    if _EMAIL.search(text) or _INTERNATIONAL_PHONE.search(text):
        return True
    if recipient.email and recipient.email in folded:
        return True
    if any(re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", folded) for phrase in recipient.phrases):
        return True
    if recipient.words and set(re.findall(r"\w+", folded)) & set(recipient.words):
        return True
    return recipient.phone_digits is not None and any(
        recipient.phone_digits in re.sub(r"\D", "", run) for run in _DIGIT_RUN.findall(text))


def _fold(value: str | None) -> str:
    """Case-, accent- and punctuation-insensitive form: `12, Rue  des Lilas` -> `12 rue des lilas`."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.sub(r"[\W_]+", " ", plain.casefold()).split())
