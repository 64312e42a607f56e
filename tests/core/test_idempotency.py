"""@idempotent on a small test-only view: replay, mismatch, concurrency, expiry, scoping.

The view posts a ledger transaction under a random key, so it is *not*
idempotent on its own: only the decorator keeps a retried request from
moving money twice.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa
from flask import Blueprint, g, jsonify, redirect, render_template_string, request

from app.core.idempotency import IdempotencyKey, idempotent, purge_expired_keys
from app.ledger.models import LedgerTransaction
from app.ledger.services import post_transaction
from tenants.db import db
from tests.helpers import backends_waiting_for_a_lock, wait_until

bp = Blueprint("idempotency_test", __name__)


class _User:
    def __init__(self, user_id):
        self.id = user_id


@bp.before_request
def _test_user():
    if "X-Test-User" in request.headers:
        g.api_user = _User(int(request.headers["X-Test-User"]))


def _pay(amount: int):
    return post_transaction(
        "payment",
        [("provider:clearing", amount), ("escrow:order:1", -amount)],
        currency="USD",
        idempotency_key=uuid.uuid4().hex,
        order_id=1,
    )


# ``?hold=<name>``: the pay view tells the test it is running (``entered``), then stays inside its
# transaction, holding the key, until the test lets it go (``release``).
_holds: dict[str, tuple[threading.Event, threading.Event]] = {}


@pytest.fixture
def hold():
    """``entered, release = hold("name")``: a pay request sent with ``?hold=name`` waits for ``release``."""

    def make(name: str) -> tuple[threading.Event, threading.Event]:
        _holds[name] = (threading.Event(), threading.Event())
        return _holds[name]

    yield make
    for _entered, release in _holds.values():
        release.set()  # never leave a server thread waiting
    _holds.clear()


@bp.post("/api/test-idempotency/pay")
@idempotent
def api_pay():
    tx = _pay(int(request.get_json()["amount"]))
    if "hold" in request.args:
        entered, release = _holds[request.args["hold"]]
        entered.set()
        release.wait(30)
    return jsonify(transaction_id=tx.id), 201


@bp.post("/api/test-idempotency/fail")
@idempotent
def api_fail():
    _pay(100)
    return jsonify(message="boom"), 503


@bp.get("/test-idempotency/form")
def form_page():
    return render_template_string('<form method="post">{{ idempotency_field() }}</form>')


@bp.post("/test-idempotency/form")
@idempotent
def form_pay():
    tx = _pay(int(request.form["amount"]))
    return redirect(f"/done/{tx.id}")


@pytest.fixture
def idem_app(app):
    """The suite's app with the test-only views.

    Flask refuses new routes once an app has served a request; lifting that
    guard for one registration is safe here (no request is in flight), and a
    second app would rebind the shared extensions (Socket.IO, the API).
    """
    from app.extensions import csrf

    if bp.name not in app.blueprints:
        served, app._got_first_request = app._got_first_request, False
        try:
            csrf.exempt(bp)
            app.register_blueprint(bp)
        finally:
            app._got_first_request = served
    return app


@pytest.fixture
def client(idem_app):
    from tests.conftest import TenantClient

    return TenantClient(idem_app, idem_app.response_class, use_cookies=True, host="acme.localhost")


def transactions(in_tenant, tenant) -> int:
    with in_tenant(tenant):
        return db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))


def pay(client, key, amount=100, user=7, **params):
    return client.post(
        "/api/test-idempotency/pay",
        json={"amount": amount},
        headers={"Idempotency-Key": key, "X-Test-User": str(user)},
        query_string=params,
    )


def test_the_same_key_and_body_replay_the_first_response(client, acme, in_tenant):
    first = pay(client, "k-1")
    again = pay(client, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert transactions(in_tenant, acme) == 1


def test_json_with_other_spacing_and_key_order_is_the_same_body(client, acme, in_tenant):
    headers = {"Idempotency-Key": "k-2", "X-Test-User": "7", "Content-Type": "application/json"}
    client.post("/api/test-idempotency/pay", data='{"amount": 100, "note": "x"}', headers=headers)
    replay = client.post("/api/test-idempotency/pay", data='{"note":"x","amount":100}', headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert transactions(in_tenant, acme) == 1


def test_the_same_key_with_another_body_is_422_and_moves_nothing(client, acme, in_tenant):
    pay(client, "k-3", amount=100)
    other = pay(client, "k-3", amount=999)
    assert other.status_code == 422
    assert "different request" in other.get_json()["message"]
    assert transactions(in_tenant, acme) == 1


def test_without_a_key_every_request_runs(client, acme, in_tenant):
    for _ in range(2):
        client.post("/api/test-idempotency/pay", json={"amount": 1}, headers={"X-Test-User": "7"})
    assert transactions(in_tenant, acme) == 2


def test_keys_are_per_user_and_per_tenant(client, idem_app, acme, globex, in_tenant):
    pay(client, "shared", user=7)
    assert pay(client, "shared", user=8).headers.get("Idempotent-Replayed") is None
    from tests.conftest import TenantClient

    other_tenant = TenantClient(idem_app, idem_app.response_class, host="globex.localhost")
    assert pay(other_tenant, "shared", user=7).headers.get("Idempotent-Replayed") is None
    assert transactions(in_tenant, acme) == 2
    assert transactions(in_tenant, globex) == 1


def test_a_failed_response_is_not_stored_and_the_key_can_be_retried(client, acme, in_tenant):
    headers = {"Idempotency-Key": "k-5", "X-Test-User": "7"}
    assert client.post("/api/test-idempotency/fail", json={}, headers=headers).status_code == 503
    retry = client.post("/api/test-idempotency/fail", json={}, headers=headers)
    assert retry.status_code == 503 and "Idempotent-Replayed" not in retry.headers
    assert transactions(in_tenant, acme) == 0  # rolled back both times
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 0


def test_an_invalid_key_is_refused(client):
    assert pay(client, "x" * 256).status_code == 422


def test_keys_expire_after_a_day(client, acme, in_tenant):
    pay(client, "k-6")
    with in_tenant(acme):
        db.session.execute(
            sa.update(IdempotencyKey).values(created_at=datetime.now(UTC) - timedelta(hours=25))
        )
        db.session.commit()
    assert pay(client, "k-6").headers.get("Idempotent-Replayed") is None
    assert transactions(in_tenant, acme) == 2
    with in_tenant(acme):
        db.session.execute(
            sa.update(IdempotencyKey).values(created_at=datetime.now(UTC) - timedelta(hours=25))
        )
        assert purge_expired_keys() == 1
        db.session.commit()


def test_a_web_form_carries_its_key_and_a_resent_form_replays_the_redirect(client, acme, in_tenant):
    page = client.get("/test-idempotency/form").get_data(as_text=True)
    key = page.split('value="')[1].split('"')[0]
    assert 'name="idempotency_key"' in page and len(key) == 32
    first = client.post("/test-idempotency/form", data={"amount": "100", "idempotency_key": key})
    again = client.post("/test-idempotency/form", data={"amount": "100", "idempotency_key": key})
    assert first.status_code == again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = client.post("/test-idempotency/form", data={"amount": "500", "idempotency_key": key})
    assert changed.status_code == 422
    assert "different values" in changed.get_data(as_text=True)
    assert transactions(in_tenant, acme) == 1
    # A freshly rendered form has a new key.
    assert client.get("/test-idempotency/form").get_data(as_text=True) != page


def test_concurrent_requests_with_one_key_run_once(idem_app, acme, in_tenant, hold):
    from tests.conftest import LiveServer

    entered, release = hold("race")
    server = LiveServer(idem_app).start()
    try:
        url = server.url("127.0.0.1", "/api/test-idempotency/pay?hold=race")
        barrier = threading.Barrier(4)
        results = []

        def send():
            barrier.wait()
            response = requests.post(
                url,
                json={"amount": 100},
                headers={"Idempotency-Key": "race", "X-Test-User": "7", "Host": "acme.localhost"},
                timeout=30,
            )
            results.append(
                (response.status_code, response.json(), response.headers.get("Idempotent-Replayed"))
            )

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        assert entered.wait(10)  # one request claimed the key and runs the view...
        # ...and the three others wait for its transaction, on the key's row.
        wait_until(lambda: backends_waiting_for_a_lock(idem_app) == 3, message="3 requests wait for the key")
        release.set()
        for thread in threads:
            thread.join(30)
    finally:
        release.set()
        server.stop()
    assert sorted(status for status, _, _ in results) == [201] * 4
    assert len({body["transaction_id"] for _, body, _ in results}) == 1
    assert sorted(str(replayed) for _, _, replayed in results) == ["None", "true", "true", "true"]
    assert transactions(in_tenant, acme) == 1


def test_a_concurrent_request_that_waits_too_long_gets_409(idem_app, acme, in_tenant, monkeypatch, hold):
    from tests.conftest import LiveServer

    monkeypatch.setitem(idem_app.config, "IDEMPOTENCY_WAIT_SECONDS", 0.2)
    entered, release = hold("slow")
    server = LiveServer(idem_app).start()
    try:
        url = server.url("127.0.0.1", "/api/test-idempotency/pay?hold=slow")
        headers = {"Idempotency-Key": "slow", "X-Test-User": "7", "Host": "acme.localhost"}
        slow = threading.Thread(
            target=lambda: requests.post(url, json={"amount": 5}, headers=headers, timeout=30)
        )
        slow.start()
        assert entered.wait(10)  # the first request holds the key until released
        waiting = requests.post(url, json={"amount": 5}, headers=headers, timeout=30)
        release.set()
        slow.join(30)
    finally:
        release.set()
        server.stop()
    assert waiting.status_code == 409
    assert "in progress" in waiting.json()["message"]
    assert transactions(in_tenant, acme) == 1
