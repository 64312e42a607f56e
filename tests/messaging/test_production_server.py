"""The Procfile's web command (gunicorn, gthread, one worker, many threads) serves websockets."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _procfile_web() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise AssertionError("Procfile has no web process")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_procfile_web_command_uses_one_gthread_worker():
    command = _procfile_web()
    assert "--worker-class gthread" in command and "--workers 1" in command and "--threads" in command


@pytest.fixture
def gunicorn_server(app, tmp_path):
    port = _free_port()
    env = dict(os.environ)
    env.update(
        PORT=str(port),
        # A directory of its own: gunicorn's master empties the one it is given (the test
        # process's own would lose its open counter files).
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        GIGFORGE_ENV="testing",
        TEST_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        TEST_REDIS_URL=app.config["REDIS_URL"],
        TEST_INSTANCE_DIR=app.config["INSTANCE_DIR"],
        WEB_THREADS="20",
    )
    expanded = subprocess.run(
        ["bash", "-c", f"echo {_procfile_web()}"], env=env, capture_output=True, text=True, check=True
    ).stdout
    argv = shlex.split(expanded)
    argv[0] = str(ROOT / ".venv" / "bin" / "gunicorn") if (ROOT / ".venv/bin/gunicorn").exists() else argv[0]
    argv = [a.replace("0.0.0.0", "127.0.0.1") for a in argv]  # noqa: S104  (the Procfile's bind, made local)
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def serving() -> bool:
        # An answered request, not an open port: gunicorn's master listens before its worker
        # has imported the app, and a websocket handshake meanwhile times out.
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                return response.status == 200
        except OSError:
            if process.poll() is not None:
                raise AssertionError(process.stdout.read().decode()[-3000:]) from None
            return False

    try:
        wait_until(serving, timeout=60, message="gunicorn did not start serving")
    except BaseException:
        process.kill()
        process.wait(timeout=15)
        raise
    yield port
    process.terminate()
    process.wait(timeout=15)


def test_websocket_chat_through_the_production_command(
    gunicorn_server, acme, make_user, start_conversation, access_token
):
    import socketio

    buyer, seller = make_user(acme), make_user(acme)
    cid = start_conversation(acme, buyer, seller)
    host = f"acme.localhost:{gunicorn_server}"
    received = []
    clients = []
    for user in (buyer, seller):
        client = socketio.Client(
            reconnection=False, websocket_extra_options={"host": host, "origin": f"http://{host}"}
        )
        client.on("message", received.append)
        client.connect(
            f"http://127.0.0.1:{gunicorn_server}",
            auth={"token": access_token(acme, user)},
            transports=["websocket"],
            wait_timeout=10,
        )
        assert client.transport() == "websocket"
        assert client.call("join", {"conversation_id": cid}, timeout=10)["ok"]
        clients.append(client)
    try:
        ack = clients[0].call("send_message", {"conversation_id": cid, "body": "over gunicorn"}, timeout=10)
        assert ack["ok"], ack
        wait_until(lambda: len(received) >= 2, timeout=10, message="both clients receive the message")
        assert [m["body"] for m in received] == ["over gunicorn", "over gunicorn"]
    finally:
        for client in clients:
            client.disconnect()
