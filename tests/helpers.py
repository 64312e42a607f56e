"""Waiting in tests without depending on the clock.

Tests never sleep to let something happen. A service that schedules or expires
takes ``now`` (or the test moves the module's clock); "nothing more arrived" is
proven by sending a later, known event through the same path and waiting for
*it* (see ``mail_settled`` in tests/conftest.py and the socket tests). Where a
real thread, process or server does the work, ``wait_until`` polls for the
condition the test needs: its timeout only bounds a failure, and no assertion
depends on how long the wait took. This module is the only place in the tests
that sleeps, in small steps, between two looks at a condition.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

T = TypeVar("T")

POLL_STEP = 0.01


def wait_until(
    condition: Callable[[], T], timeout: float = 10.0, *, message: str | Callable[[], str] | None = None
) -> T:
    """Call ``condition()`` until it returns something truthy, and return that.

    Fails the test when ``timeout`` seconds pass first, with ``message`` (or what
    ``message()`` says then: e.g. a process's log). For conditions that a real
    thread, process or server makes true; not a way to let time pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            name = getattr(condition, "__name__", condition)
            if callable(message):
                message = message()
            pytest.fail(message or f"{name} not true within {timeout}s")
        time.sleep(POLL_STEP)


def backends_waiting_for_a_lock(app) -> int:
    """How many sessions of the test database are waiting for a lock (a row, a transaction) now."""
    from tenants.db import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


# --- signing in on the web and through the API ----------------------------------------------
# Test folders are not packages and never import each other's conftest for these: the
# helpers below serve every folder (conftests re-export them for their modules' ``web``/``kit``).

PASSWORD = "correct-horse-battery"  # make_user's default password
# Any form's token, prefixed ones too (``approve-csrf_token``): the value is the same for all.
CSRF_RE = re.compile(
    r'name="[\w-]*csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="[\w-]*csrf_token"'
)
IDEM_RE = re.compile(r'name="idempotency_key" value="([^"]+)"')


def form_tokens(client, path: str) -> dict:
    """GET ``path``: the CSRF token and (when the page has one) a form's idempotency key."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    html = response.get_data(as_text=True)
    csrf = CSRF_RE.search(html)
    assert csrf, f"no csrf_token on {path}"
    tokens = {"csrf_token": csrf.group(1) or csrf.group(2)}
    idem = IDEM_RE.search(html)
    if idem:
        tokens["idempotency_key"] = idem.group(1)
    return tokens


def csrf_token(client, path: str) -> str:
    """GET ``path`` and return the CSRF token of its forms."""
    return form_tokens(client, path)["csrf_token"]


def post_form(client, page: str, data: dict, action: str | None = None, **kwargs):
    """Submit the form of ``page`` (to ``action`` or the page itself) with a fresh CSRF token."""
    token = csrf_token(client, page)
    return client.post(action or page, data={"csrf_token": token, **data}, **kwargs)


def login(client, email: str, password: str = PASSWORD):
    """Sign ``client`` in through the login form (asserting the redirect); returns the client."""
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def bearer_headers(client, email: str, password: str = PASSWORD) -> dict:
    """The ``Authorization`` header of a bearer token for ``email`` (POST /api/v1/auth/token)."""
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}


# --- a live server and Socket.IO clients -------------------------------------------------------


class LiveServer:
    """The app (with its Socket.IO middleware) on a threaded werkzeug server: the same
    stack as ``socketio.run`` in threading mode; websockets through simple-websocket."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()


class SocketServer(LiveServer):
    """A live server addressed by tenant slug (``acme.localhost:<port>``)."""

    def host(self, slug: str) -> str:
        return f"{slug}.localhost:{self.port}"

    def url(self, slug: str, path: str = "/") -> str:
        return f"http://{self.host(slug)}{path}"


class ChatClient:
    """A python-socketio client that records every event it receives."""

    def __init__(
        self, server: SocketServer, slug: str, *, cookie: str | None = None, token: str | None = None
    ):
        import socketio

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


def close_all(clients: list[ChatClient]) -> None:
    """Disconnect clients in parallel: each read loop may take up to its request timeout to notice."""
    closers = [threading.Thread(target=client.disconnect) for client in clients]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(10)


def race_for_a_lock(app, in_tenant, tenant, first, second, refusal: type[Exception]) -> dict:
    """Run ``first()`` and ``second()`` in two threads, each in ``tenant``'s own transaction.

    ``first``'s transaction stays open (holding its locks) until ``second`` is seen waiting for
    a lock; then both commit. ``second`` may be refused with ``refusal`` (rolled back).
    Returns {"first": "ok" or its exception, "second": "ok" or the refusal}.
    """
    from tenants.db import db

    first_done = threading.Event()
    second_waits = threading.Event()
    results: dict[str, object] = {}

    def run_first():
        with in_tenant(tenant):
            try:
                first()
                first_done.set()
                second_waits.wait(10)  # keep the transaction (and its locks) open until then
                db.session.commit()
                results["first"] = "ok"
            except Exception as exc:  # noqa: BLE001  (reported to the test)
                first_done.set()
                results["first"] = exc

    def run_second():
        first_done.wait(5)
        with in_tenant(tenant):
            try:
                second()
                db.session.commit()
                results["second"] = "ok"
            except refusal as exc:
                db.session.rollback()
                results["second"] = exc

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: backends_waiting_for_a_lock(app) == 1, message="the second waits for a lock")
    finally:
        second_waits.set()
    for thread in threads:
        thread.join(10)
    return results


def watched_page(context, errors: list):
    """A new page of the browser ``context`` whose script errors and failed responses (status
    400 and above, the favicon's aside) are appended to ``errors``."""
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: r.status >= 400 and "favicon" not in r.url and errors.append(f"{r.status} {r.url}"),
    )
    return page


@contextlib.contextmanager
def counting_statements(app) -> Iterator[list[str]]:
    """The SQL statements sent through the app's engine from this thread inside the block, in
    order (another thread's work meanwhile, a pool's or a server's, is not the block's)."""
    from tenants.db import db

    statements: list[str] = []
    thread = threading.get_ident()

    def record(conn, cursor, statement, *args):
        if threading.get_ident() == thread:
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def statements_of(app, call: Callable[[], object]) -> list[str]:
    """The SQL statements ``call()`` sends through the app's engine (``counting_statements``)."""
    with counting_statements(app) as statements:
        call()
    return statements


def statement_listing(statements: list[str]) -> str:
    """``statements`` numbered, one line each (an assertion's message)."""
    return "\n".join(f"{n:3d} {' '.join(s.split())[:120]}" for n, s in enumerate(statements, 1))


def child_env(app, tmp_path) -> dict[str, str]:
    """The testing configuration on this worker's database and Redis, for a process of its own
    (its instance folder under ``tmp_path``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TEST_"))}
    env.update(
        GIGFORGE_ENV="testing",
        TEST_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        TEST_REDIS_URL=app.config["REDIS_URL"],
        TEST_INSTANCE_DIR=str(tmp_path / "instance"),
        LOG_LEVEL="WARNING",
    )
    return env
