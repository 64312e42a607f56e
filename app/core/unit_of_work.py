"""One unit of work per request and per job: services flush, this module commits once.

Requests: after the view has produced its response, ``_finish`` commits the session when
the answer is a success (below 400) and rolls it back otherwise, so a refusal (a
``DomainError`` mapped to 4xx, an ``abort``, a form redisplayed after ``refuse_form``)
changes nothing. Views and API methods never call ``commit()`` or ``rollback()``.

Two marks change that decision for one request:

- ``keep()``: commit even though the answer is an error. For work that must stay
  when the request is refused: a failed sign-in attempt counted toward the lockout,
  an idempotency key whose stored 4xx answer is replayed later (``@idempotent``).
- ``abandon()``: roll back now and never commit this request (``refuse_form`` calls it
  before a form is shown again with a 200 status). Inside an ``@idempotent`` view that
  holds a key it rolls back only the view's savepoint (``view_savepoint``): the key's
  claim stays, so the refusal the view answers is stored and replayed.

A commit that fails (a unique constraint hit by a concurrent request, a serialization
failure, the database gone) replaces the response with a 409 or 503 error in the house
shape: the client is never told "done" for work that was not saved.

Jobs: ``job_unit()`` is the same for an RQ job (``tenant_job_context`` uses it): commit
when the job's body returns, roll back when it raises.

Savepoints a refusal does not need: a service step that may refuse after it wrote (the
ledger's posting) runs in a savepoint so that its caller can go on. A view that raises every
refusal it does not keep (``@idempotent(savepoint=False)``, the API's money views) declares
it with ``refusals_end_work()``: such steps (``step_guard()``: the ledger's posting, a payment's
confirmation) then skip their savepoint (two statements each) and guard themselves with
``rollback_only_if_refused()`` instead, which marks the transaction
when the step refuses; a marked transaction can never be committed (``before_commit``
raises), so a half-done step is rolled back even if a caller caught the refusal.
"""

from __future__ import annotations

import contextlib
import logging
import weakref

import sqlalchemy as sa
from flask import Flask, g, has_app_context, has_request_context, request
from sqlalchemy.sql.expression import Executable
from werkzeug.exceptions import Conflict, ServiceUnavailable

from tenants.db import TenantSession, current_tenant, db, guard_one_schema, guarded, translate_map

log = logging.getLogger(__name__)

_KEEP = "_uow_keep"
# [(tenant, statement or builder, transaction it was written in or None)]: written with this
# request's commit (``write_bookkeeping``), or already written by one of its statements
# (``bookkeeping_written``)
_BOOKKEEPING = "_uow_bookkeeping"
_ABANDONED = "_uow_abandoned"
_VIEW_SAVEPOINT = "_uow_view_savepoint"
_REFUSALS_END = "_uow_refusals_end_work"
_TRANSACTION_SCOPED: set[str] = set()  # session.info keys dropped when the transaction ends


def transaction_scoped(key: str) -> str:
    """Register ``key`` as a ``session.info`` entry that lives as long as the unit of work's
    transaction: it is dropped when that transaction ends (commit or rollback; a savepoint's
    end leaves it). Returns ``key``."""
    _TRANSACTION_SCOPED.add(key)
    return key


_ROLLBACK_ONLY = transaction_scoped("gigforge_rollback_only")  # why this transaction cannot commit


def keep() -> None:
    """Commit this request's work even if the answer is an error (see the module docstring)."""
    g.setdefault(_KEEP, True)
    g.pop(_ABANDONED, None)


def kept() -> bool:
    """True when ``keep()`` was called in this request (and not undone by ``abandon()``)."""
    return bool(g.get(_KEEP))


def abandoned() -> bool:
    """True when ``abandon()`` was called in this request (and not undone by ``keep()``)."""
    return bool(g.get(_ABANDONED))


