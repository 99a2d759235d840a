"""Names people read (label names, job titles, organization names): bounded, and free of the
invisible characters that make one name look like another or reorder what follows it.

Pure (no models): accounts, labelsets and jobs all use it.
"""

from __future__ import annotations

import unicodedata

from marketplace.errors import ApplicationError

# Format (Cf) characters are invisible: bidi overrides and isolates (U+202A-202E, U+2066-2069),
# marks (U+200E/F, U+061C), zero-width space/joiners (U+200B-200D, U+2060), the BOM (U+FEFF).
# Controls (Cc) are refused too; a name is one line.
_REFUSED_CATEGORIES = frozenset({"Cf", "Cc"})


def name_clean(value: object, *, field: str, max_chars: int, required: bool = True) -> str:
    """`value` as a stripped string of 1 (or 0) to `max_chars` visible characters, or a 400.

    Only text is a name: str() made ["x"] the title "['x']" and 123 the title "123"."""
    if value is not None and not isinstance(value, str):
        raise ApplicationError(f"{field} must be text, not {type(value).__name__}.", details={field: "not_text"})
    text = (value or "").strip()
    if required and not text:
        raise ApplicationError(f"{field} is required.")
    if len(text) > max_chars:
        raise ApplicationError(f"{field} is over {max_chars} characters.")
    hidden = next((c for c in text if unicodedata.category(c) in _REFUSED_CATEGORIES), None)
    if hidden is not None:
        raise ApplicationError(
            f"{field} holds an invisible control character (U+{ord(hidden):04X}); remove it."
        )
    return text


# Letters, digits and combining marks (categories L*, N*, M*) make a name's key; the rest (spaces,
# hyphens, dots, symbols) does not. Marks stay so that scripts written with them (Devanagari's
# vowel signs) do not collapse two different words into one key.
_KEY_CATEGORIES = ("L", "N", "M")


def name_key(text: str) -> str:
    """The form under which two names read as one: NFKC (full-width "ＡＣＭＥ" is "ACME", "ﬁ" is
    "fi"), case-folded, with everything but letters, digits and marks dropped, so "ACME-VISION",
    "Acme  Vision" and "ＡＣＭＥ Vision" all have the key "acmevision"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # casefold can leave text NFKC would change again ("ß" -> "ss" is fine; some marks are not).
    folded = unicodedata.normalize("NFKC", folded)
    return "".join(c for c in folded if unicodedata.category(c)[0] in _KEY_CATEGORIES)
