"""Text in spreadsheet cells (DESIGN.md §1.4): how a text is written so that no spreadsheet
evaluates it, whatever separator it splits a CSV on, and how an import undoes exactly that.

- A leading formula trigger (`=`, `+`, `-`, `@`, tab, CR, LF; OWASP CSV injection), also after
  spaces or NBSP, gets a `'` before the text.
- Many locales split CSV on `;` or tab, not `,` (French, German, Spanish, Dutch Excel and
  LibreOffice): there a cell `vip;=cmd|' /C calc'!A0` becomes two, the second a formula. So a
  separator (`,` `;` tab, line breaks, their full-width forms) followed by a trigger (also its
  full-width form, also after spaces, NBSP or quotes) gets a `'` before the trigger. The CSV writer also
  quotes every cell holding a separator.
- A text that already holds `'` (one or more) right before such a trigger gets one more, so that
  the import, which removes exactly one `'` there, gives the text back unchanged (`'=x` stays `'=x`
  through an export and an import).
- NULs are dropped: readers cut the text there, or skip them and read what follows as the start.
- A text made only of ASCII digits in a column that must stay text (postal codes, phones, ids) is
  written `="<digits>"`, the one formula form allowed (it evaluates to the same digits, as text),
  except as the first cell of a line (see `spreadsheet_text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20) are folded into their ASCII twins by some spreadsheets and input methods.
_TRIGGERS = "=+\\-@\uff1d\uff0b\uff0d\uff20"
# What a reader may skip before a trigger: spaces (NBSP, figure, narrow and ideographic too) and
# quotes (a lenient CSV reader drops a stray `"` at the start of a field).
_SPACES = " \u00a0\u2007\u202f\u3000\""
_SEPARATORS = ",;\t\r\n\uff0c\uff1b"
_LEADING_TRIGGER = re.compile(f"'*[{_SPACES}]*[{_TRIGGERS}\t\r\n]")
_TRIGGER_AFTER_SEPARATOR = re.compile(f"([{_SEPARATORS}][{_SPACES}]*)(?='*[{_TRIGGERS}])")
_GUARDED_LEADING = re.compile(f"'(?='*[{_SPACES}]*[{_TRIGGERS}\t\r\n])")
_GUARDED_AFTER_SEPARATOR = re.compile(f"([{_SEPARATORS}][{_SPACES}]*)'(?='*[{_TRIGGERS}])")
# ASCII only: str.isdigit() also accepts "²" or Arabic-Indic digits, which no spreadsheet reads as a number.
_ONLY_DIGITS = re.compile(r"[0-9]+")
_DIGITS_FORMULA = re.compile(r'="([0-9]*)"')
# A CSV field holding one of these is quoted: `,` `;` and tab are the separators of one locale or another.
_NEEDS_QUOTES = re.compile('[,;\t\r\n"]')


def neutralise_text(text: str) -> str:
    """The text as a spreadsheet must show it and never evaluate it."""
    text = text.replace("\x00", "")
    if _LEADING_TRIGGER.match(text):
        text = "'" + text
    return _TRIGGER_AFTER_SEPARATOR.sub(r"\1'", text)


def restore_text(text: str) -> str:
    """`neutralise_text` undone: the one `'` it put before each trigger removed (an import of an export)."""
    if _GUARDED_LEADING.match(text):
        text = text[1:]
    return _GUARDED_AFTER_SEPARATOR.sub(r"\1", text)


def spreadsheet_text(text: str, *, digits_text: bool = False, starts_line: bool = False) -> str:
    """A text cell as our CSV files write it. `starts_line`: the first cell of a line never gets the
    `="<digits>"` wrapper: a spreadsheet splitting on another separator reads the whole line up to
    its first separator as one field, and a wrapper at its start would turn that field into a formula."""
    if digits_text and _ONLY_DIGITS.fullmatch(text):
        return text if starts_line else f'="{text}"'
    return neutralise_text(text)


def read_text(cell: str) -> str:
    """A cell of a file a merchant sends back: trimmed, `="<digits>"` read as the digits, and the
    `'` guards of `neutralise_text` removed, so what our files wrote reads back exactly."""
    digits = _DIGITS_FORMULA.fullmatch(cell.strip())
    # Guards first, trimming after: a guard is only ever the cell's first character.
    return digits.group(1) if digits else restore_text(cell).strip()


def csv_field(cell: str) -> str:
    """One field of a CSV line: quoted (inner quotes doubled) when it holds a quote, a line break
    or any locale's separator, so that a spreadsheet splitting on another separator keeps it whole."""
    return '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTES.search(cell) else cell


def csv_line(cells: Iterable[str], delimiter: str = ",") -> str:
    return delimiter.join(csv_field(cell) for cell in cells) + "\r\n"