def abandon() -> None:
    """Roll back this request's work now; nothing of it is committed later.

    Inside ``view_savepoint`` (an ``@idempotent`` view with a key) only the view's work is
    rolled back; the decorator then stores the answer with the key and commits that."""
    savepoint = g.get(_VIEW_SAVEPOINT)
    if savepoint is not None and savepoint.is_active:
        savepoint.rollback()
    else:
        db.session.rollback()
    g.pop(_KEEP, None)
    setattr(g, _ABANDONED, True)


@contextlib.contextmanager
def view_savepoint():
    """Run a view's work in a savepoint that ``abandon()`` rolls back instead of the whole
    request (``@idempotent``: the claimed key must outlive a refusal so the refusal is replayed).
    Yields the savepoint; the caller releases or rolls it back when the view has answered."""
    savepoint = db.session.begin_nested()
    outer = g.get(_VIEW_SAVEPOINT)
    setattr(g, _VIEW_SAVEPOINT, savepoint)
    try:
        yield savepoint
    finally:
        if outer is None:
            g.pop(_VIEW_SAVEPOINT, None)
        else:
            setattr(g, _VIEW_SAVEPOINT, outer)


def checkpoint() -> None:
    """Commit now, before a step that must see the work saved (an outside call that may take
    long, a Socket.IO emit). Rare: say why next to the call."""
    db.session.commit()


def _commit_failure(exc: Exception) -> Exception:
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    if isinstance(exc, sa.exc.IntegrityError) or sqlstate in ("40001", "40P01"):
        return Conflict(description="This changed at the same time elsewhere. Reload and try again.")
    return ServiceUnavailable(description="The service is temporarily unavailable. Try again in a moment.")


