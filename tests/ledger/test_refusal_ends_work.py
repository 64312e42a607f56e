"""A posting without its savepoint (``unit_of_work.refusals_end_work``): the API's money views
and the card form raise every refusal, so the ledger skips its SAVEPOINT / RELEASE there. A
posting refused half-done then leaves a transaction that can only be rolled back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core import unit_of_work
from app.ledger import services as ledger
from app.ledger.services import COMMISSION, InsufficientFunds
from tenants.db import db
from tests.helpers import statements_of

from .conftest import ledger_counts


def _take_back_commission(amount: int, key: str):
    """A commission reversal: refused past what the commission account holds, after the
    accounts' balances were already moved in this transaction (the check follows the write)."""
    return ledger.post_transaction(
        "adjustment",
        [(COMMISSION, amount), (ledger.seller_available_account(9), -amount)],
        currency="USD",
        idempotency_key=key,
        seller_id=9,
    )


@pytest.fixture
def commission_of_100(acme, in_tenant, set_commission):
    set_commission(acme, 1000, 0)
    with in_tenant(acme):
        ledger.record_payment(1, 1, 7, 1_000, "USD", "pi_1")
        db.session.commit()
        ledger.release_escrow(1, 1, 9, 1_000, "USD")
        db.session.commit()
        assert ledger.account_balance(COMMISSION, "USD") == 100


def test_a_refused_posting_without_its_savepoint_can_only_be_rolled_back(
    app, acme, in_tenant, commission_of_100
):
    with in_tenant(acme):
        before = ledger_counts()

        def refused():
            with unit_of_work.refusals_end_work(), pytest.raises(InsufficientFunds):
                _take_back_commission(101, "back:1")

        sent = statements_of(app, refused)
        assert sent and not any("SAVEPOINT" in s for s in sent), sent
        # The balances moved before the refusal: committing now would keep them without entries.
        with pytest.raises(sa.exc.InvalidRequestError, match="roll it back"):
            db.session.commit()
        db.session.rollback()
        assert ledger_counts() == before
        assert ledger.account_balance(COMMISSION, "USD") == 100
        # The mark went with the transaction: the next unit of work commits as usual.
        _take_back_commission(40, "back:2")
        db.session.commit()
        assert ledger.account_balance(COMMISSION, "USD") == 60
        report = ledger.verify()
        assert report.ok, report.problems


def test_outside_such_a_view_the_posting_keeps_its_savepoint(app, acme, in_tenant, commission_of_100):
    """Callers that go on after a refusal (a job's sweep, a web form) get the savepoint: the
    refusal leaves nothing and the unit of work still commits its other work."""
    with in_tenant(acme):
        before = ledger_counts()

        def refused():
            with pytest.raises(InsufficientFunds):
                _take_back_commission(101, "back:1")

        assert any(s.startswith("SAVEPOINT") for s in statements_of(app, refused))
        db.session.commit()
        assert ledger_counts() == before
        assert ledger.account_balance(COMMISSION, "USD") == 100


def test_a_savepoint_rolled_back_around_the_refusal_takes_the_mark_with_it(
    acme, in_tenant, commission_of_100
):
    with in_tenant(acme):
        before = ledger_counts()
        with pytest.raises(InsufficientFunds), db.session.begin_nested(), unit_of_work.refusals_end_work():
            _take_back_commission(101, "back:1")
        db.session.commit()  # the half-done posting went with the savepoint: nothing to refuse
        assert ledger_counts() == before
        assert ledger.account_balance(COMMISSION, "USD") == 100
