"""Job instructions are Markdown written by clients and read by workers: render, then sanitize.

nh3 (a binding of the Rust `ammonia` sanitizer) keeps a small allow-list of tags and drops
scripts, event handlers and `javascript:` URLs, so the HTML can be shown as-is.
"""

from __future__ import annotations

import markdown as md
import nh3

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "abbr": {"title"}}


def render_markdown(text: str) -> str:
    html = md.markdown(text or "", extensions=["tables", "fenced_code"], output_format="html")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
