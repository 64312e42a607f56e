"""The money movements: payment, release with commission, refund, clearance, payout, histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.ledger import services as ledger
from app.ledger.services import InsufficientFunds, LedgerConflict, LedgerError, commission_for
from tenants.db import db

from .conftest import ledger_counts

BUYER, SELLER = 10, 20
LATER = datetime.now(UTC) + timedelta(days=30)


@pytest.mark.parametrize(
    ("amount", "bps", "min_fee", "fee"),
    [
        (10_000, 1000, 100, 1000),  # 10%
        (500, 1000, 100, 100),  # the minimum fee wins
        (50, 1000, 100, 50),  # never more than the amount
        (5, 1000, 0, 1),  # 0.5 rounds half up
        (4, 1000, 0, 0),  # 0.4 rounds down
        (15, 1000, 0, 2),  # 1.5 -> 2
        (1, 5000, 0, 1),  # 0.5 -> 1
        (12_345, 0, 0, 0),
        (10**15, 2500, 0, 25 * 10**13),  # no float anywhere
    ],
)
def test_commission_is_percent_rounded_half_up_with_a_minimum_capped_at_the_amount(amount, bps, min_fee, fee):
    assert commission_for(amount, bps, min_fee) == fee


def test_the_whole_path_of_an_order(acme, in_tenant, set_commission):
    set_commission(acme, 1000, 100, clearance_days=7)
    with in_tenant(acme):
        ledger.record_payment(1, 11, BUYER, 10_000, "USD", "pi_1")
        assert ledger.escrow_balance(1, "USD") == 10_000
        assert ledger.release_escrow(1, 11, SELLER, 10_000, "USD") == (9_000, 1_000)
        assert ledger.escrow_balance(1, "USD") == 0
        assert ledger.seller_balances(SELLER, "USD") == {"pending": 9_000, "available": 0}
        assert ledger.account_balance("platform:commission", "USD") == 1_000
        db.session.commit()

        assert ledger.clear_earnings(SELLER, "USD", datetime.now(UTC)) is None  # not yet cleared
        cleared = ledger.clear_earnings(SELLER, "USD", LATER)
        assert cleared.kind == "clearance"
        assert ledger.seller_balances(SELLER, "USD") == {"pending": 0, "available": 9_000}
        ledger.record_payout(SELLER, 9_000, "USD", "po_1")
        db.session.commit()
        assert ledger.seller_balances(SELLER, "USD") == {"pending": 0, "available": 0}
        assert ledger.account_balance("provider:clearing", "USD") == 1_000  # the commission stays
        assert ledger.verify().ok


def test_a_partial_cancellation_refunds_the_buyer_and_releases_the_rest(acme, in_tenant, set_commission):
    set_commission(acme, 1000, 0)
    with in_tenant(acme):
        ledger.record_payment(3, None, BUYER, 5_000, "EUR", "pi_3")
        ledger.refund_escrow(3, None, BUYER, 2_000, "EUR", "re_3")
        assert ledger.release_escrow(3, None, SELLER, 3_000, "EUR") == (2_700, 300)
        db.session.commit()
        assert ledger.escrow_balance(3, "EUR") == 0
        assert ledger.account_balance("provider:clearing", "EUR") == 3_000
        assert ledger.verify().ok


def test_every_wrapper_is_idempotent(acme, in_tenant):
    with in_tenant(acme):
        for _ in range(2):
            ledger.record_payment(1, 11, BUYER, 10_000, "USD", "pi_1")
            ledger.refund_escrow(1, 11, BUYER, 1_000, "USD", "re_1")
            ledger.release_escrow(1, 11, SELLER, 9_000, "USD")
            ledger.clear_earnings(SELLER, "USD", LATER)
            db.session.commit()
        net = ledger.seller_balances(SELLER, "USD")["available"]
        for _ in range(2):
            ledger.record_payout(SELLER, net, "USD", "po_1")
            db.session.commit()
        assert ledger_counts()[1] == 5
        assert ledger.escrow_balance(1, "USD") == 0
        assert ledger.seller_balances(SELLER, "USD") == {"pending": 0, "available": 0}
        assert ledger.verify().ok


def test_a_release_repeats_its_first_split_even_after_the_commission_changed(acme, in_tenant, set_commission):
    set_commission(acme, 1000, 0)
    with in_tenant(acme):
        ledger.record_payment(1, 11, BUYER, 10_000, "USD", "pi_1")
        first = ledger.release_escrow(1, 11, SELLER, 10_000, "USD")
        db.session.commit()
    set_commission(acme, 2000, 0)
    with in_tenant(acme):
        assert ledger.release_escrow(1, 11, SELLER, 10_000, "USD") == first == (9_000, 1_000)
        with pytest.raises(LedgerConflict):
            ledger.release_escrow(1, 11, SELLER, 5_000, "USD")
        with pytest.raises(LedgerConflict):
            ledger.release_escrow(1, 11, SELLER + 1, 10_000, "USD")


def test_the_same_payment_ref_with_another_amount_is_a_conflict(acme, in_tenant):
    with in_tenant(acme):
        ledger.record_payment(1, 11, BUYER, 10_000, "USD", "pi_1")
        db.session.commit()
        with pytest.raises(LedgerConflict):
            ledger.record_payment(1, 11, BUYER, 9_999, "USD", "pi_1")


@pytest.mark.parametrize("operation", ["refund", "release", "payout"])
def test_moving_more_than_is_there_raises_and_moves_nothing(acme, in_tenant, operation):
    with in_tenant(acme):
        ledger.record_payment(1, 11, BUYER, 1_000, "USD", "pi_1")
        db.session.commit()
        before = ledger_counts()
        with pytest.raises(InsufficientFunds):
            if operation == "refund":
                ledger.refund_escrow(1, 11, BUYER, 1_001, "USD", "re_1")
            elif operation == "release":
                ledger.release_escrow(1, 11, SELLER, 1_001, "USD")
            else:
                ledger.record_payout(SELLER, 1, "USD", "po_1")
        db.session.commit()
        assert ledger_counts() == before
        assert ledger.escrow_balance(1, "USD") == 1_000


@pytest.mark.parametrize("amount", [0, -5, 1.5, "100", None])
def test_wrappers_refuse_amounts_that_are_not_positive_integers(acme, in_tenant, amount):
    with in_tenant(acme):
        with pytest.raises(LedgerError):
            ledger.record_payment(1, 11, BUYER, amount, "USD", "pi_x")
        with pytest.raises(LedgerError):
            ledger.record_payout(SELLER, amount, "USD", "po_x")
        assert ledger_counts() == (0, 0, 0)


def test_a_full_commission_releases_nothing_to_the_seller(acme, in_tenant, set_commission):
    set_commission(acme, 1000, 500)
    with in_tenant(acme):
        ledger.record_payment(1, 11, BUYER, 300, "USD", "pi_1")
        assert ledger.release_escrow(1, 11, SELLER, 300, "USD") == (0, 300)
        db.session.commit()
        assert ledger.verify().ok


def test_clearance_is_first_in_first_out_by_release_time(acme, in_tenant, set_commission):
    set_commission(acme, 0, 0, clearance_days=7)
    with in_tenant(acme):
        ledger.record_payment(1, 11, BUYER, 1_000, "USD", "pi_1")
        ledger.release_escrow(1, 11, SELLER, 1_000, "USD")
        db.session.commit()
        first_release_time = datetime.now(UTC)
        ledger.record_payment(2, 12, BUYER, 500, "USD", "pi_2")
        ledger.release_escrow(2, 12, SELLER, 500, "USD")
        db.session.commit()
        # Pretend the second release happened later: only the first one is due.
        from app.ledger.models import LedgerTransaction

        db.session.query(LedgerTransaction).filter_by(idempotency_key="release:order:2:milestone:12").update(
            {"created_at": first_release_time + timedelta(days=3)}
        )
        db.session.commit()
        cleared = ledger.clear_earnings(SELLER, "USD", first_release_time + timedelta(days=8))
        db.session.commit()
        assert ledger.seller_balances(SELLER, "USD") == {"pending": 500, "available": 1_000}
        assert ledger.clear_earnings(SELLER, "USD", first_release_time + timedelta(days=8)) is None
        again = ledger.clear_earnings(SELLER, "USD", first_release_time + timedelta(days=11))
        db.session.commit()
        assert again.id != cleared.id
        assert ledger.seller_balances(SELLER, "USD") == {"pending": 0, "available": 1_500}
        assert ledger.verify().ok


def test_histories_show_each_side_newest_first_with_kind_amount_and_order(acme, in_tenant, set_commission):
    set_commission(acme, 1000, 0, clearance_days=0)
    with in_tenant(acme):
        ledger.record_payment(1, 11, BUYER, 10_000, "USD", "pi_1")
        db.session.commit()
        ledger.refund_escrow(1, 11, BUYER, 2_000, "USD", "re_1")
        db.session.commit()
        ledger.release_escrow(1, 11, SELLER, 8_000, "USD")
        db.session.commit()
        ledger.clear_earnings(SELLER, "USD", LATER)
        db.session.commit()
        ledger.record_payout(SELLER, 7_200, "USD", "po_1")
        db.session.commit()

        buyer = ledger.transactions_for_user(BUYER)
        assert [(i.kind, i.amount_minor, i.order_id, i.role) for i in buyer.items] == [
            ("refund", 2_000, 1, "buyer"),
            ("payment", -10_000, 1, "buyer"),
        ]
        seller = ledger.transactions_for_user(SELLER)
        assert [(i.kind, i.amount_minor) for i in seller.items] == [
            ("payout", -7_200),
            ("clearance", 7_200),
            ("release", 7_200),
        ]
        release = seller.items[-1]
        assert (release.gross_minor, release.fee_minor, release.order_id, release.milestone_id) == (
            8_000,
            800,
            1,
            11,
        )

        page2 = ledger.transactions_for_user(SELLER, page=2, per_page=2)
        assert [i.kind for i in page2.items] == ["release"]
        assert (page2.total, page2.pages, page2.has_next) == (3, 2, False)
        assert ledger.transactions_for_user(999).items == []
