"""verify() and ``flask ledger verify``: quiet on a sound ledger, loud on every kind of damage."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.ledger import services as ledger
from app.ledger.cli import verify_command
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from tenants.db import db


@pytest.fixture
def some_money(acme, globex, in_tenant):
    for tenant in (acme, globex):
        with in_tenant(tenant):
            ledger.record_payment(1, 1, 5, 10_000, "USD", "pi_1")
            ledger.release_escrow(1, 1, 6, 6_000, "USD")
            db.session.commit()


def damage(kind: str) -> None:
    """Corrupt the ledger behind the services' back, the way a bad hand-written query would."""
    escrow = sa.select(LedgerAccount.id).where(LedgerAccount.code == "escrow:order:1").scalar_subquery()
    if kind == "cached balance":
        db.session.execute(
            sa.update(LedgerAccount)
            .where(LedgerAccount.code.in_(ledger.account_codes(ledger.COMMISSION)))
            .values(balance_minor=1)
        )
    elif kind == "unbalanced":
        db.session.execute(
            sa.update(LedgerEntry)
            .where(LedgerEntry.account_id == escrow)
            .values(amount_minor=LedgerEntry.amount_minor - 1)
        )
        db.session.execute(
            sa.update(LedgerAccount)
            .where(LedgerAccount.id == escrow)
            .values(balance_minor=LedgerAccount.balance_minor + 2)
        )
    elif kind == "escrow mismatch":
        # A balanced adjustment that drains escrow without an order's payment, release or refund.
        tx = db.session.execute(
            sa.insert(LedgerTransaction)
            .values(kind="adjustment", idempotency_key="sneaky", currency="USD")
            .returning(LedgerTransaction.id)
        ).scalar_one()
        clearing = db.session.scalar(
            sa.select(LedgerAccount.id).where(LedgerAccount.code.in_(ledger.account_codes(ledger.CLEARING)))
        )
        db.session.execute(
            sa.insert(LedgerEntry),
            [
                {
                    "transaction_id": tx,
                    "account_id": db.session.scalar(sa.select(escrow)),
                    "amount_minor": 100,
                    "currency": "USD",
                },
                {
                    "transaction_id": tx,
                    "account_id": clearing,
                    "amount_minor": -100,
                    "currency": "USD",
                },
            ],
        )
        for account_id, delta in ((escrow, -100), (clearing, -100)):
            db.session.execute(
                sa.update(LedgerAccount)
                .where(LedgerAccount.id == account_id)
                .values(balance_minor=LedgerAccount.balance_minor + delta)
            )
    elif kind == "lonely entry":
        db.session.execute(
            sa.insert(LedgerTransaction).values(kind="adjustment", idempotency_key="empty", currency="USD")
        )
    db.session.commit()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("cached balance", "cached balances that differ"),
        ("unbalanced", "unbalanced transactions"),
        ("escrow mismatch", "escrow that differs"),
        ("lonely entry", "fewer than two entries"),
    ],
)
def test_verify_names_each_kind_of_damage(acme, in_tenant, some_money, kind, expected):
    with in_tenant(acme):
        assert ledger.verify().ok
        damage(kind)
        report = ledger.verify()
        assert not report.ok
        assert any(expected in line for line in report.problems), report.problems


def test_the_cli_checks_every_tenant_and_exits_1_naming_the_broken_one(app, acme, in_tenant, some_money):
    runner = app.test_cli_runner()
    result = runner.invoke(verify_command, [])
    assert result.exit_code == 0, result.output
    assert "acme: OK" in result.output and "globex: OK" in result.output

    with in_tenant(acme):
        damage("cached balance")
    result = runner.invoke(verify_command, [])
    assert result.exit_code == 1
    assert "acme: " in result.output and "platform:commission" in result.output
    assert "globex: OK" in result.output

    only_globex = runner.invoke(verify_command, ["--tenant", "globex"])
    assert only_globex.exit_code == 0 and "acme" not in only_globex.output
    assert runner.invoke(verify_command, ["--tenant", "nope"]).exit_code == 2


def test_flask_ledger_is_registered(app):
    result = app.test_cli_runner().invoke(args=["ledger", "--help"])
    assert result.exit_code == 0 and "verify" in result.output
