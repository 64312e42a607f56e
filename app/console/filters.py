"""Checks of list filters that several console areas share (the dashboard's period, the lists'
and the audit log's filters): blank input, days, ranges of days and bounded text.

Each check adds its refusal to the caller's ``errors`` (field -> message) instead of raising,
so the caller reports every bad field at once with one ``ConsoleInputError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.console.errors import ConsoleInputError

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_day(raw, name: str, label: str, errors: dict) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str) or not _DATE_RE.match(raw.strip()):
        errors[name] = f"{label} must be a date like 2024-05-31."
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors[name] = f"{label} is not a real date."
        return None


def day_range(date_from: Any, date_to: Any, errors: dict) -> tuple[datetime | None, datetime | None]:
    """``from`` / ``to`` days (inclusive, UTC; either may be empty) as ``[since, until)``."""
    first = None if blank(date_from) else parse_day(date_from, "from", "The first day", errors)
    last = None if blank(date_to) else parse_day(date_to, "to", "The last day", errors)
    if first and last and first > last:
        errors["to"] = "The last day must be on or after the first day."
    since = datetime.combine(first, time.min, tzinfo=UTC) if first else None
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) if last else None
    return since, until


def short_text(value: Any, name: str, label: str, max_len: int, errors: dict) -> str | None:
    """``value`` stripped, or None when blank; a refusal when not text or longer than ``max_len``."""
    if blank(value):
        return None
    if not isinstance(value, str):
        errors[name] = f"{label} must be text."
        return None
    value = value.strip()
    if len(value) > max_len:
        errors[name] = f"{label} must be at most {max_len} characters."
        return None
    return value


@dataclass(frozen=True)
class ListFilters:
    """A console list's checked filters: a status, a search text and a range of UTC days
    (``since`` inclusive, ``until`` exclusive; ``date_from`` / ``date_to`` as typed)."""

    status: str | None = None
    q: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict:
        """The filters given, for links (page numbers keep them) and audit entries."""
        values = {
            "status": self.status,
            "q": self.q,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }
        return {k: v for k, v in values.items() if v is not None}


def list_filters(
    statuses: Iterable[str], status: Any, q: Any, date_from: Any, date_to: Any, *, max_query: int
) -> ListFilters:
    """Check a list's filters (``statuses``: the known ones); every bad field at once in one
    ConsoleInputError."""
    statuses = tuple(statuses)
    errors: dict[str, str] = {}
    if not blank(status) and status not in statuses:
        errors["status"] = f"Unknown status; use one of {', '.join(statuses)}."
    text = short_text(q, "q", "The search", max_query, errors)
    since, until = day_range(date_from, date_to, errors)
    if errors:
        raise ConsoleInputError(errors)
    return ListFilters(
        status=None if blank(status) else status,
        q=text,
        since=since,
        until=until,
        date_from=since.date() if since else None,
        date_to=(until - timedelta(days=1)).date() if until else None,
    )
