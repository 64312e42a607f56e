"""Demo disputes (``app.demo.disputes.seed_disputes``), seeded small into the suite's acme
tenant: one answered by a proposal, one in the admin's decision queue, one about a contract
milestone, one settled by a 60/40 split; escrow stays locked where open; the ledger verifies.
With it, the payouts demo: a pending identity check and a held seller."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.demo.seed import DEMO_TENANTS, seed_demo
from app.disputes.models import Dispute, DisputeProposal
from app.ledger.verify import verify
from app.orders.models import Milestone
from app.payments.models import PayoutHold, SellerPaymentAccount
from tenants.db import db


@pytest.fixture
def seeded(app, search_index_dir):
    with app.app_context():
        return seed_demo(
            sellers_per_tenant=5, gigs_per_tenant=2, orders_per_tenant=40, tenants=[DEMO_TENANTS[0]]
        )


def test_demo_disputes_in_each_state(seeded, in_tenant, acme, app):
    line = next(line for line in seeded if line.startswith("acme: added"))
    assert "disputes (1 resolved)" in line, line
    with in_tenant(acme):
        rows = list(db.session.scalars(sa.select(Dispute).order_by(Dispute.id)))
        stages = sorted((d.status, d.stage) for d in rows)
        assert ("open", "decision") in stages and ("resolved", "self_resolution") in stages
        for d in rows:
            held = db.session.get(Milestone, d.milestone_id)
            if d.status == "open":
                assert held.status == "disputed"
            else:
                assert d.outcome == "resolved_split" and d.refund_minor + d.release_minor == d.amount_minor
        waiting = db.session.scalars(sa.select(DisputeProposal).where(DisputeProposal.status == "open")).all()
        assert waiting, "the printed buyer's dispute has the seller's proposal waiting"
        assert verify().ok
        # The payouts back office's demo (five sellers or more): one identity check waiting for
        # the operator, one seller's payouts held.
        kyc = [a.kyc_status for a in db.session.scalars(sa.select(SellerPaymentAccount))]
        assert kyc.count("pending") == 1 and kyc.count("verified") >= 3
        assert db.session.scalars(sa.select(PayoutHold).where(PayoutHold.released_at.is_(None))).one()
    with app.app_context():
        again = seed_demo(
            sellers_per_tenant=5, gigs_per_tenant=2, orders_per_tenant=40, tenants=[DEMO_TENANTS[0]]
        )
    assert not any("disputes" in line for line in again)
