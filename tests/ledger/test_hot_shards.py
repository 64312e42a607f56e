"""The hot accounts' shards (``provider:clearing``, ``platform:commission``): postings spread over
shard rows picked from their keys, readers see one account, concurrent payments of one tenant
do not wait for each other, and the money still cannot go below zero."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.ledger import services as ledger
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from app.ledger.services import CLEARING, COMMISSION, InsufficientFunds, LedgerError, shard_code, shard_of
from tenants.db import db, tenant_context

from .conftest import ledger_counts

SHARDS = 8


@pytest.fixture(autouse=True)
def eight_shards(app, monkeypatch):
    monkeypatch.setitem(app.config, "LEDGER_HOT_SHARDS", SHARDS)


def ref_on(shard: int, key, start: int = 1) -> int:
    """The first number ``n >= start`` whose posting key ``key(n)`` lands on ``shard``."""
    return next(n for n in itertools.count(start) if shard_of(key(n), SHARDS) == shard)


def payment_ref(shard: int, start: int = 1) -> str:
    return f"pi_{ref_on(shard, lambda n: f'payment:pi_{n}', start)}"


def release_order(shard: int, start: int = 1) -> int:
    """An order id whose release (milestone = order id) lands on ``shard``."""
    return ref_on(shard, lambda n: ledger.release_key(n, n), start)


def rows(code: str) -> dict[str, int]:
    """``{row code: cached balance}`` of an account's rows (USD)."""
    return dict(
        db.session.execute(
            sa.select(LedgerAccount.code, LedgerAccount.balance_minor).where(
                LedgerAccount.code.in_(ledger.account_codes(code)), LedgerAccount.currency == "USD"
            )
        ).all()
    )


def entry_rows(transaction_id: int) -> set[str]:
    return set(
        db.session.scalars(
            sa.select(LedgerAccount.code)
            .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
            .where(LedgerEntry.transaction_id == transaction_id)
        )
    )


def test_postings_with_different_keys_land_on_different_shards_and_read_as_one_account(
    acme, in_tenant, set_commission
):
    set_commission(acme, 1000, 0)
    first, second = payment_ref(1), payment_ref(5)
    with in_tenant(acme):
        ledger.record_payment(1, 1, 7, 1_000, "USD", first)
        db.session.commit()
        ledger.record_payment(2, 2, 7, 2_000, "USD", second)
        db.session.commit()
        assert rows(CLEARING) == {shard_code(CLEARING, 1): 1_000, shard_code(CLEARING, 5): 2_000}
        assert ledger.account_balance(CLEARING, "USD") == 3_000

        # Releases spread commission the same way, by their own keys.
        one, two = release_order(2, start=100), release_order(6, start=100)
        for order, amount, ref in ((one, 5_000, "pi_r1"), (two, 7_000, "pi_r2")):
            ledger.record_payment(order, order, 7, amount, "USD", ref)
            db.session.commit()
            ledger.release_escrow(order, order, 9, amount, "USD")
            db.session.commit()
        assert set(rows(COMMISSION)) == {shard_code(COMMISSION, 2), shard_code(COMMISSION, 6)}
        assert ledger.account_balance(COMMISSION, "USD") == 500 + 700
        assert ledger.account_balance(CLEARING, "USD") == 3_000 + 5_000 + 7_000

        report = ledger.verify()
        assert report.ok, report.problems
        # clearing, commission, four escrows, one seller's pending: shards count once
        assert report.accounts == 7
        # statements show the account, not the shard
        (payment,) = ledger.order_transactions(1)
        assert {e.account_code for e in payment.entries} == {CLEARING, "escrow:order:1"}
        (_paid, released) = ledger.order_transactions(one)
        assert COMMISSION in {e.account_code for e in released.entries}


