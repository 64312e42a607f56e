"""Concurrent postings: exact balances, no deadlock, and one winner when two race for the same money."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from app.ledger import services as ledger
from app.ledger.services import InsufficientFunds
from tenants.db import db, tenant_context

from .conftest import ledger_counts


def run_together(app, tenant, functions):
    """Run each function in its own thread, app context and session, released at the same moment."""
    barrier = threading.Barrier(len(functions))

    def call(fn):
        with app.app_context(), tenant_context(tenant):
            barrier.wait(timeout=10)
            try:
                result = fn()
                db.session.commit()
                return ("ok", result)
            except InsufficientFunds as exc:
                db.session.rollback()
                return ("insufficient", exc)

    with ThreadPoolExecutor(len(functions)) as pool:
        return [f.result(timeout=60) for f in [pool.submit(call, fn) for fn in functions]]


def test_many_threads_moving_money_through_shared_accounts_end_exact(app, acme, in_tenant, set_commission):
    set_commission(acme, 1000, 0)
    threads, rounds = 8, 6

    def worker(n):
        def work():
            for r in range(rounds):
                order = n * 100 + r + 1
                ledger.record_payment(order, order, 1, 1_000 + n, "USD", f"pi_{order}")
                ledger.release_escrow(order, order, 50 + n % 3, 600, "USD")
                ledger.refund_escrow(order, order, 1, 400 + n, "USD", f"re_{order}")
                # Each step is its own unit of work, like separate requests.
                db.session.commit()

        return work

    results = run_together(app, acme, [worker(n) for n in range(threads)])
    assert all(status == "ok" for status, _ in results)
    with in_tenant(acme):
        fees = threads * rounds * 60
        assert ledger.account_balance("platform:commission", "USD") == fees
        assert ledger.account_balance("provider:clearing", "USD") == threads * rounds * 600
        sellers = sum(ledger.seller_balances(50 + s, "USD")["pending"] for s in range(3))
        assert sellers == threads * rounds * 540
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.transactions == threads * rounds * 3


def test_two_releases_of_the_same_escrow_at_once_move_the_money_once(app, acme, in_tenant, set_commission):
    set_commission(acme, 1000, 0)
    with in_tenant(acme):
        ledger.record_payment(7, 70, 1, 10_000, "USD", "pi_7")
        db.session.commit()
    results = run_together(app, acme, [lambda: ledger.release_escrow(7, 70, 2, 10_000, "USD")] * 4)
    assert [result for _, result in results] == [(9_000, 1_000)] * 4
    with in_tenant(acme):
        assert ledger_counts()[1] == 2
        assert ledger.seller_balances(2, "USD")["pending"] == 9_000
        assert ledger.verify().ok


def test_two_different_refunds_of_the_whole_escrow_at_once_only_one_wins(app, acme, in_tenant):
    with in_tenant(acme):
        ledger.record_payment(7, 70, 1, 10_000, "USD", "pi_7")
        db.session.commit()
    results = run_together(
        app,
        acme,
        [
            lambda: ledger.refund_escrow(7, 70, 1, 10_000, "USD", "re_a"),
            lambda: ledger.refund_escrow(7, 70, 1, 10_000, "USD", "re_b"),
        ],
    )
    assert sorted(status for status, _ in results) == ["insufficient", "ok"]
    with in_tenant(acme):
        assert ledger.escrow_balance(7, "USD") == 0
        assert ledger.account_balance("provider:clearing", "USD") == 0
        assert ledger.verify().ok


def test_a_payout_racing_a_payout_never_overdraws_the_seller(app, acme, in_tenant, set_commission):
    set_commission(acme, 0, 0, clearance_days=0)
    from datetime import UTC, datetime, timedelta

    with in_tenant(acme):
        ledger.record_payment(7, 70, 1, 1_000, "USD", "pi_7")
        ledger.release_escrow(7, 70, 2, 1_000, "USD")
        db.session.commit()
        ledger.clear_earnings(2, "USD", datetime.now(UTC) + timedelta(seconds=5))
        db.session.commit()
    results = run_together(
        app, acme, [lambda n=n: ledger.record_payout(2, 600, "USD", f"po_{n}") for n in range(3)]
    )
    assert sorted(status for status, _ in results) == ["insufficient", "insufficient", "ok"]
    with in_tenant(acme):
        assert ledger.seller_balances(2, "USD") == {"pending": 0, "available": 400}
        assert ledger.verify().ok
