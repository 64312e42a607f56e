"""post_transaction: the rules every posting obeys, and what happens when one is broken."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.ledger.models import LedgerEntry
from app.ledger.services import (
    InsufficientFunds,
    LedgerConflict,
    LedgerError,
    account_balance,
    account_codes,
    post_transaction,
    verify,
)
from tenants.db import db

from .conftest import ledger_counts

PAY = [("provider:clearing", 1000), ("escrow:order:1", -1000)]


def test_a_payment_creates_its_accounts_and_moves_the_balances(acme, in_tenant):
    with in_tenant(acme):
        tx = post_transaction("payment", PAY, currency="USD", idempotency_key="k1", order_id=1, buyer_id=7)
        db.session.commit()
        assert tx.id and tx.kind == "payment" and tx.buyer_id == 7
        assert account_balance("provider:clearing", "USD") == 1000
        assert account_balance("escrow:order:1", "USD") == 1000
        entries = db.session.scalars(sa.select(LedgerEntry.amount_minor).order_by(LedgerEntry.id)).all()
        assert sorted(entries) == [-1000, 1000]
        assert verify().ok


@pytest.mark.parametrize(
    ("entries", "currency", "message"),
    [
        ([("provider:clearing", 1000), ("escrow:order:1", -999)], "USD", "unbalanced"),
        ([("provider:clearing", 1000)], "USD", "two entries"),
        ([], "USD", "two entries"),
        ([("provider:clearing", 0), ("escrow:order:1", 0)], "USD", "zero amount"),
        ([("provider:clearing", 10.0), ("escrow:order:1", -10.0)], "USD", "integer"),
        ([("provider:clearing", True), ("escrow:order:1", -1)], "USD", "integer"),
        ([("provider:clearing", 1000), ("escrow:order:1", -1000)], "usd", "currency"),
        ([("provider:clearing", 1000), ("escrow:order:1", -1000)], "EURO", "currency"),
        ([("provider:clearing", 1000), ("nobody:knows", -1000)], "USD", "unknown account"),
        ([("provider:clearing", 1000), ("escrow:order:0", -1000)], "USD", "unknown account"),
        # Mixed currencies: each currency must balance on its own.
        ([("provider:clearing", 1000, "USD"), ("escrow:order:1", -1000, "EUR")], "USD", "unbalanced"),
    ],
)
def test_an_invalid_transaction_is_refused_and_writes_nothing(acme, in_tenant, entries, currency, message):
    with in_tenant(acme):
        with pytest.raises(LedgerError, match=message):
            post_transaction("payment", entries, currency=currency, idempotency_key="bad", order_id=1)
        db.session.commit()
        assert ledger_counts() == (0, 0, 0)


def test_escrow_moves_only_in_its_own_orders_transactions(acme, in_tenant):
    with in_tenant(acme):
        for order_id in (None, 2):
            with pytest.raises(LedgerError, match="order 1"):
                post_transaction("payment", PAY, currency="USD", idempotency_key="k", order_id=order_id)
        assert ledger_counts() == (0, 0, 0)


def test_unknown_kind_and_missing_key_are_refused(acme, in_tenant):
    with in_tenant(acme):
        with pytest.raises(LedgerError, match="kind"):
            post_transaction("gift", PAY, currency="USD", idempotency_key="k")
        with pytest.raises(LedgerError, match="idempotency key"):
            post_transaction("payment", PAY, currency="USD", idempotency_key="")
        assert ledger_counts() == (0, 0, 0)


def test_a_balanced_multi_currency_transaction_is_accepted(acme, in_tenant):
    with in_tenant(acme):
        post_transaction(
            "adjustment",
            [
                ("provider:clearing", 500, "USD"),
                ("platform:commission", -500, "USD"),
                ("provider:clearing", 300, "EUR"),
                ("platform:commission", -300, "EUR"),
            ],
            currency="USD",
            idempotency_key="fx",
        )
        db.session.commit()
        assert account_balance("provider:clearing", "EUR") == 300
        assert account_balance("platform:commission", "USD") == 500
        assert verify().ok


def test_overdrawing_a_non_negative_account_raises_and_writes_nothing(acme, in_tenant):
    with in_tenant(acme):
        post_transaction("payment", PAY, currency="USD", idempotency_key="pay", order_id=1)
        db.session.commit()
        before = ledger_counts()
        with pytest.raises(InsufficientFunds) as caught:
            post_transaction(
                "refund",
                [("escrow:order:1", 1001), ("provider:clearing", -1001)],
                currency="USD",
                idempotency_key="too-much",
                order_id=1,
            )
        assert caught.value.code == "escrow:order:1" and caught.value.balance == 1000
        # The caller's unit of work goes on: the failed posting left nothing behind.
        db.session.commit()
        assert ledger_counts() == before
        assert account_balance("escrow:order:1", "USD") == 1000
        assert verify().ok


def test_the_same_key_and_entries_return_the_first_transaction(acme, in_tenant):
    with in_tenant(acme):
        first = post_transaction("payment", PAY, currency="USD", idempotency_key="once", order_id=1)
        db.session.commit()
        again = post_transaction(
            "payment", list(reversed(PAY)), currency="USD", idempotency_key="once", order_id=1
        )
        db.session.commit()
        assert again.id == first.id
        assert account_balance("provider:clearing", "USD") == 1000
        assert ledger_counts()[1:] == (1, 2)


@pytest.mark.parametrize(
    ("kind", "entries", "currency"),
    [
        ("payment", [("provider:clearing", 999), ("escrow:order:1", -999)], "USD"),
        ("payment", [("provider:clearing", 1000), ("platform:commission", -1000)], "USD"),
        ("refund", PAY, "USD"),
        ("payment", PAY, "EUR"),
    ],
)
def test_the_same_key_with_another_transaction_is_a_conflict(acme, in_tenant, kind, entries, currency):
    with in_tenant(acme):
        post_transaction("payment", PAY, currency="USD", idempotency_key="once", order_id=1)
        db.session.commit()
        with pytest.raises(LedgerConflict):
            post_transaction(kind, entries, currency=currency, idempotency_key="once", order_id=1)
        db.session.commit()
        assert ledger_counts()[1:] == (1, 2)


def test_the_database_refuses_a_negative_balance_even_behind_the_services_back(acme, in_tenant):
    from app.ledger.models import LedgerAccount

    with in_tenant(acme):
        post_transaction("payment", PAY, currency="USD", idempotency_key="pay", order_id=1)
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(
                sa.update(LedgerAccount)
                .where(LedgerAccount.code == "escrow:order:1")
                .values(balance_minor=-1)
            )
        db.session.rollback()


def test_an_entry_in_another_currency_than_its_account_is_refused_by_the_database(acme, in_tenant):
    from app.ledger.models import LedgerAccount, LedgerTransaction

    with in_tenant(acme):
        tx = post_transaction("payment", PAY, currency="USD", idempotency_key="pay", order_id=1)
        db.session.commit()
        account_id = db.session.scalar(
            sa.select(LedgerAccount.id).where(LedgerAccount.code.in_(account_codes("provider:clearing")))
        )
        assert account_id is not None
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(
                sa.insert(LedgerEntry).values(
                    transaction_id=tx.id, account_id=account_id, amount_minor=1, currency="EUR"
                )
            )
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == 1


def test_a_rolled_back_posting_leaves_no_balance_in_loaded_accounts(app, acme, in_tenant, monkeypatch):
    """Balances come back from the accounts' upsert (RETURNING): a savepoint rolled back after
    a posting must not leave its balances on the account rows the session holds."""
    from app.ledger.models import LedgerAccount

    monkeypatch.setitem(app.config, "LEDGER_HOT_SHARDS", 1)  # both postings on one clearing row
    with in_tenant(acme):
        post_transaction("payment", PAY, currency="USD", idempotency_key="k-kept", order_id=1)
        db.session.commit()
        clearing = db.session.scalars(
            sa.select(LedgerAccount).where(LedgerAccount.code == "provider:clearing#0")
        ).one()
        assert clearing.balance_minor == 1000
        savepoint = db.session.begin_nested()
        post_transaction("payment", PAY, currency="USD", idempotency_key="k-dropped", order_id=1)
        assert clearing.balance_minor == 2000
        savepoint.rollback()
        again = db.session.scalars(
            sa.select(LedgerAccount).where(LedgerAccount.code == "provider:clearing#0")
        ).one()
        assert again is clearing and clearing.balance_minor == 1000
        assert account_balance("provider:clearing", "USD") == 1000 and verify().ok


def test_a_posting_is_one_statement_and_a_repeat_moves_nothing(app, acme, in_tenant):
    """The claim, the accounts' upsert and the entries go in one statement (the savepoint around
    it aside), the same compiled statement for postings of any number of rows; a repeated key
    sends it again, finds the key taken and moves nothing, then reads the first posting."""
    from tests.helpers import statements_of

    three = [("provider:clearing", 1500), ("escrow:order:1", -1000), ("escrow:order:1", -500)]
    with in_tenant(acme):
        sent = statements_of(
            app, lambda: post_transaction("payment", PAY, currency="USD", idempotency_key="one", order_id=1)
        )
        writes = [s for s in sent if "ledger_" in s]
        assert len(writes) == 1 and all(
            f"INSERT INTO {acme.schema}.ledger_{table}" in writes[0]
            for table in ("transactions", "accounts", "entries")
        ), sent
        more = statements_of(
            app, lambda: post_transaction("payment", three, currency="USD", idempotency_key="two", order_id=1)
        )
        assert [s for s in more if "ledger_" in s] == writes  # the same statement, three entries
        again = statements_of(
            app, lambda: post_transaction("payment", PAY, currency="USD", idempotency_key="one", order_id=1)
        )
        assert writes[0] in again and len([s for s in again if "ledger_" in s]) >= 2  # + the read
        db.session.commit()
        assert account_balance("escrow:order:1", "USD") == 2500
        assert ledger_counts() == (2, 2, 5) and verify().ok
