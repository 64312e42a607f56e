"""Two web nodes that share nothing but PostgreSQL and Redis, and one worker.

Each node is the Procfile's web command (gunicorn, gthread, Socket.IO) with an instance folder
of its own, as two machines would have: no file, index or process memory in common. Search runs
on the PostgreSQL backend, the multi-node default (docs/architecture.md, "Past one machine").
The test shows what a load balancer in front of them needs: a web session and an API token
issued by one node work on the other; a rate limit counts the attempts of both; a chat message
sent through node A reaches a client connected to node B; a gig published through node A is
found by search on node B within 2 s and is on the anonymous home page node B's process keeps
at its next request; the worker handles the events both nodes commit.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import upsert_seller_profile
from app.events.models import OutboxEvent
from app.gigs.models import Category
from app.messaging import services as messaging
from tenants.db import db
from tests.helpers import wait_until
from tests.observability.servers import Process, app_environment, free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
LOGIN_LIMIT = 3  # per account and day (a fixed window: no boundary within the test), on both nodes


def _procfile(kind: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return line.removeprefix(f"{kind}:").strip()
    raise AssertionError(f"Procfile has no {kind} process")


class Node(Process):
    """The Procfile's web command on a port and an instance folder of its own."""

    def __init__(self, app, folder: Path, name: str):
        self.name = name
        self.port = free_port()
        folder.mkdir(parents=True)
        env = app_environment(app, folder / "metrics")
        env.update(
            TEST_INSTANCE_DIR=str(folder),
            PORT=str(self.port),
            WEB_THREADS="16",
            SEARCH_BACKEND="postgres",
            RATELIMIT_LOGIN_PER_ACCOUNT=f"{LOGIN_LIMIT} per day",
        )
        expanded = subprocess.run(
            ["bash", "-c", f"echo {_procfile('web')}"], env=env, capture_output=True, text=True, check=True
        )
        argv = shlex.split(expanded.stdout)
        gunicorn = Path(sys.executable).parent / "gunicorn"
        argv[0] = str(gunicorn) if gunicorn.exists() else argv[0]
        argv = [a.replace("0.0.0.0", "127.0.0.1") for a in argv]  # noqa: S104  (the Procfile's bind, made local)
        super().__init__(argv, env, folder / f"{name}.log")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self) -> None:
        def answers():
            self.check_alive()
            try:
                return requests.get(self.url("/healthz"), timeout=5).status_code == 200
            except requests.RequestException:  # listening before its worker imported the app
                return False

        wait_until(answers, timeout=120, message=lambda: f"node {self.name} did not answer\n{self.output()}")


@pytest.fixture
def nodes(app, tmp_path):
    """(node A, node B) serving, and a worker beside them (a third instance folder)."""
    started = [Node(app, tmp_path / "node-a", "a"), Node(app, tmp_path / "node-b", "b")]
    worker_folder = tmp_path / "worker"
    worker_folder.mkdir()
    worker_env = app_environment(app, worker_folder / "metrics")
    worker_env.update(TEST_INSTANCE_DIR=str(worker_folder), SEARCH_BACKEND="postgres")
    worker = Process(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "worker"],
        worker_env,
        worker_folder / "worker.log",
    )
    started.append(worker)
    try:
        for node in started[:2]:
            node.wait_ready()
        yield started[0], started[1]
        worker.check_alive()
    finally:
        for process in started:
            process.stop()


def _session(host: str) -> requests.Session:
    session = requests.Session()
    session.headers["Host"] = host
    return session


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no csrf_token on the form"
    return match.group(1)


