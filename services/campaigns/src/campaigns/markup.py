"""Markdown written by owners, rendered to HTML that is safe to put in a page."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# Raw HTML in the source is escaped by the renderer, and nh3 then keeps only harmless tags: a
# description cannot carry a script, an iframe or a javascript: link.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "code", "pre",
    "h1", "h2", "h3", "h4", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def render(markdown: str) -> str:
    html = _md.render(markdown or "")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )


def excerpt(markdown: str, limit: int = 280) -> str:
    """Plain text for notifications: tags stripped, whitespace collapsed, cut at a word."""
    text = " ".join(nh3.clean(_md.render(markdown or ""), tags=set()).split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"
