"""Notifications test kit: users in a conversation, logins, tokens, scheduled jobs, a live Socket.IO server.

The Socket.IO server and client are copied from tests/messaging/conftest.py (test
directories are not packages, and tests never import each other's conftest).
"""

from __future__ import annotations

import re
import threading
import time

import pytest
import socketio
from rq import Queue

from app.accounts.models import User
from app.accounts.tokens import issue_token_pair
from app.extensions import redis_store
from app.messaging import services as messaging
from app.notifications.models import Notification
from tenants.db import db

PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(client, path: str) -> str:
    """GET ``path`` and return the first CSRF token on it."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no csrf_token on {path}"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


@pytest.fixture
def web():
    from types import SimpleNamespace

    return SimpleNamespace(csrf_token=csrf_token, login=login)


@pytest.fixture
def pair(acme, make_user, in_tenant):
    """acme: Bea (buyer) and Sam (seller) in one direct conversation -> (bea, sam, conversation_id)."""
    bea = make_user(acme, email="bea@example.com", display_name="Bea Buyer")
    sam = make_user(acme, email="sam@example.com", display_name="Sam Seller")
    with in_tenant(acme):
        conversation = messaging.start_direct_conversation(db.session.get(User, bea), sam)
        db.session.commit()
        return bea, sam, conversation.id


@pytest.fixture
def post(in_tenant):
    """``post(tenant, sender_id, conversation_id, body)`` -> message id (committed, as a request would)."""

    def send(tenant, sender_id: int, conversation_id: int, body: str) -> int:
        with in_tenant(tenant):
            message = messaging.post_message(db.session.get(User, sender_id), conversation_id, body)
            db.session.commit()
            return message.id

    return send


@pytest.fixture
def notifications_of(in_tenant):
    """``notifications_of(tenant, user_id)`` -> that user's Notification rows (detached), oldest first."""

    def fetch(tenant, user_id: int) -> list[Notification]:
        with in_tenant(tenant):
            rows = db.session.scalars(
                db.select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
            ).all()
            for row in rows:
                db.session.expunge(row)
            return list(rows)

    return fetch


@pytest.fixture
def release_scheduled(app):
    """Move every job scheduled with ``enqueue_in`` onto its queue now, as if its time had come.

    ``run_jobs()`` runs a burst worker without RQ's scheduler; production workers
    run with it (``flask worker``). Returns how many jobs were released.
    """

    def release(queue_name: str = "default") -> int:
        with app.app_context():
            queue = Queue(queue_name, connection=redis_store.client)
            registry = queue.scheduled_job_registry
            released = 0
            for job_id in registry.get_job_ids():
                job = queue.fetch_job(job_id)
                registry.remove(job_id)
                if job is not None:
                    queue.enqueue_job(job)
                    released += 1
            return released

    return release


@pytest.fixture
def access_token(in_tenant):
    """``access_token(tenant, user_id)`` -> a fresh API access token."""

    def issue(tenant, user_id: int) -> str:
        with in_tenant(tenant):
            pair = issue_token_pair(db.session.get(User, user_id))
            db.session.commit()
            return pair["access_token"]

    return issue


# --- a live Socket.IO server: the messaging tests' own -------------------------------------

from tests.messaging.conftest import SocketServer, socket_server  # noqa: E402, F401, F811


class SocketClient:
    """A python-socketio client that records every event it receives."""

    def __init__(self, server: SocketServer, slug: str, *, token: str):
        host = server.host(slug)
        self.sio = socketio.Client(
            reconnection=False,
            websocket_extra_options={"host": host, "origin": f"http://{host}"},
        )
        self.events: list[tuple[str, object]] = []
        self.condition = threading.Condition()
        self._base = f"http://127.0.0.1:{server.port}"
        self._auth = {"token": token}

        @self.sio.on("*")
        def _any(event, *args):
            with self.condition:
                self.events.append((event, args[0] if args else None))
                self.condition.notify_all()

    def connect(self):
        self.sio.connect(self._base, auth=self._auth, transports=["websocket"], wait_timeout=5)
        return self

    def of(self, name: str) -> list:
        with self.condition:
            return [data for event, data in self.events if event == name]

    def wait_for(self, name: str, predicate=lambda data: True, timeout: float = 5):
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for event, data in self.events:
                    if event == name and predicate(data):
                        return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {name!r} event within {timeout}s; got {self.events!r}")
                self.condition.wait(remaining)

    def disconnect(self):
        if self.sio.connected:
            self.sio.disconnect()


@pytest.fixture
def socket_client(socket_server):  # noqa: F811  (the fixture imported above)
    """``socket_client("acme", token=...)`` -> a connected SocketClient (closed after the test)."""
    clients: list[SocketClient] = []

    def factory(slug: str, *, token: str) -> SocketClient:
        client = SocketClient(socket_server, slug, token=token)
        clients.append(client)
        return client.connect()

    yield factory
    for client in clients:
        client.disconnect()
