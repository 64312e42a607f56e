"""Pooled connections are replaced by age (``DB_POOL_RECYCLE``) and by use (``DB_POOL_MAX_USES``):
one connection serves every tenant, and its PostgreSQL backend keeps the definition of every
relation it has opened, so without a bound its memory grows with the tenants it has served.
A connection idle for ``DB_PING_AFTER_IDLE`` seconds is checked with a round trip when it
leaves the pool, and replaced when its server is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

from config import BASE_DIR
from tenants.db import db, limit_connection_uses, ping_after_idle


def _backend_pids(engine, checkouts: int) -> list[int]:
    pids = []
    for _ in range(checkouts):
        with engine.connect() as conn:
            pids.append(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
    return pids


def _url(app) -> str:
    with app.app_context():
        return db.engine.url.render_as_string(hide_password=False)


def test_a_pooled_connection_is_replaced_after_its_last_use(app):
    engine = sa.create_engine(_url(app), pool_size=1, max_overflow=0)
    limit_connection_uses(engine, 3)
    try:
        pids = _backend_pids(engine, 7)
        assert pids[0] == pids[1] == pids[2]
        assert pids[3] == pids[4] == pids[5] != pids[0]
        assert pids[6] not in (pids[0], pids[3])
        with engine.connect() as conn:  # the replaced backends were closed, not left idle
            alive = conn.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:p)"),
                {"p": [pids[0], pids[3]]},
            ).scalar_one()
        assert alive == 0
    finally:
        engine.dispose()


def test_without_a_limit_the_pool_keeps_its_connection(app):
    engine = sa.create_engine(_url(app), pool_size=1, max_overflow=0)
    limit_connection_uses(engine, 0)
    try:
        assert len(set(_backend_pids(engine, 5))) == 1
    finally:
        engine.dispose()


class Clock:
    """The pool's idea of now, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pid(conn) -> int:
    return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(engine, *pids: int) -> None:
    """The server ends those backends (as a restart would), seen from another connection."""
    admin = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:  # the timeout: returns once they have exited
            ended = conn.execute(
                sa.text("SELECT bool_and(pg_terminate_backend(pid, 5000)) FROM unnest(:p) AS pid"),
                {"p": list(pids)},
            ).scalar_one()
        assert ended
    finally:
        admin.dispose()


def _pinged_engine(app, seconds: float, clock: Clock, pool_size: int = 1):
    engine = sa.create_engine(_url(app), pool_size=pool_size, max_overflow=0)
    ping_after_idle(engine, seconds, clock=clock)
    return engine


def _used_then_ended(engine) -> int:
    """A pooled connection used once and back in the pool, then ended by the server: its pid."""
    with engine.connect() as conn:
        pid = _pid(conn)
    _terminate(engine, pid)
    return pid


def test_a_connection_used_a_moment_ago_is_not_pinged_so_a_dead_server_is_found_by_its_statement(app):
    clock = Clock()
    engine = _pinged_engine(app, 2.0, clock)
    try:
        first = _used_then_ended(engine)
        clock.now += 1.9  # within the window: no round trip before the request's statement
        with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
            _pid(conn)
        with engine.connect() as conn:  # SQLAlchemy replaced it: the next request works
            assert _pid(conn) != first
    finally:
        engine.dispose()


def test_a_connection_idle_past_the_window_is_pinged_and_replaced_when_its_server_is_gone(app):
    clock = Clock()
    engine = _pinged_engine(app, 2.0, clock)
    try:
        first = _used_then_ended(engine)
        clock.now += 2.0
        with engine.connect() as conn:  # no error: the checkout found it dead and opened another
            second = _pid(conn)
        assert second != first
        with engine.connect() as conn:  # the new one is used again, not pinged away
            assert _pid(conn) == second
    finally:
        engine.dispose()


def test_a_failed_ping_replaces_every_older_connection_of_the_pool(app):
    clock = Clock()
    engine = _pinged_engine(app, 2.0, clock, pool_size=2)
    try:
        a, b = engine.connect(), engine.connect()
        pid_a, pid_b = _pid(a), _pid(b)
        a.close()  # back first: idle longest, handed out first (the pool is a queue)
        clock.now += 2.0
        b.close()  # back just now: would not be pinged
        _terminate(engine, pid_a, pid_b)
        with engine.connect() as first, engine.connect() as second:
            pids = {_pid(first), _pid(second)}  # b is replaced too, without an error
        assert pids.isdisjoint({pid_a, pid_b})
    finally:
        engine.dispose()


def test_zero_pings_at_every_checkout_and_a_negative_window_never(app):
    clock = Clock()
    always = _pinged_engine(app, 0, clock)
    never = _pinged_engine(app, -1, clock)
    try:
        with always.connect() as conn, never.connect() as other:
            pids = _pid(conn), _pid(other)
        _terminate(always, *pids)
        with always.connect() as conn:  # same instant, pinged anyway: replaced
            assert _pid(conn) != pids[0]
        clock.now += 3600
        with pytest.raises(sa.exc.OperationalError), never.connect() as conn:
            _pid(conn)
    finally:
        always.dispose()
        never.dispose()


SCRIPT = textwrap.dedent(
    """
    import json
    import sqlalchemy as sa
    from app import create_app
    from tenants.db import db

    app = create_app()
    with app.app_context():
        pids = []
        for _ in range(3):
            with db.engine.connect() as conn:
                pids.append(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        print(json.dumps({"recycle": db.engine.pool._recycle, "pre_ping": db.engine.pool._pre_ping,
                          "ping_after": app.config["DB_PING_AFTER_IDLE"], "pids": pids}))
    """
)


def test_the_application_pool_takes_both_bounds_from_the_environment(app):
    env = {
        **os.environ,
        "GIGFORGE_ENV": "development",
        "DATABASE_URL": _url(app),
        "REDIS_URL": app.config["REDIS_URL"],
        "DB_POOL_RECYCLE": "120",
        "DB_POOL_MAX_USES": "2",
        "DB_PING_AFTER_IDLE": "0.5",
        "LOG_LEVEL": "WARNING",
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["recycle"] == 120
    assert result["ping_after"] == 0.5 and result["pre_ping"] is False  # the idle ping replaces it
    first, second, third = result["pids"]
    assert first == second != third
