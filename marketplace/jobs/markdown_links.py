"""Python-Markdown's link and image processors, with their bracket scans made cheap.

Every `[` (and `![`) is tried by up to four processors (reference, link or image, short
reference), and each walks the text one character at a time to the matching `]`, or to the end of
the paragraph when there is none; a link's `(` walks on the same way to its `)`. So the cost was
brackets × paragraph length: 500 unclosed `![` before 19,000 letters took 4–5 s to render.

`getText` here jumps from `]` to `]` with `str.find` and counts the `[` between them in C: the same
result, at most one Python step per `]` on the way (and `[` are limited). `getLink` does the same
with parentheses for a target without quotes, up to MAX_LINK_PARENTHESES `)`; a target with a
title's quotes, or nested deeper, goes to the library's walk over its first MAX_LINK_TARGET_CHARS
only, and is text if it doesn't close there. No real link comes near either bound; a long signed
URL without a title takes the fast path at any length. tests/jobs/test_markdown.py holds the
output to the library's own on generated text.
"""

from __future__ import annotations

from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.inlinepatterns import (
    ImageInlineProcessor,
    ImageReferenceInlineProcessor,
    LinkInlineProcessor,
    ReferenceInlineProcessor,
    ShortImageReferenceInlineProcessor,
    ShortReferenceInlineProcessor,
)

MAX_LINK_TARGET_CHARS = 1_000
MAX_LINK_PARENTHESES = 32


def _matching(data: str, start: int, opening: str, closing: str, *, hops: int = -1) -> int:
    """The index of the `closing` that balances an `opening` just before `start`; -1 if none.

    With `hops`, -2 once that many closings have passed unbalanced.
    """
    depth, position = 1, start
    while (close := data.find(closing, position)) >= 0:
        if hops == 0:
            return -2
        hops -= 1
        # Every opening before this close comes first, so the depth can reach 0 only at a close.
        depth += data.count(opening, position, close) - 1
        if depth == 0:
            return close
        position = close + 1
    return -1


class _Brackets:
    def getText(self, data: str, index: int) -> tuple[str, int, bool]:  # noqa: N802 (library name)
        """As LinkInlineProcessor.getText: the text up to the `]` matching the `[` before `index`."""
        close = _matching(data, index, "[", "]")
        if close < 0:
            return data[index:], len(data), False
        return data[index:close], close + 1, True

    def getLink(self, data: str, index: int) -> tuple[str, str | None, int, bool]:  # noqa: N802
        """As LinkInlineProcessor.getLink; a target with a quote is read from a bounded window."""
        opened = LinkInlineProcessor.RE_LINK.match(data, pos=index)
        if opened and not opened.group(1):
            start = opened.end()
            # '(' has no limit of its own, so a deep nest must not cost a step per ')'.
            close = _matching(data, start, "(", ")", hops=MAX_LINK_PARENTHESES)
            end = close if close >= 0 else len(data)
            if close != -2 and data.find("'", start, end) < 0 and data.find('"', start, end) < 0:
                # No title: the library's walk is plain parenthesis counting, as done here.
                if close < 0:
                    return "", None, len(data), False
                return self.unescape(data[start:close]).strip(), None, close + 1, True  # type: ignore[attr-defined]
        # A title's quotes change how the library counts; let it walk, but not past the window.
        window = data[: index + MAX_LINK_TARGET_CHARS]
        href, title, end, handled = super().getLink(window, index)  # type: ignore[misc]
        if len(window) < len(data) and end >= len(window):
            return href, title, end, False  # ran out of window: not taken for a link
        return href, title, end, handled


class _Link(_Brackets, LinkInlineProcessor):
    pass


class _Image(_Brackets, ImageInlineProcessor):
    pass


class _Reference(_Brackets, ReferenceInlineProcessor):
    pass


class _ImageReference(_Brackets, ImageReferenceInlineProcessor):
    pass


class _ShortReference(_Brackets, ShortReferenceInlineProcessor):
    pass


class _ShortImageReference(_Brackets, ShortImageReferenceInlineProcessor):
    pass


# Names and priorities as markdown.inlinepatterns.build_inlinepatterns registers them.
_REPLACEMENTS: dict[str, tuple[type[LinkInlineProcessor], float]] = {
    "reference": (_Reference, 170),
    "link": (_Link, 160),
    "image_link": (_Image, 150),
    "image_reference": (_ImageReference, 140),
    "short_reference": (_ShortReference, 130),
    "short_image_ref": (_ShortImageReference, 125),
}


class LinearLinksExtension(Extension):
    """Swap the six bracket processors for the ones above, same patterns and priorities."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (library name)
        for name, (processor, priority) in _REPLACEMENTS.items():
            original: Any = md.inlinePatterns[name]
            md.inlinePatterns.register(processor(original.pattern, md), name, priority)
