"""Cursor pagination for every API list: ``limit`` + an opaque, signed ``cursor``.

One scheme on every list operation (``app.core.api.Blueprint.paginate``):

- ``limit``: 1..100 items per page (the list's default when absent);
- ``cursor``: the position after the last item of the previous page, as handed out in the
  ``X-Next-Cursor`` header and in ``Link: <url>; rel="next"`` (absent on the last page).

A cursor is ``itsdangerous``-signed with the app's secret and bound to the list it came
from (the endpoint, its path arguments and the tenant), so a garbled, truncated, forged or
foreign cursor (another list, another tenant) is a 422 naming ``cursor``, never a 500.

A position is one of two kinds, chosen per list:

- **keyset** (``keyset=("id",)`` or ``("created_at", "id")``): the last item's sort key. The
  service adds ``window.where(...)`` to its query, so rows inserted while a client pages
  (new notifications, orders, payouts, ledger transactions, audit entries) neither repeat
  nor push others out of the walk;
- **offset**: an item offset inside the signed cursor, for lists whose order is computed
  (search relevance, "most helpful" reviews) or that are short and held in memory.

The lists that had ``page`` / ``page_size`` keep them (deprecated; ``X-Pagination`` still
carries the total when no cursor is sent); a request may use one scheme or the other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import current_app, request
from itsdangerous import BadData, URLSafeSerializer

from tenants.db import current_tenant_or_none

LIMIT_MAX = 100
DEFAULT_LIMIT = 20
CURSOR_MAX_LENGTH = 1000
SALT = "gigforge.api.cursor.v1"
NEXT_CURSOR_HEADER = "X-Next-Cursor"
PAGING_ARGS = ("cursor", "limit", "page", "page_size")

BAD_CURSOR = "Not a cursor of this list: start again without one, or use the X-Next-Cursor you were given."
MIXED = "Use either limit and cursor, or the deprecated page and page_size, not both."

LINK_HEADER_DOC = {
    "description": "The next page, when there is one: "
    '`<https://host/api/v1/...?cursor=...&limit=...>; rel="next"`.',
    "schema": {"type": "string"},
}
NEXT_CURSOR_HEADER_DOC = {
    "description": "The `cursor` of the next page, when there is one (absent on the last page).",
    "schema": {"type": "string"},
}


def doc_note(*, keyset: bool, legacy: bool, created: bool) -> str:
    """The line every list's description ends with (docs/api.md, Pagination)."""
    how = (
        "by position (rows added while you page neither repeat nor push others out)"
        if keyset
        else "by offset"
    )
    note = f"Paged with `limit` and `cursor`, {how}: the next page's cursor is in `X-Next-Cursor` and `Link`."
    if created:
        note += " `created_after` / `created_before` narrow it by creation time."
    if legacy:
        note += " `page` / `page_size` (with `X-Pagination`) are deprecated."
    return note


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parameters_schema(
    *, legacy: bool, default_limit: int, max_page_size: int, default_page_size: int, created
):
    """The query schema of one list: limit, cursor (+ page, page_size on the old lists,
    + created_after, created_before on the feeds)."""
    # marshmallow here, not at the top: the services use this module's windows and cursors,
    # and a tenant command or a worker that imports them need not load the API's library.
    import marshmallow as ma

    from app.core.api import MAX_PAGE  # the old lists' page bound lives with the Blueprint

    def created_range(description: str) -> ma.fields.AwareDateTime:
        return ma.fields.AwareDateTime(default_timezone=UTC, metadata={"description": description})

    fields: dict[str, ma.fields.Field] = {
        "limit": ma.fields.Integer(
            validate=ma.validate.Range(min=1, max=LIMIT_MAX),
            metadata={"description": f"Items per page, 1..{LIMIT_MAX} (default {default_limit})."},
        ),
        "cursor": ma.fields.String(
            validate=ma.validate.Length(min=1, max=CURSOR_MAX_LENGTH),
            metadata={
                "description": "Opaque position from the previous page's `X-Next-Cursor` (or its `Link`)."
            },
        ),
    }
    if legacy:
        fields["page"] = ma.fields.Integer(
            validate=ma.validate.Range(min=1, max=MAX_PAGE),
            metadata={"description": "Deprecated: use `cursor`. Page number (1-based).", "deprecated": True},
        )
        fields["page_size"] = ma.fields.Integer(
            validate=ma.validate.Range(min=1, max=max_page_size),
            metadata={
                "description": f"Deprecated: use `limit`. Page size (default {default_page_size}).",
                "deprecated": True,
            },
        )
    if created:
        fields["created_after"] = created_range("Only items created at or after this time (ISO 8601).")
        fields["created_before"] = created_range("Only items created before this time (ISO 8601).")

    class Meta:
        unknown = ma.EXCLUDE

    return type("ListParametersSchema", (ma.Schema,), {**fields, "Meta": Meta})


