"""Small words in messages built around a value: "an open job", "a paused job".

No Django: the shared modules under every layer import no layer.
"""

from __future__ import annotations

# Starts with a vowel letter but sounds a consonant ("a unit", "a user", "a one-off"), and the reverse.
_CONSONANT_SOUND = ("one", "uni", "use", "usu")
_VOWEL_SOUND = ("hour", "honest")


def a_or_an(word: str, *, capital: bool = False) -> str:
    """"a word" or "an word" as English wants it: `a_or_an("open")` is "an open"."""
    lower = word.lower()
    vowel = lower[:1] in "aeiou" and not lower.startswith(_CONSONANT_SOUND) or lower.startswith(_VOWEL_SOUND)
    article = "an" if vowel and lower else "a"
    return f"{article.capitalize() if capital else article} {word}"
