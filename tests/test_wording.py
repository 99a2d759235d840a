"""Messages built around a status or a kind read as English: "An open job", never "A open job"."""

from __future__ import annotations

import pytest

from marketplace.wording import a_or_an


@pytest.mark.parametrize(("word", "said"), [
    ("open", "an open"), ("approved", "an approved"), ("escrow_open", "an escrow_open"), ("exam", "an exam"),
    ("paused", "a paused"), ("completed", "a completed"), ("reason", "a reason"), ("training", "a training"),
    ("user", "a user"), ("unit", "a unit"), ("hour", "an hour"),
])
def test_the_article_follows_the_sound_of_the_word(word: str, said: str) -> None:
    assert a_or_an(word) == said
    assert a_or_an(word, capital=True) == said[0].upper() + said[1:]
