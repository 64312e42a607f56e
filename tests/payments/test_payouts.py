"""Earnings and payouts with the sandbox provider: the earnings page, payouts up to the
available balance (web and API, idempotent), clearance and scheduled payouts from the
worker's tick, refunds on cancellation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.events.models import OutboxEvent
from app.orders import services as orders
from app.payments import services, tasks
from app.payments.models import Payment
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.helpers import bearer_headers
from tests.payments.conftest import complete_order, form_tokens
from tests.payments.test_sandbox_checkout import SUCCEEDS, pay

SELLER_NET = 4500  # 50.00 minus the 10% commission


def paid_order(m):
    order_id = m.place()
    url = m.checkout(order_id)
    assert pay(m.client(m.buyer_email), url, SUCCEEDS).status_code == 302
    return order_id


def test_earnings_page_shows_pending_then_available_balance_and_history(
    market, seller_earnings, acme, in_tenant
):
    m = market(acme)
    order_id = paid_order(m)
    assert seller_earnings(acme, order_id) == SELLER_NET
    page = m.client(m.seller_email).get("/account/earnings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "$45.00" in html  # available
    assert "Release" in html and "Clearance" in html
    assert "TEST MODE" in html


def test_a_payout_without_confirmation_asks_first_and_moves_nothing(market, seller_earnings, money, acme):
    m = market(acme)
    seller_earnings(acme, paid_order(m))
    client = m.client(m.seller_email)
    response = client.post(
        "/account/earnings/payouts", data={**form_tokens(client, "/account/earnings"), "amount": "20"}
    )
    assert response.status_code == 200 and "Send this payout?" in response.get_data(as_text=True)
    assert money(acme, seller_id=m.seller_id).payouts == []


def test_seller_requests_a_payout_of_part_of_the_available_balance(
    market, seller_earnings, money, acme, in_tenant
):
    m = market(acme)
    order_id = paid_order(m)
    seller_earnings(acme, order_id)
    client = m.client(m.seller_email)
    tokens = form_tokens(client, "/account/earnings")
    response = client.post("/account/earnings/payouts", data={"confirm": "yes", **tokens, "amount": "20.00"})
    assert response.status_code == 302
    replay = client.post(
        "/account/earnings/payouts", data={"confirm": "yes", **tokens, "amount": "20.00"}
    )  # double click
    assert replay.status_code == 302 and replay.headers.get("Idempotent-Replayed") == "true"
    after = money(acme, seller_id=m.seller_id)
    assert after.balances == {"pending": 0, "available": SELLER_NET - 2000}
    assert [(p[1], p[2]) for p in after.payouts] == [("sent", 2000)]
    assert after.ledger_ok
    with in_tenant(acme):
        sent = db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.name == "payout.sent")).all()
        assert [e.payload for e in sent] == [
            {"payout_id": after.payouts[0][0], "amount_minor": 2000, "currency": "USD"}
        ]


def test_payout_over_the_available_balance_is_refused_and_nothing_moves(market, seller_earnings, money, acme):
    m = market(acme)
    seller_earnings(acme, paid_order(m))
    before = money(acme, seller_id=m.seller_id)
    client = m.client(m.seller_email)
    for amount in ("45.01", "1000", "-5", "0", "abc", "1.001"):
        tokens = form_tokens(client, "/account/earnings")
        response = client.post(
            "/account/earnings/payouts", data={"confirm": "yes", **tokens, "amount": amount}
        )
        assert response.status_code == 422, amount
    html = response.get_data(as_text=True)
    assert "Use at most 2 decimals for USD." in html  # the last one, "1.001"
    after = money(acme, seller_id=m.seller_id)
    assert (
        after.balances == before.balances
        and after.payouts == []
        and after.ledger_transactions == before.ledger_transactions
    )


def test_pending_earnings_cannot_be_paid_out_before_clearance(market, money, acme, in_tenant):
    m = market(acme)
    order_id = paid_order(m)
    with in_tenant(acme):
        seller = complete_order(order_id)
        db.session.commit()
        try:
            services.request_payout(seller, 100)
        except services.PaymentError as exc:
            assert exc.status == 409
        else:
            raise AssertionError("a payout from pending earnings was accepted")
        db.session.rollback()
    assert money(acme, seller_id=m.seller_id).balances == {"pending": SELLER_NET, "available": 0}


def test_api_balances_transactions_and_payouts(market, seller_earnings, tenant_client, acme):
    m = market(acme)
    seller_earnings(acme, paid_order(m))
    client = tenant_client("acme")
    headers = bearer_headers(client, m.seller_email)
    balances = client.get("/api/v1/balances", headers=headers)
    assert balances.json == {"currency": "USD", "pending_minor": 0, "available_minor": SELLER_NET}
    transactions = client.get("/api/v1/transactions?page=1&page_size=1", headers=headers)
    assert transactions.status_code == 200 and len(transactions.json) == 1
    assert "X-Pagination" in transactions.headers
    key = {"Idempotency-Key": "payout-attempt-1"}
    first = client.post("/api/v1/payouts", json={"amount_minor": 1500}, headers={**headers, **key})
    assert first.status_code == 201, first.json
    again = client.post("/api/v1/payouts", json={"amount_minor": 1500}, headers={**headers, **key})
    assert again.status_code == 201 and again.json == first.json
    other_body = client.post("/api/v1/payouts", json={"amount_minor": 1600}, headers={**headers, **key})
    assert other_body.status_code == 422
    too_much = client.post("/api/v1/payouts", json={"amount_minor": 10**9}, headers=headers)
    assert too_much.status_code == 409 and "available balance" in too_much.json["message"]
    bad = client.post("/api/v1/payouts", json={"amount_minor": "15.00"}, headers=headers)
    assert bad.status_code == 422
    listing = client.get("/api/v1/payouts", headers=headers)
    assert [(p["amount_minor"], p["status"]) for p in listing.json] == [(1500, "sent")]
    assert client.get("/api/v1/balances", headers=headers).json["available_minor"] == SELLER_NET - 1500


def test_api_payment_is_visible_to_its_buyer_and_seller_only(
    market, make_user, tenant_client, acme, in_tenant
):
    m = market(acme)
    order_id = paid_order(m)
    with in_tenant(acme):
        payment_id = db.session.scalar(sa.select(Payment.id).where(Payment.order_id == order_id))
    client = tenant_client("acme")
    for email in (m.buyer_email, m.seller_email):
        response = client.get(f"/api/v1/payments/{payment_id}", headers=bearer_headers(client, email))
        assert response.status_code == 200
        assert response.json["status"] == "succeeded" and response.json["amount_minor"] == 5000
    make_user(acme, email="nosy@example.com")
    assert (
        client.get(
            f"/api/v1/payments/{payment_id}", headers=bearer_headers(client, "nosy@example.com")
        ).status_code
        == 404
    )


def test_buyer_gets_a_refund_at_the_provider_when_the_order_is_cancelled(
    market, money, run_jobs, acme, in_tenant
):
    m = market(acme)
    order_id = paid_order(m)
    with in_tenant(acme):
        admin = db.session.scalars(sa.select(User).where(User.role == "admin")).first()
        orders.operator_cancel(admin, order_id, 3000, "Out of scope")
        db.session.commit()
    run_jobs()
    run_jobs()  # a redelivered event refunds nothing twice
    after = money(acme, order_id)
    assert after.order_status == "cancelled"
    assert [(r[1], r[2]) for r in after.refunds] == [("succeeded", 3000)]
    assert after.ledger_ok


def test_worker_tick_clears_earnings_and_pays_the_daily_schedule_once(
    market, money, run_jobs, acme, globex, in_tenant, app
):
    m = market(acme)
    order_id = paid_order(m)
    with in_tenant(acme):
        complete_order(order_id)
        db.session.get(MarketplaceSettings, 1).payout_schedule = "daily"
        db.session.get(MarketplaceSettings, 1).clearance_days = 0
        db.session.commit()
    later = datetime.now(UTC) + timedelta(hours=1)
    with app.app_context():
        assert tasks.payments_tick(later) == 4  # clearance and payouts, for acme and globex
        assert tasks.payments_tick(later) == 0  # the same hour again: nothing new
    run_jobs()
    # Clearance ran before the payouts job in the queue, so the daily payout took it all.
    after = money(acme, seller_id=m.seller_id)
    assert after.balances == {"pending": 0, "available": 0}
    assert [(p[1], p[2]) for p in after.payouts] == [("sent", SELLER_NET)]
    # Running the day's job again pays nobody twice.
    tasks.run_tenant_scheduled_payouts(acme.id, later.date().isoformat())
    assert len(money(acme).payouts) == 1


def test_schedule_periods():
    assert services.schedule_period("daily", date(2026, 11, 22)) == "2026-11-22"
    assert services.schedule_period("weekly", date(2026, 11, 22)) == "2026-W47"
    assert services.schedule_period("weekly", date(2026, 11, 17)) == "2026-W47"
    assert services.schedule_period("manual", date(2026, 11, 22)) is None


def test_two_concurrent_payouts_cannot_overdraw_the_balance(market, seller_earnings, money, acme, in_tenant):
    import threading

    m = market(acme)
    seller_earnings(acme, paid_order(m))
    barrier = threading.Barrier(2)
    outcomes = []

    def request():
        with in_tenant(acme):
            seller = db.session.get(User, m.seller_id)
            barrier.wait()
            try:
                services.request_payout(seller, 3000)
                db.session.commit()
                outcomes.append("paid")
            except services.PaymentError as exc:
                db.session.rollback()
                outcomes.append(exc.status)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes, key=str) == sorted(["paid", 409], key=str)
    after = money(acme, seller_id=m.seller_id)
    assert after.balances["available"] == SELLER_NET - 3000 and len(after.payouts) == 1 and after.ledger_ok