@dataclass
class Window:
    """What a list view gets as ``pagination_parameters``: the old ``page`` / ``page_size``
    (always set: the services page with them) plus the cursor's position.

    ``after`` is the keyset position (None: from the start); a service of a keyset list
    adds ``window.where(<sort columns>, created=<created_at column>)`` to its query before
    counting, so ``item_count`` is what is left from the position."""

    page: int
    page_size: int
    limit: int
    offset: int = 0
    after: list | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    item_count: int | None = None
    used: bool = field(default=False, repr=False)

    @property
    def first_item(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def last_item(self) -> int:
        return self.first_item + self.page_size - 1

    def where(self, *key, created=None, descending: bool = True) -> list:
        """SQL conditions: past the cursor's position on ``key`` (the list's ORDER BY, e.g.
        ``(Model.created_at, Model.id)`` descending) and inside the created range."""
        self.used = True
        clauses = []
        if self.after is not None and key:
            values = [_revive(column, value) for column, value in zip(key, self.after, strict=True)]
            if len(key) == 1:
                left, right = key[0], values[0]
            else:
                left, right = sa.tuple_(*key), sa.tuple_(*(sa.literal(v) for v in values))
            clauses.append(left < right if descending else left > right)
        if created is not None and self.created_after is not None:
            clauses.append(created >= self.created_after)
        if created is not None and self.created_before is not None:
            clauses.append(created < self.created_before)
        return clauses


def where(window: Window | None, *key, created=None, descending: bool = True) -> list:
    """``window.where(...)``, or nothing when a service is called without a window."""
    return window.where(*key, created=created, descending=descending) if window is not None else []


def _revive(column, value):
    if isinstance(value, str) and isinstance(getattr(column, "type", None), sa.DateTime):
        return datetime.fromisoformat(value)
    return value


# --------------------------------------------------------------------------- cursors


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def _binding() -> str:
    """Which list a cursor belongs to: the endpoint, its path arguments and the tenant."""
    tenant = current_tenant_or_none()
    parts = [
        request.endpoint or "",
        request.method,
        json.dumps(request.view_args or {}, sort_keys=True, default=str),
        str(getattr(tenant, "id", None)),
        getattr(tenant, "schema", "") or "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _plain(value: Any):
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, str | int | float) or value is None:
        return value
    return str(value)


def encode(*, offset: int | None = None, after: list | None = None) -> str:
    payload: dict[str, Any] = {"l": _binding()}
    if after is not None:
        payload["k"] = [_plain(v) for v in after]
    else:
        payload["o"] = int(offset or 0)
    return _serializer().dumps(payload)


def decode(token: str, *, keyset: tuple[str, ...] | None) -> dict:
    """The cursor's position: ``{"o": offset}`` or ``{"k": [values]}``; 422 naming
    ``cursor`` when it is not one of this list's."""
    try:
        payload = _serializer().loads(token)
    except (BadData, ValueError, UnicodeError):
        refuse_cursor()
    if not isinstance(payload, dict) or payload.get("l") != _binding():
        refuse_cursor()
    if keyset:
        after = payload.get("k")
        if not isinstance(after, list) or len(after) != len(keyset):
            refuse_cursor()
        return {"k": after}
    offset = payload.get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        refuse_cursor()
    return {"o": offset}


def refuse_cursor(message: str = BAD_CURSOR):
    from flask_smorest import abort  # here: services import this module, `flask tenants` among them

    abort(422, message=message, errors={"query": {"cursor": [message]}})


def key_of(item, names: tuple[str, ...]) -> list:
    values = []
    for name in names:
        value = item.get(name) if isinstance(item, dict) else getattr(item, name)
        values.append(_plain(value))
    return values


def next_headers(token: str, limit: int) -> dict[str, str]:
    """``X-Next-Cursor`` and ``Link: <...>; rel="next"`` for the page after this one."""
    args = [
        (k, v) for k, v in request.args.items(multi=True) if k not in ("cursor", "limit", "page", "page_size")
    ]
    args += [("cursor", token), ("limit", str(limit))]
    url = f"{request.base_url}?{urlencode(args)}"
    return {NEXT_CURSOR_HEADER: token, "Link": f'<{url}>; rel="next"'}
