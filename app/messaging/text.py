"""Message text: cleaned once when stored, turned into safe HTML when shown.

Stored bodies are plain text (no markup is interpreted). Rendering escapes
everything, then turns http(s) URLs into links with ``rel="nofollow noopener
noreferrer"`` and the ``@handle`` mentions it is given into ``<span class="mention">``;
nh3 cleans the result again with only ``a``, ``br`` and that span allowed, so a bug in
the regexes can never produce live markup.

A mention is ``@`` followed by a handle (the accounts' handle rules: 3 to 30 of
``a-z 0-9 _ -``, starting and ending with a letter or digit, matched case-insensitively),
not preceded by a letter, digit or one of ``_ . + - @`` (so ``ana@example.com`` is no
mention) and not followed by a letter, digit or ``_``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import nh3
from markupsafe import Markup, escape

# Control characters other than tab and newline; bidi overrides (used to
# disguise link targets and file names).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_MENTION_RE = re.compile(
    r"(?<![A-Za-z0-9_.+@-])@([A-Za-z0-9](?:[A-Za-z0-9_-]{1,28}[A-Za-z0-9]))(?![A-Za-z0-9_])"
)
_ALLOWED_TAGS = {"a", "br", "span"}
_ALLOWED_ATTRIBUTES = {"a": {"href", "target"}}
_ALLOWED_CLASSES = {"span": {"mention"}}


def mentioned_handles(text: str) -> list[str]:
    """The handles ``@mentioned`` in ``text``, lower-cased, each once, in order of appearance
    (outside links: ``https://x.test/@ana`` mentions no one)."""
    seen: dict[str, None] = {}
    for segment in _outside_urls(text or ""):
        for match in _MENTION_RE.finditer(segment):
            seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def _outside_urls(text: str) -> list[str]:
    return _URL_RE.split(text)


def clean_body(raw: str) -> str:
    """Plain text fit to store: NFC, unified newlines, no control characters, trimmed."""
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.strip()


def _mentionify(text: str, handles: frozenset[str]) -> str:
    """Escape ``text`` and wrap the mentions of ``handles`` (lower-case) in spans."""
    if not handles or "@" not in text:
        return str(escape(text))
    parts = []
    position = 0
    for match in _MENTION_RE.finditer(text):
        if match.group(1).lower() not in handles:
            continue
        parts.append(str(escape(text[position : match.start()])))
        parts.append(f'<span class="mention">{escape(match.group(0))}</span>')
        position = match.end()
    parts.append(str(escape(text[position:])))
    return "".join(parts)


def _linkify(text: str, handles: frozenset[str] = frozenset()) -> str:
    """Escape ``text``, wrap its http(s) URLs in links (URLs found in the raw text) and the
    mentions of ``handles`` outside them in spans."""
    parts = []
    position = 0
    for match in _URL_RE.finditer(text):
        url = match.group(0)
        stripped = url.rstrip(_TRAILING)
        parts.append(_mentionify(text[position : match.start()], handles))
        href = str(escape(stripped))
        parts.append(f'<a href="{href}" target="_blank">{href}</a>')
        position = match.start() + len(stripped)
    parts.append(_mentionify(text[position:], handles))
    return "".join(parts)


def render_body(body: str, mentions: Iterable[str] | None = None) -> Markup:
    """HTML for a stored body: escaped text, clickable http(s) links, line breaks, and the
    ``@handle`` mentions of ``mentions`` (handles, any case; the conversation's participants)
    highlighted as ``<span class="mention">``."""
    handles = frozenset(h.lower() for h in mentions if h) if mentions else frozenset()
    linked = _linkify(body or "", handles).replace("\n", "<br>")
    safe = nh3.clean(
        linked,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        allowed_classes=_ALLOWED_CLASSES,
        url_schemes={"http", "https"},
        link_rel="nofollow noopener noreferrer",
    )
    return Markup(safe)  # noqa: S704  (nh3 output with only a/br/span.mention allowed)
