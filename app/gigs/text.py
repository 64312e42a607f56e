"""Gig text: Markdown descriptions rendered to sanitised HTML, and plain-text fields.

Descriptions are Markdown. markdown-it-py renders them with raw HTML disabled
(typed tags come out as visible text) and only http(s)/mailto links; nh3 then
cleans the result against a small allow-list, so even a renderer bug cannot
let a script, an event handler or a ``javascript:`` URL through.

Every other field (titles, tags, package texts, FAQ) is plain text, rendered
escaped by Jinja; ``looks_like_markup`` lets the services refuse markup there
with a clear message instead of storing it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

import nh3

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "ul", "ol", "li", "a", "code", "pre", "blockquote", "h3", "h4", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
_MARKUP_RE = re.compile(r"<\s*[a-zA-Z!/?]|&#?[a-zA-Z0-9]+;")


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt  # on first use: a worker or tenant command may render none

    # "js-default": CommonMark with raw HTML off, plus tables and strikethrough we do not allow anyway.
    return MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})


def render_description(source: str) -> str:
    """Markdown -> sanitised HTML. Headings are shifted to h3/h4 (the page owns h1/h2)."""
    html = _markdown().render(source)
    html = re.sub(r"<(/?)h[12]>", r"<\1h3>", html)
    html = re.sub(r"<(/?)h[56]>", r"<\1h4>", html)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener ugc",
        strip_comments=True,
    ).strip()


def looks_like_markup(text: str) -> bool:
    """True when ``text`` holds something a browser would read as a tag or an entity."""
    return bool(_MARKUP_RE.search(text))
