"""Message text: cleaned once when stored, turned into safe HTML when shown.

Stored bodies are plain text (no markup is interpreted). Rendering escapes
everything, then turns http(s) URLs into links with ``rel="nofollow noopener
noreferrer"``; nh3 cleans the result again with only ``a`` and ``br`` allowed,
so a bug in the link regex can never produce live markup.
"""

from __future__ import annotations

import re
import unicodedata

import nh3
from markupsafe import Markup, escape

# Control characters other than tab and newline; bidi overrides (used to
# disguise link targets and file names).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_ALLOWED_TAGS = {"a", "br"}
_ALLOWED_ATTRIBUTES = {"a": {"href", "target"}}


def clean_body(raw: str) -> str:
    """Plain text fit to store: NFC, unified newlines, no control characters, trimmed."""
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.strip()


def _linkify(text: str) -> str:
    """Escape ``text`` and wrap its http(s) URLs in links (URLs found in the raw text)."""
    parts = []
    position = 0
    for match in _URL_RE.finditer(text):
        url = match.group(0)
        stripped = url.rstrip(_TRAILING)
        parts.append(str(escape(text[position : match.start()])))
        href = str(escape(stripped))
        parts.append(f'<a href="{href}" target="_blank">{href}</a>')
        position = match.start() + len(stripped)
    parts.append(str(escape(text[position:])))
    return "".join(parts)


def render_body(body: str) -> Markup:
    """HTML for a stored body: escaped text, clickable http(s) links, line breaks."""
    linked = _linkify(body or "").replace("\n", "<br>")
    safe = nh3.clean(
        linked,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel="nofollow noopener noreferrer",
    )
    return Markup(safe)  # noqa: S704  (nh3 output with only a/br allowed)
