"""Plain-text helpers every domain's input cleaning shares."""

from __future__ import annotations

import re

# C0 controls and DEL, except tab, newline and carriage return.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (tabs and line breaks stay)."""
    return _CONTROL_RE.sub("", text)


def escape_like(value: str) -> str:
    """``value`` for a LIKE pattern: its own ``%``, ``_`` and backslashes match themselves."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
