"""Production configuration: the Procfile's processes start and serve (issue 12, finding 1)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys

import pytest
import requests
from cryptography.fernet import Fernet
from rq import Queue

from config import DEV_SECRET_KEY
from tests.hardening.conftest import ROOT, procfile, production_env
from tests.helpers import wait_until


def _validate_in_a_fresh_process(**values) -> subprocess.CompletedProcess:
    """config.py reads the environment at import, so the check runs where it is imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "MAIL_BACKEND")}
    env.update(
        DATABASE_URL="postgresql+psycopg://db.internal/gigforge",
        REDIS_URL="redis://redis.internal:6379/0",
        SECRET_KEY=secrets.token_urlsafe(48),
        PAYMENT_SECRETS_KEY=Fernet.generate_key().decode(),
        BASE_DOMAIN="gigforge.example",
        MAIL_SERVER="smtp.internal",
    )
    env.update(values)
    return subprocess.run(
        [sys.executable, "-c", "import config; config.ProductionConfig.validate()"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_accepts_a_strong_random_secret_key():
    result = _validate_in_a_fresh_process()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", [DEV_SECRET_KEY, "short-secret"])
def test_production_refuses_the_development_or_a_short_secret_key(secret):
    result = _validate_in_a_fresh_process(SECRET_KEY=secret)
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a random value" in result.stderr


def test_procfile_web_and_worker_serve_a_tenant_in_production(app, processes, production_web, tmp_path):
    web, port = production_web()
    worker = processes.start(procfile()["worker"], production_env(app, tmp_path / "instance"), "worker")

    response = requests.get(
        f"http://127.0.0.1:{port}/", headers={"Host": f"acme.gigforge.test:{port}"}, timeout=30
    )
    assert response.status_code == 200, web.output()[-3000:]
    assert "Acme Test Market" in response.text
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    _assert_large_bodies_are_refused(port)

    # The worker runs a real job of the app in production configuration.
    with app.app_context():
        from app.extensions import redis_store

        job = Queue("default", connection=redis_store.client).enqueue("app.events.tasks.relay_outbox")

        def finished() -> bool:
            assert worker.alive(), worker.output()[-3000:]
            status = job.get_status(refresh=True)
            assert status != "failed", job.latest_result()
            return status == "finished"

        wait_until(finished, 60, message=lambda: worker.output()[-3000:])
        assert job.return_value() == 0
    assert worker.alive() and web.alive()


def test_procfile_release_runs_in_production(app, processes, tmp_path):
    env = production_env(app, tmp_path / "instance")
    release = processes.start(procfile()["release"], env, "release")
    assert release.wait(timeout=120) == 0, release.output()[-3000:]


def _assert_large_bodies_are_refused(port: int) -> None:
    """Through gunicorn: a declared 50 MiB is refused before a byte of it is sent; a chunked
    body is refused once it passes the JSON limit."""
    host = f"acme.gigforge.test:{port}"
    head = f"POST /api/v1/auth/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"{head}Content-Length: {50 * 1024 * 1024}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 413 ")

    def chunks():
        yield b'{"email": "a@example.com", "password": "'
        for _ in range(4):
            yield b"x" * (512 * 1024)
        yield b'"}'

    response = requests.post(
        f"http://127.0.0.1:{port}/api/v1/auth/token",
        data=chunks(),  # a generator: requests sends it chunked, without a Content-Length
        headers={"Host": host, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["code"] == 413