def test_a_lower_shard_count_still_reads_the_higher_shards(app, acme, in_tenant, monkeypatch):
    with in_tenant(acme):
        ledger.record_payment(1, 1, 7, 1_000, "USD", payment_ref(7))
        db.session.commit()
    monkeypatch.setitem(app.config, "LEDGER_HOT_SHARDS", 2)
    with in_tenant(acme):
        ledger.refund_escrow(1, 1, 7, 1_000, "USD", "re_1")  # lands on shard 0 or 1
        db.session.commit()
        assert rows(CLEARING)[shard_code(CLEARING, 7)] == 1_000
        assert ledger.account_balance(CLEARING, "USD") == 0
        assert ledger.verify().ok


def test_the_unsharded_row_of_an_existing_tenant_stays_part_of_the_account(acme, in_tenant):
    """Before the shards, a tenant's clearing money sat on ``provider:clearing`` itself; that row
    is still read, and money paid in there can be refunded from any shard."""
    with in_tenant(acme):
        old = ledger.record_payment(1, 1, 7, 4_000, "USD", payment_ref(3))
        db.session.commit()
        # The row as the code before the shards wrote it: the account's own code, never negative.
        db.session.execute(
            sa.update(LedgerAccount)
            .where(LedgerAccount.code == shard_code(CLEARING, 3))
            .values(code=CLEARING, allow_negative=False)
        )
        db.session.commit()
        assert entry_rows(old.id) == {CLEARING, "escrow:order:1"}

        ledger.record_payment(2, 2, 7, 1_000, "USD", payment_ref(4))
        db.session.commit()
        refund = ledger.refund_escrow(1, 1, 7, 3_000, "USD", f"re_{ref_on(6, lambda n: f'refund:re_{n}')}")
        db.session.commit()
        assert entry_rows(refund.id) == {shard_code(CLEARING, 6), "escrow:order:1"}
        assert rows(CLEARING) == {
            CLEARING: 4_000,
            shard_code(CLEARING, 4): 1_000,
            shard_code(CLEARING, 6): -3_000,
        }
        assert ledger.account_balance(CLEARING, "USD") == 2_000
        assert ledger.transactions_for_user(7).items[0].amount_minor == 3_000  # the buyer's refund
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.accounts == 3


def test_a_retry_with_the_same_key_lands_on_the_same_shard(app, acme, in_tenant, monkeypatch):
    ref = "pi_retried"
    shard = shard_code(CLEARING, shard_of(f"payment:{ref}", SHARDS))
    with in_tenant(acme):
        # The first attempt gets as far as its entries, then its unit of work is rolled back.
        attempt = ledger.record_payment(1, 1, 7, 1_000, "USD", ref)
        assert entry_rows(attempt.id) == {shard, "escrow:order:1"}
        db.session.rollback()
        assert ledger_counts() == (0, 0, 0)

        posted = ledger.record_payment(1, 1, 7, 1_000, "USD", ref)
        db.session.commit()
        assert entry_rows(posted.id) == {shard, "escrow:order:1"}

        # A retry once it is posted is the same transaction, even under another shard count:
        # the repeat compares accounts, not shards.
        monkeypatch.setitem(app.config, "LEDGER_HOT_SHARDS", 3)
        assert ledger.record_payment(1, 1, 7, 1_000, "USD", ref).id == posted.id
        db.session.commit()
        assert ledger_counts() == (2, 1, 2)
        assert ledger.account_balance(CLEARING, "USD") == 1_000


def test_the_postings_of_one_unit_of_work_share_one_shard(acme, in_tenant, set_commission):
    """Two payments and a release in one transaction lock one row of each hot account, whatever
    their keys: two such units of work can never lock two shards in opposite orders."""
    set_commission(acme, 1000, 0)
    with in_tenant(acme):
        first = ledger.record_payment(1, 1, 7, 1_000, "USD", payment_ref(2))
        second = ledger.record_payment(2, 2, 7, 1_000, "USD", payment_ref(5))
        ledger.release_escrow(1, 1, 9, 1_000, "USD")
        db.session.commit()
        assert set(rows(CLEARING)) == {shard_code(CLEARING, 2)}
        assert set(rows(COMMISSION)) == {shard_code(COMMISSION, 2)}
        assert shard_code(CLEARING, 2) in entry_rows(second.id)

        # The next unit of work picks again, from its own first key.
        third = ledger.record_payment(3, 3, 7, 1_000, "USD", payment_ref(5, start=1000))
        db.session.commit()
        assert entry_rows(third.id) == {shard_code(CLEARING, 5), "escrow:order:3"}
        assert entry_rows(first.id) == {shard_code(CLEARING, 2), "escrow:order:1"}
        assert ledger.verify().ok