@pytest.mark.slow
def test_two_nodes_share_sessions_tokens_limits_chat_search_home_pages_and_the_worker(
    app, acme, nodes, make_user, in_tenant
):
    import socketio

    a, b = nodes
    host = f"acme.{app.config['BASE_DOMAIN']}"
    buyer = make_user(acme, email="buyer@two-nodes.test", password=PASSWORD, display_name="Bea Twonodes")
    seller = make_user(acme, email="seller@two-nodes.test", password=PASSWORD)

    # A web session started on node A is signed in on node B (a signed cookie; no node memory).
    browser = _session(host)
    form = browser.get(a.url("/login"), timeout=30)
    assert form.status_code == 200
    login = browser.post(
        a.url("/login"),
        data={"email": "buyer@two-nodes.test", "password": PASSWORD, "csrf_token": _csrf(form.text)},
        allow_redirects=False,
        timeout=30,
    )
    assert login.status_code == 302, login.text[:500]
    account = browser.get(b.url("/account"), allow_redirects=False, timeout=30)
    assert account.status_code == 200 and "Bea Twonodes" in account.text

    # An API token issued by node A is accepted by node B.
    api = _session(host)
    issued = api.post(
        a.url("/api/v1/auth/token"), json={"email": "seller@two-nodes.test", "password": PASSWORD}
    )
    assert issued.status_code == 200, issued.text
    seller_auth = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    me = api.get(b.url("/api/v1/me"), headers=seller_auth, timeout=30)
    assert me.status_code == 200 and me.json()["id"] == seller

    # The login limit is one budget in Redis: attempts on A and on B count together.
    wrong = {"email": "guesser@two-nodes.test", "password": "not-the-password"}
    answers = [
        api.post(node.url("/api/v1/auth/token"), json=wrong, timeout=30).status_code for node in (a, b, a)
    ]
    assert answers == [401] * LOGIN_LIMIT
    assert api.post(b.url("/api/v1/auth/token"), json=wrong, timeout=30).status_code == 429

    # A chat message sent by a client on node A reaches a client on node B (Redis message queue).
    with in_tenant(acme):
        cid = messaging.start_direct_conversation(db.session.get_one(User, buyer), seller).id
        db.session.commit()
    received: list[dict] = []
    clients = []
    for node, email in ((a, "seller@two-nodes.test"), (b, "buyer@two-nodes.test")):
        # Each client signs in on its own node and connects to it.
        signed_in = api.post(node.url("/api/v1/auth/token"), json={"email": email, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        client = socketio.Client(
            reconnection=False,
            websocket_extra_options={"host": f"{host}:{node.port}", "origin": f"http://{host}:{node.port}"},
        )
        client.on("message", received.append)
        client.connect(
            node.url(""),
            auth={"token": signed_in.json()["access_token"]},
            transports=["websocket"],
            wait_timeout=20,
        )
        assert client.call("join", {"conversation_id": cid}, timeout=20)["ok"]
        clients.append(client)
    try:
        ack = clients[0].call("send_message", {"conversation_id": cid, "body": "from node A"}, timeout=20)
        assert ack["ok"], ack
        wait_until(
            lambda: len(received) >= 2, timeout=10, message="the message did not reach both nodes' clients"
        )
        assert sorted(m["body"] for m in received) == ["from node A", "from node A"]
    finally:
        for client in clients:
            client.disconnect()

    # An anonymous visitor's home page, kept by node B's process...
    visitor = _session(host)
    for _ in range(2):
        home = visitor.get(b.url("/"), timeout=30)
        assert home.status_code == 200 and "quokka" not in home.text and not visitor.cookies

    # A gig published through node A is found by search on node B within 2 s.
    with in_tenant(acme):
        upsert_seller_profile(db.session.get_one(User, seller), headline="Two nodes", skills=["design"])
        category_id = db.session.scalars(sa.select(Category.id).where(Category.parent_id.isnot(None))).first()
        db.session.commit()
    created = api.post(
        a.url("/api/v1/gigs"),
        headers=seller_auth,
        json={
            "title": "I will paint a quokka mural for your office",
            "description": "A cheerful quokka mural, sketched first and painted in two days.",
            "category_id": category_id,
            "tags": ["mural", "quokka"],
            "packages": [
                {"tier": "basic", "title": "Basic", "price_minor": 9000, "delivery_days": 5, "revisions": 1}
            ],
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    gig_id = created.json()["id"]
    published = api.post(a.url(f"/api/v1/gigs/{gig_id}/publish"), headers=seller_auth, timeout=30)
    assert published.status_code == 200, published.text
    started = time.monotonic()
    # ...shows it on node B's next request: node A's commit renewed the home stamp in Redis.
    assert "I will paint a quokka mural for your office" in visitor.get(b.url("/"), timeout=30).text

    def found_on_b():
        hits = api.get(b.url("/api/v1/gigs"), params={"q": "quokka"}, timeout=30).json()
        return [hit["id"] for hit in hits]

    assert wait_until(found_on_b, timeout=2, message="node B's search did not find the gig") == [gig_id]
    assert time.monotonic() - started < 2

    # The worker handled what both nodes committed: no event of the tenant is left pending.
    def outbox_drained():
        with in_tenant(acme):
            return not db.session.scalar(
                sa.select(sa.func.count(OutboxEvent.id)).where(OutboxEvent.status != "dispatched")
            )

    wait_until(outbox_drained, timeout=30, message="the worker left events pending")
