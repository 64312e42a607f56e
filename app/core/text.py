"""Plain-text helpers every domain's input cleaning shares."""

from __future__ import annotations

import re
import unicodedata

# C0 controls and DEL, except tab, newline and carriage return.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (tabs and line breaks stay)."""
    return _CONTROL_RE.sub("", text)


def text_field(value, field: str, errors: dict, *, label: str, max_len: int, required: bool = False) -> str:
    """A text input cleaned (controls stripped, trimmed; None is empty), or a message in
    ``errors[field]``: not text, required and empty, or longer than ``max_len``."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = f"{label} must be text."
        return ""
    text = strip_controls(value).strip()
    if required and not text:
        errors[field] = f"{label} is required."
    elif len(text) > max_len:
        errors[field] = f"{label} is too long (at most {max_len} characters)."
    return text


def escape_like(value: str) -> str:
    """``value`` for a LIKE pattern: its own ``%``, ``_`` and backslashes match themselves."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def slugify(text: str, fallback: str = "category") -> str:
    """Lower-case ASCII words joined by hyphens, at most 80 characters (``fallback`` when
    nothing is left): a category's or a gig's slug."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80].strip("-") or fallback
