"""Business metrics, read from ``/metrics`` on the platform host before and after real flows:
orders placed, paid, completed, cancelled and refunded with GMV and refunds to the minor unit,
payments and payouts, webhook attempts, searches by backend, emails. A rolled-back transaction
(or savepoint) counts nothing; a retried job does not count twice."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.events import publish, publish_many
from app.events import services as events
from app.mail.services import send_email
from app.orders import services as orders
from app.orders.models import Order
from app.search import services as search
from app.webhooks import delivery
from app.webhooks.models import WebhookAttempt
from tenants.db import db
from tests.gigs.conftest import make_gig  # noqa: F401  (fixture)
from tests.helpers import form_tokens
from tests.observability import sampling

# The payments and webhooks test kits' fixtures (used as parameters below: noqa F811 there).
from tests.payments.conftest import complete_order, market, seller_earnings  # noqa: F401
from tests.payments.test_sandbox_checkout import DECLINED, SUCCEEDS, pay
from tests.webhooks.conftest import admin_of, dead_url, deliver, make_endpoint, receiver  # noqa: F401


class Scrape(sampling.Scrape):
    """``value`` by the name without its ``gigforge_`` prefix."""

    def value(self, name: str, **labels) -> float:
        return super().value(f"gigforge_{name}", **labels)


@pytest.fixture
def scrape(platform_client):
    def read() -> Scrape:
        response = platform_client.get("/metrics")
        assert response.status_code == 200
        return Scrape(response.get_data(as_text=True))

    return read


def delta(before: Scrape, after: Scrape, name: str, **labels) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def order_deltas(before: Scrape, after: Scrape) -> dict[str, float]:
    states = ("placed", "paid", "completed", "cancelled", "refunded")
    return {s: delta(before, after, "orders_total", state=s) for s in states}


def _order(in_tenant, tenant, order_id) -> tuple[int, str]:
    with in_tenant(tenant):
        order = db.session.get(Order, order_id)
        return order.total_minor, order.currency


# --------------------------------------------------------------------------- orders and money


def test_an_order_placed_and_paid_at_the_checkout_counts_once_with_its_gmv(market, acme, in_tenant, scrape):  # noqa: F811
    m = market(acme)
    before = scrape()
    order_id = m.place()
    url = m.checkout(order_id)
    client = m.client(m.buyer_email)
    assert pay(client, url, DECLINED).status_code == 402  # a failed attempt first (kept)
    assert pay(client, url, SUCCEEDS).status_code == 302
    # A replay moves nothing (the paid checkout shows no form: a token from the order's page).
    replay = pay(client, url, SUCCEEDS, tokens=form_tokens(client, f"/orders/{order_id}"))
    assert replay.status_code in (302, 409)
    after = scrape()
    total, currency = _order(in_tenant, acme, order_id)
    assert currency == "USD" and total > 0
    assert order_deltas(before, after) == {
        "placed": 1,
        "paid": 1,
        "completed": 0,
        "cancelled": 0,
        "refunded": 0,
    }
    assert delta(before, after, "gmv_minor_units_total", currency="USD") == total
    assert delta(before, after, "payments_total", outcome="succeeded") == 1
    assert delta(before, after, "payments_total", outcome="failed") == 1


def test_a_rolled_back_transaction_or_savepoint_counts_nothing(acme, in_tenant, scrape):
    paid = {"order_id": 999999, "amount_minor": 700, "currency": "usd"}
    before = scrape()
    with in_tenant(acme):
        publish("order.paid", paid)
        db.session.rollback()
        with db.session.begin_nested():
            publish("order.placed", {"order_id": 999999})
        savepoint = db.session.begin_nested()
        publish("order.paid", paid)
        savepoint.rollback()
        db.session.commit()
    after = scrape()
    assert order_deltas(before, after) == {
        "placed": 1,
        "paid": 0,
        "completed": 0,
        "cancelled": 0,
        "refunded": 0,
    }
    assert delta(before, after, "gmv_minor_units_total", currency="USD") == 0


def test_commit_listeners_get_every_committed_event_once_and_a_failing_one_is_only_logged(
    acme, in_tenant, monkeypatch
):
    seen: list[list[tuple[str, dict]]] = []

    def broken(_events):
        raise RuntimeError("a listener's bug must not break the commit")

    monkeypatch.setattr(events, "_commit_listeners", [broken, *events._commit_listeners])
    events.register_commit_listener(seen.append)
    with in_tenant(acme):
        publish("gig.updated", {"gig_id": 1})
        publish_many("seller.updated", [{"user_id": 1}, {"user_id": 2}])
        db.session.commit()
        db.session.commit()  # nothing new: no call
        publish("gig.updated", {"gig_id": 2})
        db.session.rollback()
    assert seen == [
        [
            ("gig.updated", {"gig_id": 1}),
            ("seller.updated", {"user_id": 1}),
            ("seller.updated", {"user_id": 2}),
        ]
    ]


def test_completion_cancellation_and_refund_count_with_the_refunded_amount(market, acme, in_tenant, scrape):  # noqa: F811
    m = market(acme)
    completed_id, refunded_id, unpaid_id = m.place(), m.place(), m.place()
    with in_tenant(acme):
        for order_id in (completed_id, refunded_id):
            orders.mark_paid(order_id, f"pay_test_{order_id}")
        db.session.commit()
    before = scrape()
    with in_tenant(acme):
        complete_order(completed_id)
        db.session.commit()
        buyer, seller = db.session.get(User, m.buyer_id), db.session.get(User, m.seller_id)
        orders.request_cancellation(buyer, refunded_id, "Changed my mind")
        db.session.commit()
        orders.respond_cancellation(seller, refunded_id, True)
        db.session.commit()
        orders.request_cancellation(buyer, unpaid_id, "Not needed any more")  # unpaid: cancelled at once
        db.session.commit()
    after = scrape()
    total, _ = _order(in_tenant, acme, refunded_id)
    assert order_deltas(before, after) == {
        "placed": 0,
        "paid": 0,
        "completed": 1,
        "cancelled": 2,
        "refunded": 1,
    }
    assert delta(before, after, "refunds_minor_units_total", currency="USD") == total
    assert delta(before, after, "gmv_minor_units_total", currency="USD") == 0


def test_a_payout_counts_with_its_amount(market, seller_earnings, acme, scrape):  # noqa: F811
    m = market(acme)
    order_id = m.place()
    assert pay(m.client(m.buyer_email), m.checkout(order_id), SUCCEEDS).status_code == 302
    seller_earnings(acme, order_id)
    client = m.client(m.seller_email)
    tokens = form_tokens(client, "/account/earnings")
    before = scrape()
    form = {"confirm": "yes", **tokens, "amount": "20.00"}
    assert client.post("/account/earnings/payouts", data=form).status_code == 302
    assert client.post("/account/earnings/payouts", data=form).status_code == 302  # a double click
    after = scrape()
    assert delta(before, after, "payouts_total", outcome="paid") == 1
    assert delta(before, after, "payouts_minor_units_total", currency="USD") == 2000


# --------------------------------------------------------------------------- webhooks


def test_each_webhook_attempt_counts_delivered_or_failed(
    acme,
    in_tenant,
    receiver,  # noqa: F811
    make_endpoint,  # noqa: F811
    dead_url,  # noqa: F811
    deliver,  # noqa: F811
    run_jobs,
    scrape,
):
    live = receiver()
    make_endpoint(acme, live.url, ["user.registered"])
    before = scrape()
    with in_tenant(acme):
        publish("user.registered", {"user_id": admin_of(acme).id})
        db.session.commit()
    deliver()
    after = scrape()
    assert len(live.received) == 1
    assert delta(before, after, "webhook_deliveries_total", outcome="delivered") == 1
    assert delta(before, after, "webhook_deliveries_total", outcome="failed") == 0

    dead_id, _ = make_endpoint(acme, dead_url, ["user.registered"])
    with in_tenant(acme):
        publish("user.registered", {"user_id": admin_of(acme).id})
        db.session.commit()
    run_jobs(("events",))  # the fan-out; the drains run under the test's clock
    before = scrape()
    t = datetime.now(UTC) + timedelta(seconds=1)
    assert delivery.run_drain(acme.id, dead_id, now=t).failed == 1
    assert delivery.run_drain(acme.id, dead_id, now=t + timedelta(minutes=1)).failed == 1  # the retry
    after = scrape()
    assert delta(before, after, "webhook_deliveries_total", outcome="failed") == 2
    with in_tenant(acme):
        failed = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(WebhookAttempt)
            .where(WebhookAttempt.response_status.is_(None))
        )
    assert failed == 2  # one count per attempt row


# --------------------------------------------------------------------------- search


def test_a_search_counts_under_the_backend_that_answered(app, acme, in_tenant, scrape, monkeypatch):
    query = search.build_query(text="logo")
    before = scrape()
    with in_tenant(acme):
        search.search_gigs(query)  # no index yet: the database answers (a rebuild is queued)
    middle = scrape()
    assert delta(before, middle, "search_queries_total", backend="postgres") == 1
    assert delta(before, middle, "search_duration_seconds_count", backend="postgres") == 1
    assert delta(before, middle, "search_queries_total", backend="whoosh") == 0
    with in_tenant(acme):
        search.reindex_tenant()
        db.session.commit()
        search.search_gigs(query)
        search.relaxations(query)  # the count-only searches of an empty page are not queries
    after = scrape()
    answered = app.extensions["search_backend"].name
    assert delta(middle, after, "search_queries_total", backend=answered) == 1
    assert delta(middle, after, "search_duration_seconds_count", backend=answered) == 1


# --------------------------------------------------------------------------- email


def _send(in_tenant, tenant) -> int:
    with in_tenant(tenant):
        message = send_email("buyer@example.com", "notice", "Welcome!", {"heading": "Hi", "paragraphs": []})
        db.session.commit()
        return message.id


def test_an_email_sent_counts_once(acme, in_tenant, mailbox, run_jobs, scrape):
    before = scrape()
    _send(in_tenant, acme)
    run_jobs()
    mailbox.wait_for(1)
    after = scrape()
    assert delta(before, after, "emails_total", outcome="sent") == 1
    assert delta(before, after, "emails_total", outcome="failed") == 0


def test_an_email_the_smtp_server_refuses_counts_failed_once_after_its_retries(
    app, acme, in_tenant, run_jobs, monkeypatch, scrape
):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    for key, value in {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": closed_port}.items():
        monkeypatch.setitem(app.config, key, value)
    before = scrape()
    _send(in_tenant, acme)
    run_jobs()
    after = scrape()
    assert app.config["MAIL_RETRY_INTERVALS"]  # several attempts were made
    assert delta(before, after, "emails_total", outcome="failed") == 1
    assert delta(before, after, "emails_total", outcome="sent") == 0
