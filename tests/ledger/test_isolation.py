"""Tenants never meet: equal account codes and ids in acme and globex are different money."""

from __future__ import annotations

from app.ledger import services as ledger
from tenants.db import db


def test_equal_account_codes_in_two_tenants_hold_their_own_money(acme, globex, in_tenant):
    with in_tenant(acme):
        ledger.record_payment(1, 1, 5, 10_000, "USD", "pi_1")
        db.session.commit()
    with in_tenant(globex):
        # Same order id, same payment ref: another marketplace, another transaction.
        tx = ledger.record_payment(1, 1, 5, 300, "USD", "pi_1")
        db.session.commit()
        assert tx.id == 1
        assert ledger.escrow_balance(1, "USD") == 300
        assert [i.amount_minor for i in ledger.transactions_for_user(5).items] == [-300]
        assert ledger.verify().transactions == 1
    with in_tenant(acme):
        assert ledger.escrow_balance(1, "USD") == 10_000
        assert ledger.account_balance("provider:clearing", "USD") == 10_000
        assert [i.amount_minor for i in ledger.transactions_for_user(5).items] == [-10_000]
        assert ledger.verify().ok
