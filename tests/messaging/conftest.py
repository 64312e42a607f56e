"""Messaging test kit: a live Socket.IO server, python-socketio clients, users, logins, tokens."""

from __future__ import annotations

import re
import threading
import time

import pytest
import socketio
from werkzeug.serving import make_server

from app.accounts.models import User
from app.accounts.services import upsert_seller_profile
from app.accounts.tokens import issue_token_pair
from app.messaging import services
from app.messaging.models import Message
from tenants.db import db

PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no csrf_token on {path}"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


class SocketServer:
    """The app (with its Socket.IO middleware) on a threaded werkzeug server: the same
    stack as ``socketio.run`` in threading mode; websockets through simple-websocket."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def host(self, slug: str) -> str:
        return f"{slug}.localhost:{self.port}"

    def url(self, slug: str, path: str = "/") -> str:
        return f"http://{self.host(slug)}{path}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def socket_server(app):
    server = SocketServer(app).start()
    yield server
    server.stop()


class ChatClient:
    """A python-socketio client that records every event it receives."""

    def __init__(
        self, server: SocketServer, slug: str, *, cookie: str | None = None, token: str | None = None
    ):
        host = server.host(slug)
        # Dial 127.0.0.1 but present the tenant's Host and a same-origin Origin, as a browser does.
        self.sio = socketio.Client(
            reconnection=False,
            websocket_extra_options={"host": host, "origin": f"http://{host}"},
        )
        self.events: list[tuple[str, object]] = []
        self.condition = threading.Condition()
        self.refused = None
        self._base = f"http://127.0.0.1:{server.port}"
        self._headers = {"Cookie": f"session={cookie}"} if cookie else {}
        self._auth = {"token": token} if token else None

        @self.sio.on("*")
        def _any(event, *args):
            with self.condition:
                self.events.append((event, args[0] if args else None))
                self.condition.notify_all()

        @self.sio.on("connect_error")
        def _on_connect_error(data):
            self.refused = data

    def connect(self):
        self.sio.connect(
            self._base, headers=self._headers, auth=self._auth, transports=["websocket"], wait_timeout=5
        )
        return self

    def call(self, event: str, data=None, timeout: float = 5):
        return self.sio.call(event, data, timeout=timeout)

    def emit(self, event: str, data=None):
        self.sio.emit(event, data)

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
            ws = getattr(self.sio.eio, "ws", None)
            if ws is not None:  # websocket-client waits 3 s for the close handshake by default
                close = ws.close
                ws.close = lambda *args, **kwargs: close(timeout=0.2)
            self.sio.disconnect()


@pytest.fixture
def chat_client(socket_server):
    """``chat_client("acme", cookie=... | token=...)`` -> a connected ChatClient (closed after the test)."""
    clients: list[ChatClient] = []

    def factory(slug: str, *, cookie: str | None = None, token: str | None = None, connect: bool = True):
        client = ChatClient(socket_server, slug, cookie=cookie, token=token)
        clients.append(client)
        return client.connect() if connect else client

    yield factory
    # In parallel: each client's read loop may take up to its request timeout to notice.
    closers = [threading.Thread(target=client.disconnect) for client in clients]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(10)


@pytest.fixture
def make_seller(make_user, in_tenant):
    def factory(tenant, email=None, display_name=None):
        user_id = make_user(tenant, email=email, display_name=display_name)
        with in_tenant(tenant):
            upsert_seller_profile(db.session.get(User, user_id), headline="Designer for hire")
            db.session.commit()
        return user_id

    return factory


@pytest.fixture
def access_token(in_tenant):
    """``access_token(tenant, user_id)`` -> a fresh API access token."""

    def issue(tenant, user_id: int) -> str:
        with in_tenant(tenant):
            pair = issue_token_pair(db.session.get(User, user_id))
            db.session.commit()
            return pair["access_token"]

    return issue


@pytest.fixture
def session_cookie(tenant_client):
    """``session_cookie(tenant, email)`` -> the value of a logged-in web session cookie."""

    def sign_in(tenant, email: str) -> str:
        client = tenant_client(tenant.slug)
        login(client, email)
        cookie = client.get_cookie("session", domain=client.host)
        assert cookie is not None
        return cookie.value

    return sign_in


@pytest.fixture
def start_conversation(in_tenant):
    """``start_conversation(tenant, buyer_id, seller_id)`` -> conversation id."""

    def start(tenant, buyer_id: int, seller_id: int, gig_id=None) -> int:
        with in_tenant(tenant):
            conversation = services.start_direct_conversation(
                db.session.get(User, buyer_id), seller_id, gig_id=gig_id
            )
            db.session.commit()
            return conversation.id

    return start


@pytest.fixture
def message_count(in_tenant):
    def count(tenant) -> int:
        with in_tenant(tenant):
            return db.session.scalar(db.select(db.func.count(Message.id)))

    return count


@pytest.fixture
def user_of(in_tenant):
    """``with user_of(tenant, user_id) as user:`` -> the User, tenant bound, commit yourself."""
    import contextlib

    @contextlib.contextmanager
    def bind(tenant, user_id):
        with in_tenant(tenant):
            yield db.session.get(User, user_id)

    return bind


@pytest.fixture
def web():
    """The web helpers above, for test modules (test directories are not packages)."""
    from types import SimpleNamespace

    return SimpleNamespace(csrf_token=csrf_token, login=login)
