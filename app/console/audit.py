"""The audit log: ``record_audit`` for every console change, search over it, CSV export.

Call ``record_audit`` from the console action, in the same transaction as the change:
it flushes nothing and commits nothing, so the entry lands exactly when the change does
(and vanishes with it on rollback).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request

from app.accounts.models import User
from app.console.models import AuditEntry
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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
        like = "%" + _escape_like(q.strip()[:100]) + "%"
        query = query.where(
            sa.or_(
                AuditEntry.summary.ilike(like),
                AuditEntry.actor_label.ilike(like),
                AuditEntry.action.ilike(like),
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


def search_audit(page: int = 1, per_page: int = 50, **filters) -> tuple[list[AuditEntry], int]:
    """Entries matching ``filters`` (see ``_audit_query``), newest first, and the total count."""
    query = _audit_query(**filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(AuditEntry.id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), int(total or 0)


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