def init_app(app: Flask) -> None:
    @app.after_request
    def _finish(response):
        if not request.environ.get("gigforge.tenancy") or g.get("_uow_done"):
            return response
        g._uow_done = True
        bookkeeping = g.pop(_BOOKKEEPING, None) or []
        if not db.session.registry.has():
            _write_apart(bookkeeping, response)
            return response  # the request never used the database (a kept page): nothing to end
        session = db.session
        commit = not g.get(_ABANDONED) and (response.status_code < 400 or g.get(_KEEP))
        if not commit:
            session.rollback()
            _write_apart(bookkeeping, response)
            return response
        try:
            committing = session().get_transaction()
            for _tenant, statement in _built(bookkeeping, response, skip_written_in=committing):
                session.execute(statement)
            session.commit()
        except (sa.exc.IntegrityError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            session.rollback()
            log.warning("commit failed on %s %s: %s", request.method, request.path, exc)
            from app.core.errors import handle_http_exception

            failure = app.make_response(handle_http_exception(_commit_failure(exc)))
            _write_apart(bookkeeping, failure)
            return failure
        return response


@contextlib.contextmanager
def refusals_end_work():
    """Within the block, a refusal (any exception) ends the unit of work: the view raises it, or
    returns it unkept, and the request rolls back. Steps that would take a savepoint so that a
    caller could go on after their refusal take none (``refusal_ends_work``)."""
    outer = g.get(_REFUSALS_END)
    setattr(g, _REFUSALS_END, True)
    try:
        yield
    finally:
        setattr(g, _REFUSALS_END, outer)


def refusal_ends_work() -> bool:
    """True inside ``refusals_end_work()`` (never outside a request or job's app context)."""
    return bool(g.get(_REFUSALS_END)) if has_app_context() else False


@contextlib.contextmanager
def rollback_only_if_refused(what: str):
    """Instead of a savepoint: when the block raises, this transaction is marked and can no
    longer be committed (``before_commit`` raises); only a rollback ends it."""
    try:
        yield
    except BaseException:
        session = db.session()
        # With the innermost transaction: rolling back a savepoint around it takes the mark too.
        session.info[_ROLLBACK_ONLY] = (what, session.get_nested_transaction() or session.get_transaction())
        raise


def step_guard(what: str):
    """The guard of a step that may refuse after it wrote: a savepoint, so that its caller can
    go on after the refusal; inside ``refusals_end_work()`` no savepoint (two statements) but
    ``rollback_only_if_refused(what)``."""
    return rollback_only_if_refused(what) if refusal_ends_work() else db.session.begin_nested()


@sa.event.listens_for(TenantSession, "before_commit")
def _refuse_marked_commit(session) -> None:
    mark = session.info.get(_ROLLBACK_ONLY)
    if mark is not None:
        raise sa.exc.InvalidRequestError(f"{mark[0]} was refused half-done in this transaction: roll it back")


@sa.event.listens_for(TenantSession, "after_soft_rollback")
def _forget_mark_rolled_back(session, previous_transaction) -> None:
    mark = session.info.get(_ROLLBACK_ONLY)
    transaction = mark[1] if mark is not None else None
    while transaction is not None:  # the rolled back transaction held the marked one: undone
        if transaction is previous_transaction:
            session.info.pop(_ROLLBACK_ONLY, None)
            return
        transaction = transaction.parent


@sa.event.listens_for(TenantSession, "after_transaction_end")
def _forget_transaction_scoped(session, transaction) -> None:
    if transaction.parent is None:  # the unit of work's transaction, not a savepoint
        for key in _TRANSACTION_SCOPED:
            session.info.pop(key, None)


@contextlib.contextmanager
def job_unit():
    """Commit the job's work when the block ends normally; roll back when it raises."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def request_unit_open() -> bool:
    """True inside a request's unit of work that has not ended yet (a request the tenancy
    engine bound; not a Socket.IO event, a job, the CLI, or a request context built by code)."""
    return has_request_context() and bool(request.environ.get("gigforge.tenancy")) and not g.get("_uow_done")


def write_bookkeeping(statement) -> None:
    """Write ``statement``, bookkeeping of the bound tenant that must survive a refusal (a
    token's or a session's last use, an API key's call), with this request's commit: run in its
    transaction just before the commit, it needs no connection, ``BEGIN`` or ``COMMIT`` of its
    own. A request that rolls back (a refusal, a failed commit) writes it apart afterwards
    (``execute_apart``), as does a call outside a request's unit of work (Socket.IO, jobs, the
    CLI). The statement runs inside the request's transaction, so it must never wait for
    another's lock (an ``UPDATE`` of rows selected ``FOR NO KEY UPDATE SKIP LOCKED``:
    ``skip_locked_update``; an ``INSERT``, whose foreign keys' checks only share the rows) nor
    fail.

    ``statement`` may instead be a function of the request's final answer returning the
    statement (``builder(response)``: a call log's status), built when the unit of work ends,
    with the error answer when the commit failed; only inside a request's unit of work."""
    if request_unit_open():
        g.setdefault(_BOOKKEEPING, []).append((current_tenant(), statement, None))
        return
    if not isinstance(statement, Executable):
        raise TypeError("a bookkeeping builder needs a request's unit of work (it is given the answer)")
    execute_apart(statement)


def bookkeeping_can_ride() -> bool:
    """True when bookkeeping may be written by one of this request's own statements (a read
    that also writes its row's last use: ``bookkeeping_written``): inside a request's unit of
    work and outside any savepoint, whose rollback would drop it unseen."""
    return request_unit_open() and not db.session().in_nested_transaction()


def bookkeeping_written(statement: Executable) -> None:
    """A statement of this request just wrote bookkeeping in its transaction (a read that also
    wrote its row's last use, when ``bookkeeping_can_ride()``): it commits with the request.
    Should that transaction not be the one the request commits (rolled back: a refusal, a
    failed commit, a rollback on the way), ``statement`` writes it again as
    ``write_bookkeeping`` would, with the request's commit or apart. Costs no statement when the
    request commits: a due last use is one statement fewer than with ``write_bookkeeping``."""
    g.setdefault(_BOOKKEEPING, []).append((current_tenant(), statement, db.session().get_transaction()))


def skip_locked_update(table: sa.Table, row_id: int, **values) -> sa.Update:
    """``UPDATE table SET values WHERE id = (the row, if no other transaction holds it)``: a
    last-use write never waits (parallel requests of one token at a minute's turn each try it;
    the one holding the row writes it, the others skip)."""
    # FOR NO KEY UPDATE (an UPDATE's own lock, the columns being no key): a foreign key's check
    # by another transaction (an API key's call row) shares the row with it, never waits on it.
    unlocked = (
        sa.select(table.c.id)
        .where(table.c.id == row_id)
        .with_for_update(skip_locked=True, key_share=True)
        .scalar_subquery()
    )
    return sa.update(table).where(table.c.id == unlocked).values(**values)


def touched_column(table: sa.Table, *where, **values) -> sa.Label:
    """A ``touched`` column that makes a read also write its row's bookkeeping: ``(SELECT id
    FROM touched)`` with ``WITH touched AS (UPDATE table SET values WHERE id = (SELECT id FROM
    table WHERE where FOR NO KEY UPDATE SKIP LOCKED) RETURNING id)``, the row's id when it was
    written, NULL when ``where`` did not hold or another transaction held the row (the write
    never waits, as ``skip_locked_update``). Add it to the read (``add_columns``); the CTE runs
    once whether or not the row is read, and the read sees the row as it was. The caller reports
    a write with ``bookkeeping_written`` (only when ``bookkeeping_can_ride()``).

    Name the whole statement's parameters apart from ``table``'s columns: SQLAlchemy adds
    ``SET column = :value`` to an UPDATE for every execution parameter that names one of its
    columns, and does so for an UPDATE in a CTE too."""
    due = sa.select(table.c.id).where(*where).with_for_update(skip_locked=True, key_share=True)
    touched = (
        sa.update(table)
        .where(table.c.id == due.scalar_subquery())
        .values(**values)
        .returning(table.c.id)
        .cte("touched")
    )
    return sa.select(touched.c.id).scalar_subquery().label("touched")


def _built(bookkeeping: list, response, *, skip_written_in=None) -> list:
    """``(tenant, statement)`` of each bookkeeping entry, builders given the final ``response``;
    without those already written in the transaction ``skip_written_in`` (the one committing)."""
    return [
        (tenant, item if isinstance(item, Executable) else item(response))
        for tenant, item, written_in in bookkeeping
        if written_in is None or written_in is not skip_written_in
    ]


def _write_apart(bookkeeping: list, response) -> None:
    for tenant, statement in _built(bookkeeping, response):
        try:
            execute_apart(statement, tenant)
        except sa.exc.SQLAlchemyError:  # the answer stands; a lost last-use time is logged
            log.exception("bookkeeping not written: %s", statement)


def execute_apart(statement, tenant=None) -> None:
    """Run ``statement`` in the bound (or given) tenant's schema on its own short connection,
    committed at once: bookkeeping that must survive the request's rollback and cannot ride on
    its commit (a refused request's last use or API key call, via ``write_bookkeeping``; the
    row of a file deleted after the commit that orphaned it; last use outside a request's unit
    of work).

    The connection comes from a pool of its own (``apart_engine``): the caller usually holds
    one of the main pool's connections already, and taking a second from the same pool is a
    deadlock once every connection is held by a caller waiting for its second (a burst of
    sockets connecting with fresh tokens did exactly that: the pool's 30 s timeout, then
    errors)."""
    with apart_engine().begin() as conn:
        conn.execution_options(schema_translate_map=translate_map(tenant or current_tenant()))
        conn.execute(statement)


_apart_engines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def apart_engine() -> sa.engine.Engine:
    """The app engine's twin for ``execute_apart``: the same connection factory (URL, connect
    arguments, the embedded server's hook) and settings, its own pool, made on first use."""
    engine = db.engine
    apart = _apart_engines.get(engine)
    if apart is None:
        apart = sa.create_engine(engine.url, pool=engine.pool.recreate())
        if guarded(engine):
            guard_one_schema(apart)
        _apart_engines[engine] = apart
    return apart
