"""Text in spreadsheet cells (DESIGN.md §1.4): how a text is written so that no spreadsheet
evaluates it, whatever separator it splits a CSV on, and how an import undoes exactly that.

- A leading formula trigger (`=`, `+`, `-`, `@`, tab, CR, LF; OWASP CSV injection), also after
  spaces or NBSP, gets a `'` before the text.
- Many locales split CSV on `;` or tab, not `,` (French, German, Spanish, Dutch Excel and
  LibreOffice): there a cell `vip;=cmd|' /C calc'!A0` becomes two, the second a formula. So a
  separator (`,` `;` tab, line breaks, their full-width forms) followed by a trigger (also its
  full-width form, also after spaces, NBSP or quotes) gets a `'` before the trigger. The CSV writer also
  quotes every cell holding a separator.
- NULs are dropped: readers cut the text there, or skip them and read what follows as the start.
"""

from __future__ import annotations

import re

# Full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20) are folded into their ASCII twins by some spreadsheets and input methods.
_TRIGGERS = "=+\\-@\uff1d\uff0b\uff0d\uff20"
# What a reader may skip before a trigger: spaces (NBSP, figure, narrow and ideographic too) and
# quotes (a lenient CSV reader drops a stray `"` at the start of a field).
_SPACES = " \u00a0\u2007\u202f\u3000\""
_SEPARATORS = ",;\t\r\n\uff0c\uff1b"
_LEADING_TRIGGER = re.compile(f"[{_SPACES}]*[{_TRIGGERS}\t\r\n]")
_TRIGGER_AFTER_SEPARATOR = re.compile(f"([{_SEPARATORS}][{_SPACES}]*)(?=[{_TRIGGERS}])")
_GUARDED_LEADING = re.compile(f"'(?=[{_SPACES}]*[{_TRIGGERS}\t\r\n])")
_GUARDED_AFTER_SEPARATOR = re.compile(f"([{_SEPARATORS}][{_SPACES}]*)'(?=[{_TRIGGERS}])")


def neutralise_text(text: str) -> str:
    """The text as a spreadsheet must show it and never evaluate it."""
    text = text.replace("\x00", "")
    if _LEADING_TRIGGER.match(text):
        text = "'" + text
    return _TRIGGER_AFTER_SEPARATOR.sub(r"\1'", text)


def restore_text(text: str) -> str:
    """`neutralise_text` undone: the `'` it put before triggers removed (an import of an export)."""
    text = _GUARDED_LEADING.sub("", text, count=1) if text.startswith("'") else text
    return _GUARDED_AFTER_SEPARATOR.sub(r"\1", text)
