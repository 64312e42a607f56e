"""Test kit of the webhooks: a real local HTTP receiver (http.server in a thread) that answers
as told (200, 500, slow), a port where nothing listens (a receiver that is down), the seeded
admin of a tenant, and helpers to publish an event and run the jobs that deliver it."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.webhooks import services
from tenants.db import db
from tests.gigs.conftest import make_gig  # noqa: F401  (fixture: a complete, active gig)


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``status``: what to answer; ``hold``: set -> answer at once, cleared -> wait (slow)."""

    status: int = 200
    answer: bytes = b'{"ok": true}'
    received: list[Received] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self) -> list[dict]:
        return [r.json for r in self.received]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as partners' servers do

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.hold.wait(30)  # cleared: a slow receiver (released at teardown)
            receiver.received.append(Received(self.path, dict(self.headers), body, time.time()))
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(receiver.answer)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(receiver.answer)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver():
    """``receiver()`` -> a running Receiver (stopped at teardown)."""
    started: list[Receiver] = []

    def start(status: int = 200) -> Receiver:
        r = Receiver(status=status)
        r.hold.set()
        r.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(r))
        r.server.daemon_threads = True
        threading.Thread(target=r.server.serve_forever, daemon=True).start()
        started.append(r)
        return r

    yield start
    for r in started:
        r.hold.set()
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture
def dead_url():
    """A URL where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def admin_of(tenant) -> User:
    """The tenant's seeded admin, in the bound session."""
    return db.session.scalar(sa.select(User).where(User.email == f"admin@{tenant.slug}.test"))


@pytest.fixture
def make_endpoint(in_tenant):
    """``make_endpoint(tenant, url, types=["*"])`` -> (endpoint id, secret), committed."""

    def make(tenant, url, types=("*",), **kwargs):
        with in_tenant(tenant):
            endpoint, secret = services.create_endpoint(
                admin_of(tenant), url=url, event_types=list(types), **kwargs
            )
            db.session.commit()
            return endpoint.id, secret

    return make


@pytest.fixture
def deliver(run_jobs):
    """Run the outbox and webhook jobs until the queues are empty."""

    def run():
        run_jobs(("events", "webhooks", "default"))

    return run
