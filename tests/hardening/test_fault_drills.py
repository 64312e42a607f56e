"""Fault drills: the worker killed mid-burst, Redis restarted under load, PostgreSQL cut away.

Each drill runs the real processes (the Procfile's worker, gunicorn) against the suite's
database, with a private redis-server (``private_redis``) or a TCP proxy in front of
PostgreSQL that the test cuts and restores. Every wait is ``wait_until`` on a condition the
processes make true; timeouts only bound a failure.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter

import pytest
import redis
import requests
import sqlalchemy as sa

from app.accounts.models import User
from app.events.models import OutboxEvent, ProcessedEvent
from app.events.services import publish
from app.extensions import connect_redis
from app.mail.models import EmailMessage
from app.notifications import services as notifications
from app.notifications.models import Notification
from tenants.db import db
from tests.hardening.conftest import free_port, procfile, production_env
from tests.helpers import wait_until

pytestmark = pytest.mark.slow

EVENT = "account.password_changed"  # one handler (notifications): a password_changed notification


@pytest.fixture
def on_private_redis(app, private_redis, monkeypatch):
    """This process's app enqueues on the private Redis too (as the web processes would)."""
    monkeypatch.setitem(app.extensions, "redis", connect_redis(private_redis.url))
    # Enqueued events are not due for the relay at once: the relay is the fallback, not the path.
    monkeypatch.setitem(app.config, "OUTBOX_RELAY_GRACE_SECONDS", 2)
    return private_redis


@pytest.fixture
def start_worker(app, processes, tmp_path, private_redis):
    def start(**overrides: str):
        env = production_env(
            app,
            tmp_path / "instance",
            REDIS_URL=private_redis.url,
            OUTBOX_RELAY_INTERVAL_SECONDS="1",
            OUTBOX_RELAY_GRACE_SECONDS="2",
            **overrides,
        )
        return processes.start(procfile()["worker"], env, "worker")

    return start


def _publish(in_tenant, tenant, user_ids: list[int]) -> None:
    """One ``account.password_changed`` per user, each committed on its own (a burst of requests)."""
    for user_id in user_ids:
        with in_tenant(tenant):
            publish(EVENT, {"user_id": user_id})
            db.session.commit()


def _counts(in_tenant, tenant) -> dict[str, int]:
    with in_tenant(tenant):
        scalar = db.session.scalar
        return {
            "dispatched": scalar(
                sa.select(sa.func.count()).where(
                    OutboxEvent.name == EVENT, OutboxEvent.status == "dispatched"
                )
            ),
            "processed": scalar(sa.select(sa.func.count()).select_from(ProcessedEvent)),
            "notifications": scalar(
                sa.select(sa.func.count()).where(Notification.kind == "password_changed")
            ),
        }


def _users(make_user, tenant, n: int, prefix: str) -> list[int]:
    return [make_user(tenant, email=f"{prefix}{i}@example.com") for i in range(n)]


