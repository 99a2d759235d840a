"""Job instructions are Markdown written by clients and read by workers: check, render, sanitize.

Rendering happens once, when a job is saved (services store `Job.instructions_html`); pages and
the API show the stored HTML and never run Markdown on a request. `instructions_check` refuses
text over the limits in marketplace.limits: Python-Markdown recurses once per nesting level, pays
for every element it builds and rescans a block after each heading or rule it takes from it, so
unchecked text could take seconds or crash the renderer. Its link processors walked from every
`[` to the end of the paragraph; markdown_links swaps them for ones that don't.
`instructions_render` never raises: text it cannot render (stored before the limits) becomes an
escaped paragraph, for that job only.

Raw HTML in the text is removed (its words stay): Python-Markdown would pass it through, and
nh3 cannot tell a client's `<a>` or `<img>` from one Markdown built. Markdown images become links
to the picture: an image would load from the client's host the moment a worker opens the task,
a tracking pixel telling the client each worker's IP address and hours (the CSP's img-src stays
open because item pictures come from any web URL), while a link loads only when clicked.

nh3 (a binding of the Rust `ammonia` sanitizer) keeps a small allow-list of tags and drops
scripts, event handlers and `javascript:` URLs, so the HTML can be shown as-is.
"""

from __future__ import annotations

import html
import logging
import re

import xml.etree.ElementTree as etree
from typing import Any

import markdown as md
import nh3
from markdown.extensions import Extension
from markdown.inlinepatterns import HtmlInlineProcessor
from markdown.treeprocessors import Treeprocessor

from marketplace.errors import ApplicationError
from marketplace.jobs.markdown_links import LinearLinksExtension
from marketplace.limits import (
    MAX_INSTRUCTIONS_BLOCK_LINES,
    MAX_INSTRUCTIONS_CHARS,
    MAX_INSTRUCTIONS_FORMATTING,
    MAX_INSTRUCTIONS_LINES,
    MAX_INSTRUCTIONS_MARKUP,
    MAX_INSTRUCTIONS_NESTING,
)

logger = logging.getLogger(__name__)

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}
_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
# A line's nesting prefix: indentation, quote markers and list markers ("> - 1. ").
_PREFIX = re.compile(r"(?:[ \t]+|>|[-*+](?=[ \t])|[0-9]{1,9}[.)](?=[ \t]))*")
_MARKER = re.compile(r">|[-*+]|[0-9]{1,9}[.)]")
_FORMATTING = "*_`|\\&"


def _nesting(line: str) -> int:
    """Levels a line opens: each marker, and each 4 columns of indentation beyond their spaces."""
    prefix = _PREFIX.match(line).group()  # type: ignore[union-attr]
    markers = len(_MARKER.findall(prefix))
    spaces = prefix.expandtabs(4).count(" ")
    return markers + max(spaces - markers, 0) // 4


def instructions_check(text: str) -> str:
    """The instructions as given, or a 400 naming the limit they break."""
    if len(text) > MAX_INSTRUCTIONS_CHARS:
        raise ApplicationError(f"instructions are over {MAX_INSTRUCTIONS_CHARS:,} characters.")
    markup = text.count("[") + text.count("<")
    if markup > MAX_INSTRUCTIONS_MARKUP:
        raise ApplicationError(
            f"instructions hold {markup} '[' and '<' characters; at most {MAX_INSTRUCTIONS_MARKUP} "
            "(links, images and tags) are allowed."
        )
    deepest = max((_nesting(line) for line in text.splitlines()), default=0)
    if deepest > MAX_INSTRUCTIONS_NESTING:
        raise ApplicationError(
            f"instructions are nested {deepest} levels deep (lists, quotes, indentation); "
            f"at most {MAX_INSTRUCTIONS_NESTING}."
        )
    formatting = sum(text.count(char) for char in _FORMATTING)
    if formatting > MAX_INSTRUCTIONS_FORMATTING:
        raise ApplicationError(
            f"instructions hold {formatting:,} formatting characters (* _ ` | \\ &); "
            f"at most {MAX_INSTRUCTIONS_FORMATTING:,}."
        )
    lines, longest = _lines(text)
    if lines > MAX_INSTRUCTIONS_LINES:
        raise ApplicationError(
            f"instructions have {lines:,} lines of text; at most {MAX_INSTRUCTIONS_LINES:,} "
            "(join short lines into paragraphs)."
        )
    if longest > MAX_INSTRUCTIONS_BLOCK_LINES:
        raise ApplicationError(
            f"instructions have {longest} lines in a row without a blank line; at most "
            f"{MAX_INSTRUCTIONS_BLOCK_LINES} (put blank lines between paragraphs, and split long "
            "lists, tables and code blocks)."
        )
    return text


def _lines(text: str) -> tuple[int, int]:
    """Lines holding text, and the longest run of them, split and blanked as Markdown does."""
    total = run = longest = 0
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        run = run + 1 if line.strip(" \t") else 0
        total += run > 0
        longest = max(longest, run)
    return total, longest


class _DropRawHtml(HtmlInlineProcessor):
    """A raw tag or comment becomes nothing (the text between tags stays, as text)."""

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[str, int, int]:  # type: ignore[override]
        return "", m.start(0), m.end(0)


class _ImagesAsLinks(Treeprocessor):
    """`![alt](url)` becomes a link "Picture: alt" to the url, loaded only if the worker clicks."""

    def run(self, root: etree.Element) -> None:
        for image in root.iter("img"):
            alt = image.get("alt") or ""
            src, title, tail = image.get("src") or "", image.get("title"), image.tail
            image.clear()  # clears the tail (the text after the image) too: put back below
            image.tail = tail
            image.tag = "a"
            image.set("href", src)
            if title:
                image.set("title", title)
            image.text = f"Picture: {alt}" if alt else "Picture"


class _NoRawHtmlExtension(Extension):
    def extendMarkdown(self, markdown: Any) -> None:  # noqa: N802 (Python-Markdown's name)
        markdown.preprocessors.deregister("html_block")  # block HTML is then text, cleaned inline
        markdown.inlinePatterns.register(_DropRawHtml(md.inlinepatterns.HTML_RE, markdown), "html", 90)
        markdown.treeprocessors.register(_ImagesAsLinks(markdown), "images_as_links", 15)


def render_markdown(text: str) -> str:
    """Markdown to sanitized HTML. May raise (RecursionError) or take long on unchecked text."""
    html_text = md.markdown(
        text or "",
        extensions=["tables", "fenced_code", LinearLinksExtension(), _NoRawHtmlExtension()],
        output_format="html",
    )
    return nh3.clean(
        html_text,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def instructions_render(text: str) -> str:
    """The HTML to store for `text`; an escaped plain paragraph when Markdown cannot render it."""
    try:
        return render_markdown(text)
    except (RecursionError, ValueError, MemoryError):
        logger.warning("instructions could not be rendered; storing them as plain text")
        return f"<p>{html.escape(text)}</p>"
