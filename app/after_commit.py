"""Run side effects only once the current transaction has committed."""

from __future__ import annotations

import logging

from sqlalchemy import event

from tenants.db import TenantSession, db

log = logging.getLogger(__name__)
_KEY = "gigforge_after_commit"


def on_commit(fn, *args) -> None:
    """Call ``fn(*args)`` after the current session transaction commits (never on rollback)."""
    db.session.info.setdefault(_KEY, []).append((fn, args))


@event.listens_for(TenantSession, "after_commit")
def _run(session):
    for fn, args in session.info.pop(_KEY, ()):
        try:
            fn(*args)
        except Exception:
            log.exception("after-commit callback %r failed", fn)


@event.listens_for(TenantSession, "after_rollback")
def _drop(session):
    session.info.pop(_KEY, None)