def test_a_worker_killed_mid_burst_loses_and_doubles_nothing(
    acme, make_user, in_tenant, on_private_redis, start_worker
):
    n = 80
    import time

    t0 = time.monotonic()
    users = _users(make_user, acme, n, "kill")
    print("users", time.monotonic() - t0)
    worker = start_worker()
    _publish(in_tenant, acme, users)
    print("published", time.monotonic() - t0)

    wait_until(lambda: _counts(in_tenant, acme)["processed"] >= n // 4, 30, message="the burst never started")
    worker.signal(9)  # SIGKILL, mid-burst: a job may be half done, the rest is queued
    worker.popen.wait(timeout=10)
    done_at_kill = _counts(in_tenant, acme)["processed"]
    print("killed", time.monotonic() - t0, done_at_kill)
    # And the queue itself is lost (a Redis failover at the same time): only the relay knows.
    on_private_redis.client().delete("rq:queue:events")

    second = start_worker()
    wait_until(
        lambda: _counts(in_tenant, acme) == {"dispatched": n, "processed": n, "notifications": n},
        40,
        message=lambda: f"not recovered: {_counts(in_tenant, acme)}\n{second.output()[-3000:]}",
    )
    print("recovered", time.monotonic() - t0)
    assert second.alive()
    with in_tenant(acme):
        per_user = Counter(db.session.scalars(sa.select(Notification.user_id)))
    assert set(per_user) == set(users) and set(per_user.values()) == {1}, "one notification per event"
    if done_at_kill >= n:
        pytest.skip("the burst ended before the kill (a very fast machine): nothing was interrupted")


def test_a_redis_restart_under_load_keeps_pages_up_and_loses_no_email(
    app, acme, make_user, in_tenant, tenant_client, on_private_redis, start_worker, smtp_server, mailbox
):
    users = _users(make_user, acme, 16, "redis")
    with in_tenant(acme):
        for user_id in users:  # the security notice by email too: each user is owed one email
            user = db.session.get(User, user_id)
            notifications.set_preferences(user, {"password_changed": {"email": True}})
        db.session.commit()
    worker = start_worker(
        MAIL_SERVER=smtp_server.hostname,
        MAIL_PORT=str(smtp_server.port),
        NOTIFY_EMAIL_BATCH_SECONDS="1",
        NOTIFY_EMAIL_SWEEP_GRACE_SECONDS="1",
        MAIL_RELAY_GRACE_SECONDS="2",
        EMAIL_SWEEP_INTERVAL_SECONDS="1",
    )
    client = tenant_client("acme")
    _publish(in_tenant, acme, users[:8])

    on_private_redis.stop()  # whatever was queued or scheduled is gone with it
    for path in ("/", "/search", "/login"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    _publish(in_tenant, acme, users[8:])  # committed while Redis is down: enqueues fail, rows stay
    on_private_redis.start()

    wait_until(
        lambda: _counts(in_tenant, acme)["notifications"] == 16,
        40,
        message=lambda: f"events lost: {_counts(in_tenant, acme)}\n{worker.output()[-3000:]}",
    )

    def all_sent():
        with in_tenant(acme):
            sent = sa.select(sa.func.count()).where(EmailMessage.status == "sent")
            pending = sa.select(sa.func.count()).where(Notification.email_status == "pending")
            return db.session.scalar(sent) == 16 and not db.session.scalar(pending)

    wait_until(all_sent, 40, message=lambda: f"emails lost\n{worker.output()[-3000:]}")
    assert worker.alive()
    with in_tenant(acme):
        per_user = Counter(db.session.scalars(sa.select(EmailMessage.user_id)))
    assert per_user == Counter(users), "exactly one email per user"
    recipients = Counter(address for _sender, rcpts in mailbox.envelopes for address in rcpts)
    assert recipients == Counter(f"redis{i}@example.com" for i in range(16))


def test_pages_answer_503_when_redis_is_gone_where_they_need_it(app, acme, tenant_client, monkeypatch):
    """The central handler: a Redis failure the page cannot do without is a clear 503."""
    from tenants.resolver import TenantResolver

    def unreachable(self, host):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(TenantResolver, "resolve", unreachable)
    client = tenant_client("acme")
    page = client.get("/search")
    assert page.status_code == 503 and "temporarily unavailable" in page.get_data(as_text=True)
    api = client.get("/api/v1/gigs")
    assert api.status_code == 503
    assert api.get_json()["code"] == 503 and api.get_json()["status"] == "Service Unavailable"
    assert api.headers["Retry-After"]


class TcpProxy:
    """127.0.0.1:<port> -> PostgreSQL (a TCP address, or the Unix socket file of the embedded
    server), that the test can cut (every connection dropped, new ones refused) and restore: a
    database restart, as the app sees it."""

    def __init__(self, upstream: tuple[str, int] | str):
        self.upstream = upstream
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()

    def start(self) -> TcpProxy:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                if isinstance(self.upstream, str):
                    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    server.settimeout(5)
                    server.connect(self.upstream)
                    server.settimeout(None)
                else:
                    server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Stop listening and drop every open connection."""
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close alone may not
            self.listener.close()
            self.listener = None
        with self.lock:
            sockets, self.sockets = self.sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.start()


@pytest.fixture
def db_proxy(app):
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    socket_dir = url.query.get("host") or (url.host if url.host and url.host.startswith("/") else None)
    if socket_dir:  # the embedded server listens on a Unix socket only
        upstream = f"{socket_dir}/.s.PGSQL.{url.port or 5432}"
    else:
        upstream = (url.host or "127.0.0.1", url.port or 5432)
    proxy = TcpProxy(upstream).start()
    direct = url.set(
        host="127.0.0.1", port=proxy.port, query={k: v for k, v in url.query.items() if k != "host"}
    )
    yield proxy, direct.render_as_string(hide_password=False)
    proxy.cut()


def test_a_database_outage_answers_503_and_recovers_without_a_restart(acme, db_proxy, production_web):
    proxy, url = db_proxy
    web, port = production_web(DATABASE_URL=url, TENANT_CACHE_TTL="0")
    base, host = f"http://127.0.0.1:{port}", {"Host": f"acme.gigforge.test:{port}"}

    def get(path: str) -> requests.Response:
        return requests.get(base + path, headers=host, timeout=20)

    assert get("/").status_code == 200, web.output()[-3000:]
    assert get("/api/v1/gigs").status_code == 200

    proxy.cut()  # PostgreSQL "restarts": pooled connections die, new ones are refused
    for path in ("/", "/search"):
        page = get(path)
        assert page.status_code == 503, (path, page.status_code, web.output()[-3000:])
        assert "temporarily unavailable" in page.text
    api = get("/api/v1/gigs")
    assert api.status_code == 503, web.output()[-3000:]
    assert api.json()["code"] == 503 and api.json()["status"] == "Service Unavailable"
    assert api.headers["Retry-After"]

    proxy.restore()  # back: the same processes answer again (dead pooled connections are replaced)
    assert wait_until(lambda: get("/").status_code == 200, 20)
    assert get("/api/v1/gigs").status_code == 200
    assert web.alive()
    assert "Traceback" not in web.output() or "Internal Server Error" not in web.output()