def _hold_a_posting_open(app, tenant, post, posted: threading.Event, done: threading.Event, errors: list):
    """In its own thread, session and connection: post, then keep the transaction (and the rows it
    locked) open until ``done`` is set, then commit."""

    def run():
        with app.app_context(), tenant_context(tenant):
            try:
                post()
                posted.set()
                assert done.wait(timeout=60)
                db.session.commit()
            except BaseException as exc:  # reported to the test
                errors.append(exc)
                posted.set()
                db.session.rollback()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _post_without_waiting(app, tenant, post):
    """Post in another session under a short lock_timeout: a lock held by the open posting
    fails it with LockNotAvailable instead of waiting (so the test fails, never hangs)."""
    with app.app_context(), tenant_context(tenant):
        db.session.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        try:
            result = post()
            db.session.commit()
            return result
        except Exception:
            db.session.rollback()
            raise


@pytest.mark.parametrize("step", ["payment", "release"])
def test_concurrent_postings_of_one_tenant_on_different_shards_do_not_wait(
    app, acme, in_tenant, set_commission, step
):
    set_commission(acme, 1000, 0)
    if step == "payment":
        held_ref, other_ref, same_ref = payment_ref(1), payment_ref(6), payment_ref(1, start=1000)

        def held():
            return ledger.record_payment(1, 1, 7, 1_000, "USD", held_ref)

        def other():
            return ledger.record_payment(2, 2, 7, 1_000, "USD", other_ref)

        def same_shard():
            return ledger.record_payment(3, 3, 7, 1_000, "USD", same_ref)
    else:
        orders = (release_order(1), release_order(6), release_order(1, start=1000))
        with in_tenant(acme):
            for order in orders:
                ledger.record_payment(order, order, 7, 1_000, "USD", f"pi_{order}")
                db.session.commit()

        def held():
            return ledger.release_escrow(orders[0], orders[0], 9, 1_000, "USD")

        # Three sellers: a release also locks its seller's pending account.
        def other():
            return ledger.release_escrow(orders[1], orders[1], 10, 1_000, "USD")

        def same_shard():
            return ledger.release_escrow(orders[2], orders[2], 11, 1_000, "USD")

    posted, done, errors = threading.Event(), threading.Event(), []
    thread = _hold_a_posting_open(app, acme, held, posted, done, errors)
    try:
        assert posted.wait(timeout=60) and not errors
        # Another key on another shard goes through while the first posting's transaction is open.
        assert _post_without_waiting(app, acme, other) is not None
        # The control: a key on the held shard does wait (and times out), so the check above
        # would have failed on one shared row.
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            _post_without_waiting(app, acme, same_shard)
    finally:
        done.set()
        thread.join(timeout=60)
    assert not errors
    with in_tenant(acme):
        report = ledger.verify()
        assert report.ok, report.problems
        if step == "payment":
            assert ledger.account_balance(CLEARING, "USD") == 2_000
        else:
            assert ledger.account_balance(COMMISSION, "USD") == 200
            assert ledger.account_balance(CLEARING, "USD") == 3_000


