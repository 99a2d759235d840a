"""Job instructions are Markdown written by clients and read by workers: check, render, sanitize.

Rendering happens once, when a job is saved (services store `Job.instructions_html`); pages and
the API show the stored HTML and never run Markdown on a request. `instructions_check` refuses
text over the limits in marketplace.limits: Python-Markdown recurses once per nesting level and
some inline patterns cost the square of the brackets in a paragraph, so unchecked text could
take seconds or crash the renderer. `instructions_render` never raises: text it cannot render
(stored before the limits) becomes an escaped paragraph, for that job only.

nh3 (a binding of the Rust `ammonia` sanitizer) keeps a small allow-list of tags and drops
scripts, event handlers and `javascript:` URLs, so the HTML can be shown as-is.
"""

from __future__ import annotations

import html
import logging
import re

import markdown as md
import nh3

from marketplace.errors import ApplicationError
from marketplace.limits import MAX_INSTRUCTIONS_CHARS, MAX_INSTRUCTIONS_MARKUP, MAX_INSTRUCTIONS_NESTING

logger = logging.getLogger(__name__)

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "abbr": {"title"}}
# A line's nesting prefix: indentation, quote markers and list markers ("> - 1. ").
_PREFIX = re.compile(r"(?:[ \t]+|>|[-*+](?=[ \t])|[0-9]{1,9}[.)](?=[ \t]))*")
_MARKER = re.compile(r">|[-*+]|[0-9]{1,9}[.)]")


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
    return text


def render_markdown(text: str) -> str:
    """Markdown to sanitized HTML. May raise (RecursionError) or take long on unchecked text."""
    html_text = md.markdown(text or "", extensions=["tables", "fenced_code"], output_format="html")
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
