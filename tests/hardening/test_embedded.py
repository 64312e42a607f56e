"""The embedded PostgreSQL and Redis start on first need, not with every `flask` command (finding 6)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.core import embedded
from app.core.embedded import EmbeddedServices, _socket_path, stop_all
from tests.hardening.conftest import ROOT, VENV_BIN


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{entry}: {cmdline}")
    return found


def _nothing_started(instance_dir: Path) -> list[str]:
    files = (
        instance_dir / "pgdata" / "postmaster.pid",
        instance_dir / "redis.pid",
        _socket_path(instance_dir, "redis.sock"),
    )
    return [str(p) for p in files if p.exists()] + _processes_mentioning(str(instance_dir))


@pytest.fixture
def bare_environment(tmp_path):
    """Development configuration without DATABASE_URL / REDIS_URL, instance dir of the test's own."""
    instance_dir = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "GIGFORGE_", "PYTEST"))}
    for key in ("DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", INSTANCE_DIR=str(instance_dir))
    yield instance_dir, env
    stop_all(instance_dir)  # had anything started after all, it does not outlive the test


@pytest.mark.parametrize("command", [["--help"], ["embedded", "stop"], ["tenants", "--help"]])
def test_commands_that_need_no_database_start_nothing(bare_environment, command):
    instance_dir, env = bare_environment
    result = subprocess.run(
        ["flask", "--app", "wsgi", *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert _nothing_started(instance_dir) == []
    assert "Started the embedded" not in result.stderr


class _Starters:
    """start_postgres / start_redis stand-ins that record their calls."""

    def __init__(self, monkeypatch, socket_dir="/run/real-socket-dir"):
        self.calls = []
        monkeypatch.setattr(embedded, "start_postgres", self.postgres)
        monkeypatch.setattr(embedded, "start_redis", self.redis)
        self.socket_dir = socket_dir

    def postgres(self, instance_dir, database, *, fast_unsafe=False):
        self.calls.append(("postgres", database))
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def redis(self, instance_dir, *, persist=True):
        self.calls.append(("redis", persist))
        return "unix:///ignored.sock"


def test_urls_are_known_before_anything_starts(tmp_path, monkeypatch):
    starters = _Starters(monkeypatch)
    config = {"INSTANCE_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": None, "REDIS_URL": None}
    services = EmbeddedServices(config)
    services.configure(config)
    pgdata = tmp_path / "pgdata"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"postgresql+psycopg://postgres@/gigforge?host={pgdata}"
    assert config["REDIS_URL"] == f"unix://{_socket_path(tmp_path, 'redis.sock')}"
    assert starters.calls == []


def test_the_first_connection_starts_them_once_and_says_so(tmp_path, monkeypatch, capsys):
    starters = _Starters(monkeypatch)
    config = {"INSTANCE_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": None, "REDIS_URL": None}
    services = EmbeddedServices(config)
    cparams = {"host": str(tmp_path / "pgdata"), "dbname": "gigforge"}
    services._before_connect(None, None, [], cparams)
    services._before_connect(None, None, [], dict(cparams))
    assert starters.calls == [("postgres", "gigforge"), ("redis", True)]
    assert cparams["host"] == "/run/real-socket-dir"  # where the server really listens
    assert "Started the embedded PostgreSQL" in capsys.readouterr().err


def test_a_tenant_commands_connection_starts_postgres_alone(tmp_path, monkeypatch):
    """The tenant commands' app (``redis_on_connect=False``) leaves Redis to its first use."""
    starters = _Starters(monkeypatch)
    config = {"INSTANCE_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": None, "REDIS_URL": None}
    services = EmbeddedServices(config)
    services.redis_on_connect = False
    cparams = {"host": str(tmp_path / "pgdata"), "dbname": "gigforge"}
    services._before_connect(None, None, [], cparams)
    services._before_connect(None, None, [], dict(cparams))
    assert starters.calls == [("postgres", "gigforge")]
    services.ensure()
    services.ensure()
    assert starters.calls == [("postgres", "gigforge"), ("redis", True)]


def test_the_redis_clients_first_use_starts_redis_alone(tmp_path, monkeypatch):
    """``redis_store.client`` is made on first use, and starts the app's embedded Redis first."""
    from flask import Flask

    from app.extensions import redis_store

    starters = _Starters(monkeypatch)
    config = {"INSTANCE_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": None, "REDIS_URL": None}
    services = EmbeddedServices(config)
    services.configure(config)
    app = Flask(__name__)
    app.config.update(config)
    services.init_app(app, [], redis_on_connect=False)
    with app.app_context():
        assert "redis" not in app.extensions and starters.calls == []
        client = redis_store.client
        assert redis_store.client is client is app.extensions["redis"]
    assert starters.calls == [("redis", True)]
    assert client.connection_pool.connection_kwargs["path"] == str(_socket_path(tmp_path, "redis.sock"))


def test_configured_urls_need_no_embedded_server(tmp_path, monkeypatch):
    starters = _Starters(monkeypatch)
    config = {
        "INSTANCE_DIR": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": "postgresql://db/x",
        "REDIS_URL": "redis://r",
    }
    services = EmbeddedServices(config)
    services.configure(config)
    services.ensure()
    assert not services.needed and starters.calls == []
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql://db/x"


def test_an_app_starts_them_at_its_first_request_or_database_connection(tmp_path, monkeypatch):
    """The wiring of init_app, on a bare Flask app (a second create_app would rebind the
    session app's extensions)."""
    import sqlalchemy as sa
    from flask import Flask

    starters = _Starters(monkeypatch, socket_dir=str(tmp_path / "nothing-listens-here"))
    config = {"INSTANCE_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": None, "REDIS_URL": None}
    services = EmbeddedServices(config)
    services.configure(config)
    engine = sa.create_engine(config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    app = Flask(__name__)
    app.get("/ping")(lambda: "pong")
    services.init_app(app, [engine])
    assert starters.calls == []  # wiring starts nothing

    with pytest.raises(sa.exc.OperationalError, match="nothing-listens-here"):
        engine.connect()  # the hook started the (fake) servers, then dialled their real socket
    assert starters.calls == [("postgres", "gigforge"), ("redis", True)]

    services._running.clear()
    starters.calls.clear()
    assert app.test_client().get("/ping").data == b"pong"
    assert starters.calls == [("postgres", "gigforge"), ("redis", True)]