def test_refunds_and_payouts_take_money_out_of_clearing_on_any_shard(acme, in_tenant, set_commission):
    """Clearing may go below zero on one shard (money paid in on one, refunded or paid out on
    another), never as a whole: it is the only debit-normal account, so it holds exactly what
    the escrows, the sellers and the commission hold."""
    set_commission(acme, 1000, 0, clearance_days=0)
    with in_tenant(acme):
        ledger.record_payment(1, 1, 7, 10_000, "USD", payment_ref(1))
        db.session.commit()
        refund_ref = f"re_{ref_on(4, lambda n: f'refund:re_{n}')}"
        ledger.refund_escrow(1, 1, 7, 4_000, "USD", refund_ref)
        db.session.commit()
        assert rows(CLEARING) == {shard_code(CLEARING, 1): 10_000, shard_code(CLEARING, 4): -4_000}

        release = ledger.release_escrow(1, 1, 9, 6_000, "USD")
        db.session.commit()
        assert release == (5_400, 600)
        assert ledger.clear_earnings(9, "USD", datetime.now(UTC) + timedelta(days=1)) is not None
        db.session.commit()
        payout_ref = f"po_{ref_on(6, lambda n: f'payout:po_{n}')}"
        ledger.record_payout(9, 5_400, "USD", payout_ref)
        db.session.commit()
        assert rows(CLEARING)[shard_code(CLEARING, 6)] == -5_400
        # What is left in clearing is the commission, all of it.
        assert ledger.account_balance(CLEARING, "USD") == 600 == ledger.account_balance(COMMISSION, "USD")
        assert ledger.seller_balances(9, "USD") == {"pending": 0, "available": 0}
        # A payout larger than the seller holds is still refused, whatever clearing's shards hold.
        before = ledger_counts()
        with pytest.raises(InsufficientFunds):
            ledger.record_payout(9, 1, "USD", "po_more")
        db.session.rollback()
        assert ledger_counts() == before
        report = ledger.verify()
        assert report.ok, report.problems


def test_taking_from_commission_is_checked_against_the_whole_account(acme, in_tenant, set_commission):
    """Commission reversals land on shard 0 and are refused when the account (every row) would
    go below zero, even though the shard alone may."""
    set_commission(acme, 1000, 0)
    with in_tenant(acme):
        for order in (release_order(3), release_order(5)):
            ledger.record_payment(order, order, 7, 1_000, "USD", f"pi_{order}")
            db.session.commit()  # the release picks its shard in a unit of work of its own
            ledger.release_escrow(order, order, 9, 1_000, "USD")
            db.session.commit()
        assert ledger.account_balance(COMMISSION, "USD") == 200

        reversal = ledger.post_transaction(
            "adjustment",
            [(COMMISSION, 150), (ledger.seller_available_account(9), -150)],
            currency="USD",
            idempotency_key="commission-back:1",
            seller_id=9,
        )
        db.session.commit()
        assert entry_rows(reversal.id) == {shard_code(COMMISSION, 0), "seller:9:available"}
        assert rows(COMMISSION)[shard_code(COMMISSION, 0)] == -150
        assert ledger.account_balance(COMMISSION, "USD") == 50

        before = ledger_counts()
        with pytest.raises(InsufficientFunds) as caught:
            ledger.post_transaction(
                "adjustment",
                [(COMMISSION, 51), (ledger.seller_available_account(9), -51)],
                currency="USD",
                idempotency_key="commission-back:2",
                seller_id=9,
            )
        assert (caught.value.code, caught.value.balance, caught.value.change) == (COMMISSION, 50, -51)
        db.session.commit()
        assert ledger_counts() == before
        assert ledger.account_balance(COMMISSION, "USD") == 50
        report = ledger.verify()
        assert report.ok, report.problems


def test_a_reversal_of_commission_comes_first_in_its_unit_of_work(acme, in_tenant, set_commission):
    """It locks every commission row; after another hot posting of its unit of work (which holds
    one of them) it could deadlock with a unit holding another, so it is refused there."""
    set_commission(acme, 1000, 0)
    reversal = [(COMMISSION, 50), (ledger.seller_available_account(9), -50)]
    with in_tenant(acme):
        ledger.record_payment(1, 1, 7, 1_000, "USD", "pi_1")
        db.session.commit()
        ledger.release_escrow(1, 1, 9, 1_000, "USD")
        with pytest.raises(LedgerError, match="must come before"):
            ledger.post_transaction("adjustment", reversal, currency="USD", idempotency_key="back:1")
        db.session.commit()
        # First in its unit of work, it goes through, and the unit's other postings after it.
        ledger.post_transaction("adjustment", reversal, currency="USD", idempotency_key="back:1")
        ledger.record_payment(2, 2, 7, 1_000, "USD", "pi_2")
        db.session.commit()
        assert ledger.account_balance(COMMISSION, "USD") == 50
        assert ledger.account_balance(CLEARING, "USD") == 2_000
        assert ledger.verify().ok


