"""The audit log pages' filters, checked for web and API alike (the log itself, ``record_audit``
and its search, is the shared ``app.console.audit``). A refusal raises ``ConsoleInputError``
with field errors (``q``, ``action``, ``actor_id``, ``target_type``, ``target_id``, ``from``, ``to``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from app.console.errors import ConsoleInputError
from app.console.filters import blank, day_range, short_text
from app.core.ids import INT32_MAX, parse_id

AUDIT_PAGE_SIZE = 50
_ACTION_RE = re.compile(r"^[a-z0-9_.]{1,64}\Z")


def audit_filters(
    q: Any = None,
    action: Any = None,
    actor_id: Any = None,
    target_type: Any = None,
    target_id: Any = None,
    date_from: Any = None,
    date_to: Any = None,
) -> dict:
    """Checked filters of the audit log, as keyword arguments of ``audit.search_audit``.
    Raises ConsoleInputError."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "q": short_text(q, "q", "The search", 100, errors),
        "target_type": short_text(target_type, "target_type", "The target type", 32, errors),
        "target_id": short_text(target_id, "target_id", "The target id", 64, errors),
    }
    action_text = short_text(action, "action", "The action", 64, errors)
    if action_text and not _ACTION_RE.match(action_text):
        errors["action"] = "An action looks like order.refund or user (lower case, dots)."
    clean["action"] = action_text
    if not blank(actor_id):
        actor = parse_id(actor_id.strip() if isinstance(actor_id, str) else actor_id, maximum=INT32_MAX)
        if actor is None:
            errors["actor_id"] = "Choose an operator from the list."
        clean["actor_id"] = actor
    since, until = day_range(date_from, date_to, errors)
    clean.update(since=since, until=until)
    if errors:
        raise ConsoleInputError(errors)
    return {k: v for k, v in clean.items() if v is not None}


def audit_filters_for_record(filters: dict) -> dict:
    """Filters as JSON-able details of an export's audit entry."""
    out = {}
    for key, value in filters.items():
        if key == "until" and isinstance(value, datetime):
            out["to"] = (value - timedelta(days=1)).date().isoformat()
        elif key == "since" and isinstance(value, datetime):
            out["from"] = value.date().isoformat()
        else:
            out[key] = value
    return out
