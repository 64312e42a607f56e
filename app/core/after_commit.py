"""Run side effects only once the current transaction has committed.

SQLAlchemy fires ``after_commit`` / ``after_rollback`` for savepoints too
(``begin_nested()``: the ledger posts every transaction in one). A savepoint
release is not a commit: callbacks stay queued for the real one. A savepoint
rollback drops only what was queued inside that savepoint. The same rules hold
for every per-transaction list registered with ``register_transaction_list``
(the outbox's "events to enqueue after commit").
"""

from __future__ import annotations

import logging

from sqlalchemy import event

from tenants.db import TenantSession, db

log = logging.getLogger(__name__)
_KEY = "gigforge_after_commit"
_MARKS = "gigforge_savepoint_marks"
_TRANSACTION_LISTS = [_KEY]


def register_transaction_list(key: str) -> None:
    """Treat ``session.info[key]`` (a list appended to during a transaction) like the callbacks:
    entries added inside a savepoint that rolls back are dropped."""
    if key not in _TRANSACTION_LISTS:
        _TRANSACTION_LISTS.append(key)


def on_commit(fn, *args) -> None:
    """Call ``fn(*args)`` after the current session transaction commits (never on rollback)."""
    db.session.info.setdefault(_KEY, []).append((fn, args))


def in_savepoint(session) -> bool:
    """True while the session's innermost transaction is a savepoint (also inside the
    ``after_commit`` / ``after_rollback`` events of that savepoint)."""
    return session.in_nested_transaction()


@event.listens_for(TenantSession, "after_transaction_create")
def _mark_savepoint(session, transaction):
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[transaction] = {key: len(session.info.get(key) or ()) for key in _TRANSACTION_LISTS}


@event.listens_for(TenantSession, "after_transaction_end")
def _forget_savepoint(session, transaction):
    if transaction.nested:
        session.info.get(_MARKS, {}).pop(transaction, None)


@event.listens_for(TenantSession, "after_commit")
def _run(session):
    if in_savepoint(session):
        return  # a savepoint was released: the real commit is still to come
    for fn, args in session.info.pop(_KEY, ()):
        try:
            fn(*args)
        except Exception:
            log.exception("after-commit callback %r failed", fn)


@event.listens_for(TenantSession, "after_rollback")
def _drop(session):
    if not in_savepoint(session):
        session.info.pop(_KEY, None)
        return
    mark = session.info.get(_MARKS, {}).get(session.get_nested_transaction())
    if mark is None:
        return
    for key, length in mark.items():
        entries = session.info.get(key)
        if entries is not None and len(entries) > length:
            del entries[length:]