def test_verify_names_a_hot_account_whose_shards_sum_below_zero(acme, in_tenant, set_commission):
    set_commission(acme, 1000, 0)
    with in_tenant(acme):
        order = release_order(3)
        ledger.record_payment(order, order, 7, 1_000, "USD", "pi_1")
        db.session.commit()
        ledger.release_escrow(order, order, 9, 1_000, "USD")
        db.session.commit()
        # A reversal of more than the commission holds, written behind the services' back: every
        # row's cached balance matches its entries, the account as a whole is negative.
        tx = db.session.scalar(
            sa.insert(LedgerTransaction)
            .values(kind="adjustment", idempotency_key="sneaky", currency="USD")
            .returning(LedgerTransaction.id)
        )
        shard = db.session.scalar(
            sa.insert(LedgerAccount)
            .values(
                code=shard_code(COMMISSION, 0),
                kind="platform_commission",
                currency="USD",
                normal_side="credit",
                allow_negative=True,
                balance_minor=-500,
            )
            .returning(LedgerAccount.id)
        )
        seller = db.session.scalar(
            sa.select(LedgerAccount.id).where(LedgerAccount.code == ledger.seller_pending_account(9))
        )
        db.session.execute(
            sa.insert(LedgerEntry),
            [
                {"transaction_id": tx, "account_id": shard, "amount_minor": 500, "currency": "USD"},
                {"transaction_id": tx, "account_id": seller, "amount_minor": -500, "currency": "USD"},
            ],
        )
        db.session.execute(
            sa.update(LedgerAccount).where(LedgerAccount.id == seller).values(balance_minor=900 + 500)
        )
        db.session.commit()
        report = ledger.verify()
        assert report.problems == [
            "accounts whose shards sum below zero: 1",
            "  platform:commission (USD): negative balance -400 over its shards",
        ]


def test_callers_name_the_account_never_a_shard(acme, in_tenant):
    with in_tenant(acme):
        with pytest.raises(LedgerError, match="not to one of its shards"):
            ledger.post_transaction(
                "payment",
                [(shard_code(CLEARING, 1), 1_000), ("escrow:order:1", -1_000)],
                currency="USD",
                idempotency_key="k",
                order_id=1,
            )
        assert ledger_counts() == (0, 0, 0)


def test_a_bad_shard_count_is_refused_before_anything_is_written(app, acme, in_tenant, monkeypatch):
    monkeypatch.setitem(app.config, "LEDGER_HOT_SHARDS", 0)
    with in_tenant(acme):
        with pytest.raises(LedgerError, match="LEDGER_HOT_SHARDS"):
            ledger.record_payment(1, 1, 7, 1_000, "USD", "pi_1")
        assert ledger_counts() == (0, 0, 0)


def test_tenants_keep_their_own_shards_and_never_wait_for_each_other(app, acme, globex, in_tenant):
    """The same key in two marketplaces lands on the same shard number, in two schemas: one
    tenant's open posting locks nothing the other's needs, and each reads only its own money."""
    ref = payment_ref(2)
    posted, done, errors = threading.Event(), threading.Event(), []
    thread = _hold_a_posting_open(
        app, acme, lambda: ledger.record_payment(1, 1, 7, 1_000, "USD", ref), posted, done, errors
    )
    try:
        assert posted.wait(timeout=60) and not errors
        _post_without_waiting(app, globex, lambda: ledger.record_payment(1, 1, 7, 300, "USD", ref))
    finally:
        done.set()
        thread.join(timeout=60)
    assert not errors
    for tenant, amount in ((acme, 1_000), (globex, 300)):
        with in_tenant(tenant):
            assert rows(CLEARING) == {shard_code(CLEARING, 2): amount}
            assert ledger.account_balance(CLEARING, "USD") == amount
            report = ledger.verify()
            assert report.ok and report.transactions == 1
