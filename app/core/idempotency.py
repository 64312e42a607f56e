"""HTTP idempotency for mutating money views: ``@idempotent`` and ``idempotency_field()``.

A client names an attempt with a key: the ``Idempotency-Key`` header (API), or
the hidden ``idempotency_key`` field that ``{{ idempotency_field() }}`` renders
into a web form (a fresh key per rendered form, so a double click or a resent
form is the same attempt). Per tenant and user:

- the first request with a key claims it (a row in ``idempotency_keys``), runs
  the view and stores the response in the same transaction, then commits once;
- the same key with the same method, path and body replays the stored
  response with ``Idempotent-Replayed: true``; nothing runs again;
- the same key with another body (or on another endpoint) is refused: 422
  (JSON under /api/, an error page on the web);
- a concurrent request with the same key waits for the first one to finish
  (at most ``IDEMPOTENCY_WAIT_SECONDS``, default 10) and then replays it, or
  gets 409 when the wait times out or the first one committed without a
  response (a view that committed on its own and then failed);
- keys expire after ``IDEMPOTENCY_TTL_HOURS`` (24); the worker purges expired keys of
  every tenant hourly (``purge_expired_keys``, ``IDEMPOTENCY_PURGE_SECONDS``).

Requests without a key run as usual. Responses of 500 and above, and views
that raise, are not stored: the work is rolled back and the key can be retried.
A 4xx the view answers itself (a form shown again with its errors) is stored
and replayed; its work is rolled back (the view runs in a savepoint) unless
the view called ``unit_of_work.keep()`` (a declined card's attempt is kept). A view that
raises every refusal it does not keep (the API's) runs without that savepoint:
``@idempotent(savepoint=False)``.
The stored response is written in the view's transaction and the request's unit
of work (``app.core.unit_of_work``) commits both at once.

Decorator order: below authentication (``login_required``,
``token_auth_required``) so the user is known, above flask-smorest's
``@blp.arguments`` / ``@blp.response`` so the stored response is the final one::

    @blp.route("/orders/<int:order_id>/complete")
    class Complete(MethodView):
        decorators = [token_auth_required]

        @idempotent
        @blp.response(200, OrderSchema)
        def post(self, order_id): ...

"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache, wraps

import sqlalchemy as sa
from flask import current_app, g, make_response, request
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import Conflict, UnprocessableEntity

from app.core import unit_of_work
from tenants.db import TenantModel, db, tenant_table_args

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Form fields that differ between two sendings of the same form without changing its meaning.
IGNORED_FORM_FIELDS = {FORM_FIELD, "csrf_token"}
# Only these headers are stored and replayed (never Set-Cookie: sessions are per client moment).
STORED_HEADERS = ("Content-Type", "Location", "ETag", "Link")


class IdempotencyKey(TenantModel):
    """A claimed key and, once the view has answered, its stored response."""

    __tablename__ = "idempotency_keys"
    __table_args__ = tenant_table_args(sa.UniqueConstraint("user_id", "key"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    # 0 for an anonymous client: keys are scoped per user, never shared between users.
    user_id: Mapped[int] = mapped_column(sa.BigInteger)
    method_path: Mapped[str] = mapped_column(sa.Text)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    # NULL until the view has answered (the request is in progress).
    response_status: Mapped[int | None] = mapped_column(sa.SmallInteger)
    response_body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    response_headers: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), index=True
    )


def init_app(app) -> None:
    app.config.setdefault("IDEMPOTENCY_TTL_HOURS", 24)
    app.config.setdefault("IDEMPOTENCY_WAIT_SECONDS", 10)
    # How often the worker's orders tick purges every tenant's expired keys (app/orders/tasks.py).
    app.config.setdefault("IDEMPOTENCY_PURGE_SECONDS", 3600)
    app.add_template_global(idempotency_field)


def idempotency_field() -> Markup:
    """A hidden input with a fresh key: put it in every form that moves money."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FORM_FIELD, uuid.uuid4().hex)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (request.is_json and not request.form)


def _error(exc_class, message: str):
    """An error in the house shape: JSON under /api/ (flask-smorest's), else the HTML error page."""
    if _wants_json():
        from flask_smorest import abort

        abort(exc_class.code, message=message)
    raise exc_class(description=message)


