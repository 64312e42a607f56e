"""The audit log: ``record_audit`` for every console change, search over it, CSV export.

Call ``record_audit`` from the console action, in the same transaction as the change:
it flushes nothing and commits nothing, so the entry lands exactly when the change does
(and vanishes with it on rollback).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.dialects.postgresql import distinct_on

from app.accounts.models import User
from app.console.models import AuditEntry
from app.core import pagination
from app.core.text import escape_like
from tenants.db import db

MAX_SUMMARY = 500


def _client_ip() -> str | None:
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:45] or None


def _via() -> str:
    if not has_request_context():
        return "cli"
    return "api" if request.path.startswith("/api/") else "web"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    """``{"field": [old, new]}`` for each field whose value changed."""
    return {
        key: [_jsonable(before.get(key)), _jsonable(after.get(key))]
        for key in after
        if before.get(key) != after.get(key)
    }


def record_audit(
    actor: User | None,
    action: str,
    target_type: str,
    target_id: Any = None,
    summary: str = "",
    changes: dict | None = None,
) -> AuditEntry:
    """Add one audit entry (not flushed; it commits with the change it describes).

    ``action`` is ``<area>.<verb>`` (``branding.update``, ``user.suspend``, ``order.refund``);
    ``changes`` is ``{"field": [old, new]}`` (see ``diff``) or a dict of details. Secrets never
    belong here: pass ``"(changed)"`` instead of the value.
    """
    label = f"{actor.display_name} <{actor.email}>" if actor is not None else "system"
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_label=label[:340],
        via=_via(),
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:64],
        summary=(summary or action)[:MAX_SUMMARY],
        changes=_jsonable(changes or {}),
        ip=_client_ip(),
    )
    db.session.add(entry)
    return entry


def _audit_query(
    q: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    actor_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
):
    query = sa.select(AuditEntry)
    if q:
        like = "%" + escape_like(q.strip()[:100]) + "%"
        query = query.where(
            sa.or_(
                AuditEntry.summary.ilike(like),
                AuditEntry.actor_label.ilike(like),
                AuditEntry.action.ilike(like),
                AuditEntry.target_type.ilike(like),
                AuditEntry.target_id.ilike(like),
            )
        )
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id:
        query = query.where(AuditEntry.target_id == str(target_id))
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    if until is not None:
        query = query.where(AuditEntry.created_at < until)
    return query


def search_audit(
    page: int = 1, per_page: int = 50, window: pagination.Window | None = None, **filters
) -> tuple[list[AuditEntry], int]:
    """Entries matching ``filters`` (see ``_audit_query``), newest first, and the total count
    (from the API's cursor position and inside its created range when ``window`` is given).

    ``page`` below 1 is page 1; ``per_page`` is kept within 1..500.
    """
    page = page if isinstance(page, int) and page >= 1 else 1
    per_page = max(1, min(500, int(per_page)))
    query = _audit_query(**filters).where(
        *pagination.where(window, AuditEntry.created_at, AuditEntry.id, created=AuditEntry.created_at)
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), int(total or 0)


AUDIT_CSV_COLUMNS = (
    "id",
    "created_at",
    "actor_id",
    "actor_label",
    "via",
    "action",
    "target_type",
    "target_id",
    "summary",
    "changes",
    "ip",
)


def iter_audit(batch: int = 1000, **filters) -> Iterator[tuple]:
    """Every entry matching ``filters`` as a tuple of ``AUDIT_CSV_COLUMNS``, last written first,
    ``batch`` rows per query (keyset pagination on the id: constant memory, no ORM objects)."""
    entries = _audit_query(**filters).subquery()
    columns = [entries.c[name] for name in AUDIT_CSV_COLUMNS]
    last_id = None
    while True:
        query = sa.select(*columns).order_by(entries.c.id.desc()).limit(batch)
        if last_id is not None:
            query = query.where(entries.c.id < last_id)
        rows = db.session.execute(query).all()
        if not rows:
            return
        for row in rows:
            yield tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in row)
        last_id = rows[-1][0]


def audit_actors() -> list[tuple[int, str]]:
    """``(actor_id, latest label)`` of everyone who has an entry, by label (for the filter)."""
    rows = db.session.execute(
        sa.select(AuditEntry.actor_id, AuditEntry.actor_label)
        .where(AuditEntry.actor_id.is_not(None))
        .ext(distinct_on(AuditEntry.actor_id))
        .order_by(AuditEntry.actor_id, AuditEntry.id.desc())
    ).all()
    return sorted(((row.actor_id, row.actor_label) for row in rows), key=lambda item: item[1].lower())


def describe_changes(changes: dict | None) -> list[tuple[str, Any, Any, bool]]:
    """An entry's ``changes`` as ``(field, old, new, is_change)`` lines for people to read:
    ``{"field": [old, new]}`` pairs are changes (listed first), any other value is a detail
    (old is None)."""
    lines = []
    for key, value in (changes or {}).items():
        if isinstance(value, list) and len(value) == 2:
            lines.append((str(key), value[0], value[1], True))
        else:
            lines.append((str(key), None, value, False))
    return sorted(lines, key=lambda line: not line[3])


def csv_rows(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Stream CSV text (one chunk per row). Cells that a spreadsheet would run as a formula
    (``=``, ``+``, ``-``, ``@`` first) are prefixed with ``'``."""

    def cell(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + value
        return "" if value is None else value

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in _chain(header, rows):
        writer.writerow([cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)


def _chain(header, rows):
    yield header
    yield from rows
