"""Pooled connections are replaced by age (``DB_POOL_RECYCLE``) and by use (``DB_POOL_MAX_USES``):
one connection serves every tenant, and its PostgreSQL backend keeps the definition of every
relation it has opened, so without a bound its memory grows with the tenants it has served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import sqlalchemy as sa

from config import BASE_DIR
from tenants.db import db, limit_connection_uses


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
        print(json.dumps({"recycle": db.engine.pool._recycle, "pids": pids}))
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
        "LOG_LEVEL": "WARNING",
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["recycle"] == 120
    first, second, third = result["pids"]
    assert first == second != third