def _request_key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        key = request.form.get(FORM_FIELD)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        _error(UnprocessableEntity, f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters")
    return key


def _user_id() -> int:
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user.id
    if current_user and current_user.is_authenticated:
        return current_user.id
    return 0


def _sortable(value: str | None) -> tuple[bool, str]:
    return (value is not None, value or "")


def request_fingerprint() -> str:
    """sha256 of what makes the request what it is: query, and the body (canonical JSON,
    form fields without the key and CSRF token, uploaded files' names and contents)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(sorted(request.args.items(multi=True))).encode())
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # A multipart part may come without a name (and a file without a filename): None sorts
        # before every string instead of failing the comparison.
        fields = sorted(
            ((k, v) for k, v in request.form.items(multi=True) if k not in IGNORED_FORM_FIELDS),
            key=lambda item: (_sortable(item[0]), item[1]),
        )
        digest.update(b"form" + json.dumps(fields).encode())
        for name, upload in sorted(
            request.files.items(multi=True),
            key=lambda item: (_sortable(item[0]), _sortable(item[1].filename)),
        ):
            content = upload.stream.read()
            upload.stream.seek(0)
            digest.update(json.dumps([name, upload.filename]).encode() + hashlib.sha256(content).digest())
    else:
        raw = request.get_data(cache=True)
        try:
            canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
        except ValueError:
            canonical = raw
        digest.update(b"body" + canonical)
    return digest.hexdigest()


@cache
def _claim_statement() -> sa.Select:
    """``SELECT previous lock_timeout, claimed id`` of: set a short lock_timeout, then
    ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` (None: the key is taken), then set the
    previous lock_timeout back. Built once, with the key, user, method and path, fingerprint and
    the timeout (``wait``, e.g. ``10000ms``) as parameters: every claim executes the same
    statement object, so neither building it nor its cache key is paid per request.

    Three steps in one statement, each fenced so it runs after the one before: the previous
    value is read in a subquery (OFFSET 0) before ``set_config`` shortens it; the INSERT takes
    its row from that CTE, so it runs, and may wait, under the short timeout; the outer SELECT
    restores the previous value from the row the fenced inner SELECT produced, whose claimed id
    exists only once the INSERT has finished (a data-modifying CTE's row comes back when its
    INSERT is done). A refused wait (55P03) aborts the statement, and the rollback that follows
    drops the short timeout with it."""
    fenced = sa.select(sa.func.current_setting("lock_timeout").label("previous")).offset(0).subquery()
    wait = sa.select(
        fenced.c.previous,
        sa.func.set_config("lock_timeout", sa.bindparam("wait", type_=sa.String), True).label("applied"),
    ).cte("lock_wait")
    row = sa.select(
        sa.bindparam("key", type_=IdempotencyKey.key.type),
        sa.bindparam("user_id", type_=IdempotencyKey.user_id.type),
        sa.bindparam("method_path", type_=IdempotencyKey.method_path.type),
        sa.bindparam("fingerprint", type_=IdempotencyKey.request_hash.type),
    ).select_from(wait)
    inserted = (
        pg_insert(IdempotencyKey)
        .from_select(["key", "user_id", "method_path", "request_hash"], row)
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.id)
        .cte("claimed")
    )
    claimed = (
        sa.select(wait.c.previous, sa.select(inserted.c.id).scalar_subquery().label("claimed"))
        .offset(0)
        .subquery("claim")
    )
    return sa.select(
        claimed.c.previous,
        claimed.c.claimed,
        sa.func.set_config("lock_timeout", claimed.c.previous, True).label("restored"),
    )


@cache
def _store_statement() -> sa.Update:
    """``UPDATE`` of the claimed key's row with the answer, built once (parameters
    ``claimed_id``, ``status``, ``body``, ``headers``)."""
    columns = IdempotencyKey.__table__.c
    return (
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.id == sa.bindparam("claimed_id", type_=columns.id.type))
        .values(
            response_status=sa.bindparam("status", type_=columns.response_status.type),
            response_body=sa.bindparam("body", type_=columns.response_body.type),
            response_headers=sa.bindparam("headers", type_=columns.response_headers.type),
        )
    )


def _claim(
    key: str, user_id: int, method_path: str, fingerprint: str
) -> tuple[int | None, IdempotencyKey | None]:
    """Insert the key row, or find the one another request made.

    Returns ``(claimed_id, None)`` when this request owns the key, else
    ``(None, row)``. A concurrent owner's uncommitted row makes the INSERT wait
    for its transaction (bounded by ``lock_timeout``).
    """
    ttl = timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    wait_ms = int(current_app.config["IDEMPOTENCY_WAIT_SECONDS"] * 1000)
    session = db.session
    try:
        # One round trip: remember the transaction's lock_timeout, shorten it, claim the key and
        # set the timeout back (``_claim_statement``).
        previous, claimed, _restored = session.execute(
            _claim_statement(),
            {
                "key": key,
                "user_id": user_id,
                "method_path": method_path,
                "fingerprint": fingerprint,
                "wait": f"{wait_ms}ms",
            },
        ).one()
        if claimed is None:
            # Taken: by an attempt older than the TTL (drop it and claim the key again), or by
            # a live one (replayed below). Only this rare path pays for the DELETE, and for
            # shortening the timeout again around it (a concurrent retry of the same expired key
            # may hold the row).
            session.execute(sa.select(sa.func.set_config("lock_timeout", f"{wait_ms}ms", True)))
            expired = session.execute(
                sa.delete(IdempotencyKey)
                .where(
                    IdempotencyKey.user_id == user_id,
                    IdempotencyKey.key == key,
                    IdempotencyKey.created_at < datetime.now(UTC) - ttl,
                )
                .returning(IdempotencyKey.id)
            ).first()
            if expired is not None:
                claim = (
                    pg_insert(IdempotencyKey)
                    .values(key=key, user_id=user_id, method_path=method_path, request_hash=fingerprint)
                    .on_conflict_do_nothing(index_elements=["user_id", "key"])
                    .returning(IdempotencyKey.id)
                )
                claimed = session.execute(claim).scalar_one_or_none()
            session.execute(sa.select(sa.func.set_config("lock_timeout", previous, True)))
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        session.rollback()
        _error(Conflict, f"a request with this {HEADER} is still in progress; retry later")
    if claimed is not None:
        return claimed, None
    row = session.scalars(
        sa.select(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    ).first()
    return None, row


def _replay(row: IdempotencyKey):
    response = current_app.response_class(row.response_body or b"", status=row.response_status)
    for name, value in (row.response_headers or {}).items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def idempotent(view=None, *, savepoint: bool = True):
    """Make a mutating view idempotent by key (see the module docstring).

    ``savepoint=False`` (``@idempotent(savepoint=False)``) is for views that answer every
    refusal by raising it, or by returning it after ``unit_of_work.keep()`` (the API's
    views: one success code, errors raised; a declined card's kept 402): a raised refusal rolls
    back the claim with the work anyway, and a kept one commits both, so the view savepoint
    would guard nothing and costs two statements (SAVEPOINT, RELEASE). Should such a view
    still return an error it did not keep, or ``abandon()``, the whole request is rolled back,
    claim included, and the answer is not stored: as for a raised error, the key can be retried.
    """
    if view is None:
        return lambda view: idempotent(view, savepoint=savepoint)

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = _request_key()
        if key is None:
            if savepoint:
                return view(*args, **kwargs)  # the unit of work commits or rolls back as usual
            with unit_of_work.refusals_end_work():
                return view(*args, **kwargs)
        method_path = f"{request.method} {request.path}"
        fingerprint = request_fingerprint()
        for _attempt in range(2):  # the owner may roll back between our INSERT and SELECT
            claimed_id, row = _claim(key, _user_id(), method_path, fingerprint)
            if claimed_id is not None or row is not None:
                break
        if claimed_id is None:
            if row is None:
                _error(Conflict, f"a request with this {HEADER} is still in progress; retry later")
            if row.method_path != method_path or row.request_hash != fingerprint:
                _error(
                    UnprocessableEntity,
                    f"this {HEADER} was already used for a different request; use a new key"
                    if _wants_json()
                    else "This form was already sent with different values. Reload the page and try again.",
                )
            if row.response_status is None:
                _error(Conflict, f"a request with this {HEADER} is still in progress; retry later")
            unit_of_work.abandon()  # the claim attempt changed nothing
            return _replay(row)

        # A view that raises answers through the error handlers; the unit of work then rolls
        # back its work and the claim together, so the key can be retried. The view runs in a
        # savepoint: a refusal it answers itself (a 4xx page, ``abandon()``) drops its work
        # but not the claim, so the refusal is stored and replayed like a success.
        if savepoint:
            with unit_of_work.view_savepoint() as view_savepoint:
                response = make_response(view(*args, **kwargs))
        else:
            with unit_of_work.refusals_end_work():  # its steps need no savepoints of their own
                response = make_response(view(*args, **kwargs))
        if response.status_code >= 500 or response.is_streamed:
            unit_of_work.abandon()
            return response
        if savepoint:
            if view_savepoint.is_active:
                if response.status_code >= 400 and not unit_of_work.kept():
                    view_savepoint.rollback()  # as without a key: a refusal's work is not committed
                else:
                    view_savepoint.commit()
        elif unit_of_work.abandoned() or (response.status_code >= 400 and not unit_of_work.kept()):
            unit_of_work.abandon()  # no savepoint to keep the claim apart: nothing is stored
            return response
        db.session.execute(
            _store_statement(),
            {
                "claimed_id": claimed_id,
                "status": response.status_code,
                "body": response.get_data(),
                "headers": {h: response.headers[h] for h in STORED_HEADERS if h in response.headers},
            },
        )
        unit_of_work.keep()  # a returned 4xx is stored and replayed too: commit it with the key
        return response

    return wrapper


def purge_expired_keys(now: datetime | None = None, *, limit: int | None = None) -> int:
    """Delete the bound tenant's keys older than the TTL; returns how many (flushes, no commit).

    ``limit`` deletes at most that many (oldest first), so a job can purge a large
    backlog in short transactions. Run by the ``purge_idempotency_keys`` job
    (``app/orders/tasks.py``) for every tenant, every ``IDEMPOTENCY_PURGE_SECONDS``.
    An expired key is also dropped by ``_claim`` when its owner sends it again.
    """
    ttl = timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    cutoff = (now or datetime.now(UTC)) - ttl
    expired = IdempotencyKey.created_at < cutoff
    if limit is not None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        oldest = sa.select(IdempotencyKey.id).where(expired).order_by(IdempotencyKey.created_at).limit(limit)
        expired = IdempotencyKey.id.in_(oldest.scalar_subquery())
    result = db.session.execute(sa.delete(IdempotencyKey).where(expired))
    return result.rowcount
