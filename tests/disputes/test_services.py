"""Disputes as specifications: opening locks the escrow, the ladder's steps and deadlines (with
an injected clock), the money of a resolution moved exactly once, and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.disputes import services
from app.disputes.models import Dispute, DisputeEvidence
from app.disputes.services import DisputeError, DisputeForbidden, DisputeNotFound, DisputeStateError
from app.ledger import services as ledger
from app.orders import milestones as engine
from app.orders import services as orders
from app.orders.models import Milestone, Order
from app.orders.services import OrderStateError
from app.settings.models import MarketplaceSettings
from app.storage.uploads import Upload
from tenants.db import db
from tests.disputes.conftest import admin_id, user

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def fee_of(amount: int) -> int:
    s = db.session.get(MarketplaceSettings, 1)
    return ledger.commission_for(amount, s.commission_bps, s.commission_min_fee_minor)


def open_on(m, order_id, *, by="buyer", now=T0, **kw):
    who = m.buyer_id if by == "buyer" else m.seller_id
    d = services.open_dispute(
        user(who), order_id, "not_as_described", "It is not what we agreed.", now=now, **kw
    )
    db.session.commit()
    return d


# --------------------------------------------------------------------------- opening and the lock


def test_buyer_opens_a_dispute_and_the_escrow_is_locked(acme, order_in, in_tenant):
    m, order_id = order_in(acme, "delivered")
    with in_tenant(acme):
        d = open_on(m, order_id)
        order = db.session.get(Order, order_id)
        assert d.stage == "self_resolution" and d.status == "open"
        assert d.amount_minor == order.total_minor and d.against_id == m.seller_id
        assert order.milestones[0].status == "disputed" and order.milestones[0].disputed_from == "funded"
        assert order.auto_complete_at is None
        kinds = [e.kind for e in orders.timeline(order)]
        assert "disputed" in kinds
        escrow = ledger.escrow_balance(order_id, order.currency)
        for step in (
            lambda: orders.complete(user(m.buyer_id), order_id),
            lambda: orders.request_revision(user(m.buyer_id), order_id, "again"),
            lambda: orders.request_cancellation(user(m.buyer_id), order_id, "stop"),
            lambda: orders.operator_cancel(user(m.admin_id), order_id, reason="ops"),
        ):
            with pytest.raises(OrderStateError) as refused:
                step()
            assert refused.value.code == "disputed"
            db.session.rollback()
        assert orders.auto_complete(order_id, now=T0 + timedelta(days=60)) is None
        assert ledger.escrow_balance(order_id, order.currency) == escrow


def test_a_dispute_supersedes_a_pending_cancellation(acme, order_in, in_tenant):
    m, order_id = order_in(acme, "in_progress")
    with in_tenant(acme):
        orders.request_cancellation(user(m.seller_id), order_id, "Cannot do it", refund_minor=0)
        db.session.commit()
        open_on(m, order_id)
        order = db.session.get(Order, order_id)
        assert orders.pending_cancellation(order) is None
        assert orders.auto_resolve_cancellation(1, now=T0 + timedelta(days=30)) is None


@pytest.mark.parametrize("state", ["awaiting_payment", "completed", "cancelled"])
def test_no_dispute_without_money_in_escrow(acme, order_in, in_tenant, state):
    m, order_id = order_in(acme, state)
    with in_tenant(acme):
        with pytest.raises(DisputeStateError) as refused:
            open_on(m, order_id)
        assert refused.value.code == "not_disputable"
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 0


def test_strangers_and_second_disputes_are_refused(acme, order_in, in_tenant):
    m, order_id = order_in(acme, "in_progress")
    with in_tenant(acme):
        with pytest.raises(DisputeNotFound):
            services.open_dispute(user(m.stranger_id), order_id, "late", "Not mine")
        db.session.rollback()
        open_on(m, order_id)
        with pytest.raises(DisputeStateError) as refused:
            open_on(m, order_id, by="seller")
        assert refused.value.code == "dispute_open"


def test_bad_reason_and_statement_are_field_errors(acme, order_in, in_tenant):
    m, order_id = order_in(acme, "in_progress")
    with in_tenant(acme):
        with pytest.raises(DisputeError) as refused:
            services.open_dispute(user(m.buyer_id), order_id, "because", "  ")
        assert set(refused.value.errors) == {"reason", "statement"}


# --------------------------------------------------------------------------- evidence


def test_evidence_of_every_kind_is_attributed_and_append_only(acme, order_in, in_tenant):
    from app.messaging import services as messaging

    m, order_id = order_in(acme, "delivered")
    with in_tenant(acme):
        conversation = messaging.order_conversation_of(user(m.buyer_id), order_id)
        message = messaging.post_message(user(m.seller_id), conversation.id, "I will send it tomorrow")
        db.session.commit()
        d = open_on(m, order_id)
        buyer = user(m.buyer_id)
        services.add_evidence(buyer, d.id, "message", message_id=message.id, now=T0)
        services.add_evidence(buyer, d.id, "link", url="https://ci.example.com/run/42", text="CI run", now=T0)
        services.add_evidence(buyer, d.id, "note", text="They promised Tuesday.", now=T0)
        services.add_evidence(
            buyer, d.id, "file", files=[Upload("shot.png", "image/png", PNG)], text="screenshot", now=T0
        )
        db.session.commit()
        rows = services.evidence_of(d)
        assert [r.kind for r in rows] == ["message", "link", "note", "file"]
        assert rows[0].text == "I will send it tomorrow" and all(r.author_id == m.buyer_id for r in rows)
        assert services.evidence_url(rows[3]) is not None
        for statement in (
            sa.update(DisputeEvidence).where(DisputeEvidence.id == rows[0].id).values(text="edited"),
            sa.delete(DisputeEvidence).where(DisputeEvidence.id == rows[1].id),
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                db.session.execute(statement)
            db.session.rollback()
        assert len(services.evidence_of(d)) == 4


def test_bad_evidence_is_refused(acme, order_in, in_tenant):
    m, order_id = order_in(acme, "in_progress")
    with in_tenant(acme):
        d = open_on(m, order_id)
        buyer = user(m.buyer_id)
        cases = [
            ({"kind": "video"}, "kind"),
            ({"kind": "link", "url": "javascript:alert(1)"}, "url"),
            ({"kind": "note", "text": ""}, "text"),
            ({"kind": "message", "message_id": 999999}, "message_id"),
            ({"kind": "file", "files": [Upload("x.png", "image/png", b"not a png")]}, "files"),
            ({"kind": "dod"}, "kind"),  # a gig order has no Definition of Done
        ]
        for kwargs, field in cases:
            kind = kwargs.pop("kind")
            with pytest.raises(DisputeError) as refused:
                services.add_evidence(buyer, d.id, kind, **kwargs)
            assert field in refused.value.errors, (kind, refused.value.errors)
            db.session.rollback()
        with pytest.raises(DisputeNotFound):
            services.add_evidence(user(m.stranger_id), d.id, "note", text="hi")


# --------------------------------------------------------------------------- self-resolution


def test_accepting_a_split_moves_the_money_once_with_commission_on_the_release(acme, order_in, in_tenant):
    m, order_id = order_in(acme, "delivered")
    with in_tenant(acme):
        d = open_on(m, order_id)
        held = d.amount_minor
        refund, release = held * 6 // 10, held - held * 6 // 10
        with pytest.raises(DisputeError) as refused:
            services.propose(user(m.seller_id), d.id, refund, release + 1)
        assert refused.value.code == "split_mismatch"
        db.session.rollback()
        p = services.propose(user(m.seller_id), d.id, refund, release, "60/40?", now=T0)
        db.session.commit()
        with pytest.raises(DisputeForbidden):
            services.answer_proposal(user(m.seller_id), d.id, p.id, True)
        db.session.rollback()
        services.answer_proposal(user(m.buyer_id), d.id, p.id, True, now=T0 + timedelta(hours=1))
        db.session.commit()
        d = db.session.get(Dispute, d.id)
        order = db.session.get(Order, order_id)
        assert (d.status, d.outcome, d.refund_minor, d.release_minor) == (
            "resolved",
            "resolved_split",
            refund,
            release,
        )
        assert order.status == "completed" and order.milestones[0].status == "partially_refunded"
        assert ledger.escrow_balance(order_id, order.currency) == 0
        balances = ledger.seller_balances(m.seller_id, order.currency)
        assert balances["pending"] == release - fee_of(release)
        assert ledger.verify().ok
        with pytest.raises(DisputeStateError):
            services.answer_proposal(user(m.buyer_id), d.id, p.id, True)


def test_silent_side_loses_when_the_answer_deadline_passes(acme, order_in, in_tenant):
    m, order_id = order_in(acme, "in_progress")
    with in_tenant(acme):
        d = open_on(m, order_id)
        assert services.apply_deadline(d.id, now=T0 + timedelta(days=2)) is None
        assert services.due_ids(T0 + timedelta(days=3, minutes=1)) == [d.id]
        assert services.apply_deadline(d.id, now=T0 + timedelta(days=3, minutes=1)) == "resolved"
        db.session.commit()
        d = db.session.get(Dispute, d.id)
        assert d.outcome == "resolved_client" and d.refund_minor == d.amount_minor
        assert db.session.get(Order, order_id).status == "cancelled"
        assert services.apply_deadline(d.id, now=T0 + timedelta(days=9)) is None


def test_an_answered_dispute_goes_to_mediation_then_to_an_admin(acme, order_in, in_tenant):
    m, order_id = order_in(acme, "delivered")
    with in_tenant(acme):
        d = open_on(m, order_id, by="seller")
        services.post_message(user(m.buyer_id), d.id, "I disagree", now=T0 + timedelta(hours=2))
        db.session.commit()
        assert services.apply_deadline(d.id, now=T0 + timedelta(days=3, minutes=1)) == "mediation"
        db.session.commit()
        d = db.session.get(Dispute, d.id)
        assert d.stage == "mediation" and d.stage_deadline_at == T0 + timedelta(days=10, minutes=1)
        assert services.apply_deadline(d.id, now=T0 + timedelta(days=11)) == "decision"
        db.session.commit()
        assert db.session.get(Dispute, d.id).stage == "decision"


def test_party_escalates_and_mediator_proposal_needs_both(acme, order_in, in_tenant, moderator_of):
    m, order_id = order_in(acme, "delivered")
    mod = moderator_of(acme)
    with in_tenant(acme):
        d = open_on(m, order_id)
        with pytest.raises(DisputeForbidden):
            services.assign(user(m.buyer_id), d.id)
        db.session.rollback()
        services.escalate(user(m.buyer_id), d.id, now=T0)
        services.assign(user(mod), d.id, now=T0)
        p = services.mediator_propose(user(mod), d.id, 1000, d.amount_minor - 1000, "A fair split", now=T0)
        db.session.commit()
        services.answer_proposal(user(m.buyer_id), d.id, p.id, True, now=T0)
        db.session.commit()
        assert db.session.get(Dispute, d.id).status == "open"
        services.answer_proposal(user(m.seller_id), d.id, p.id, True, now=T0)
        db.session.commit()
        d = db.session.get(Dispute, d.id)
        assert d.outcome == "resolved_split" and d.refund_minor == 1000 and d.mediator_id == mod


def test_refusing_the_mediator_goes_to_decision_and_only_an_admin_decides(
    acme, order_in, in_tenant, moderator_of
):
    m, order_id = order_in(acme, "delivered")
    mod = moderator_of(acme)
    with in_tenant(acme):
        d = open_on(m, order_id)
        with pytest.raises(DisputeStateError):  # self-resolution first
            services.decide(user(m.admin_id), d.id, d.amount_minor, 0, "early")
        db.session.rollback()
        services.escalate(user(m.seller_id), d.id, now=T0)
        p = services.mediator_propose(user(mod), d.id, 0, d.amount_minor, "Release", now=T0)
        services.answer_proposal(user(m.buyer_id), d.id, p.id, False, now=T0)
        db.session.commit()
        assert db.session.get(Dispute, d.id).stage == "decision"
        with pytest.raises(DisputeForbidden) as refused:
            services.decide(user(mod), d.id, 0, d.amount_minor, "I am a moderator")
        assert refused.value.code == "decision_forbidden"
        db.session.rollback()
        for bad in ((-1, d.amount_minor + 1), (0, d.amount_minor - 1), ("10", 0)):
            with pytest.raises(DisputeError):
                services.decide(user(m.admin_id), d.id, *bad, "bad")
            db.session.rollback()
        with pytest.raises(DisputeError):
            services.decide(user(m.admin_id), d.id, 0, d.amount_minor, "wrong", currency="JPY")
        db.session.rollback()
        services.decide(user(m.admin_id), d.id, 0, d.amount_minor, "The work matches the brief.", now=T0)
        db.session.commit()
        d = db.session.get(Dispute, d.id)
        assert d.outcome == "resolved_freelancer" and db.session.get(Order, order_id).status == "completed"
        with pytest.raises(DisputeStateError):
            services.add_evidence(user(m.buyer_id), d.id, "note", text="too late")


def test_expert_review_round_trip_and_deadline(acme, order_in, in_tenant, moderator_of, make_user):
    from app.disputes.models import DisputeExpert

    m, order_id = order_in(acme, "delivered")
    mod = moderator_of(acme)
    expert_id = make_user(acme, email="expert@acme.test", display_name="Eve Expert")
    with in_tenant(acme):
        db.session.add(DisputeExpert(user_id=expert_id, field="Design", appointed_at=T0))
        d = open_on(m, order_id)
        services.escalate(user(m.buyer_id), d.id, now=T0)
        db.session.commit()
        with pytest.raises(DisputeError):
            services.request_expert(user(mod), d.id, m.stranger_id, "Is it good?")
        db.session.rollback()
        services.request_expert(user(mod), d.id, expert_id, "Does the logo match the brief?", now=T0)
        db.session.commit()
        assert services.get_dispute(user(expert_id), d.id).stage == "expert_review"
        services.submit_assessment(
            user(expert_id), d.id, "Mostly yes; colours are off.", now=T0 + timedelta(days=1)
        )
        db.session.commit()
        d = db.session.get(Dispute, d.id)
        assert d.stage == "mediation" and d.expert_assessment.startswith("Mostly")
        services.request_expert(user(mod), d.id, expert_id, "And the fonts?", now=T0 + timedelta(days=2))
        db.session.commit()
        assert services.apply_deadline(d.id, now=T0 + timedelta(days=8)) == "mediation"


def test_dismissal_and_withdrawal_give_the_money_back_where_it_was(acme, order_in, in_tenant):
    m, order_id = order_in(acme, "delivered")
    with in_tenant(acme):
        d = open_on(m, order_id)
        with pytest.raises(DisputeForbidden):
            services.withdraw(user(m.seller_id), d.id)
        db.session.rollback()
        services.withdraw(user(m.buyer_id), d.id, now=T0)
        db.session.commit()
        order = db.session.get(Order, order_id)
        assert db.session.get(Dispute, d.id).outcome == "dismissed"
        assert order.milestones[0].status == "funded" and order.auto_complete_at is not None
        orders.complete(user(m.buyer_id), order_id)  # the order goes on
        db.session.commit()
        assert db.session.get(Order, order_id).status == "completed"


# --------------------------------------------------------------------------- contract milestones


def test_a_contract_milestone_dispute_locks_only_that_milestone(acme, contract_in, in_tenant):
    h, _contract_id, order_id, ids = contract_in(acme, fund=2)
    with in_tenant(acme):
        client, ann = user(h.client), user(h.ann)
        with pytest.raises(DisputeError):  # which milestone?
            services.open_dispute(client, order_id, "quality", "Bad")
        db.session.rollback()
        d = services.open_dispute(
            client, order_id, "quality", "The ERD is missing", milestone_id=ids[0], now=T0
        )
        db.session.commit()
        services.add_evidence(ann, d.id, "dod", text="All ticked", now=T0)
        engine.submit_milestone(ann, order_id, ids[1], "Built")  # the other milestone goes on
        db.session.commit()
        with pytest.raises(OrderStateError):
            engine.end_engagement(user(h.client), order_id, "stop", operator=False)
        db.session.rollback()
        services.escalate(ann, d.id, now=T0)
        admin = user(admin_id())
        services.decide(admin, d.id, 40000, 60000, "Partly done", now=T0)
        db.session.commit()
        m1 = db.session.get(Milestone, ids[0])
        assert (m1.status, m1.refunded_minor) == ("partially_refunded", 40000)
        assert db.session.get(Order, order_id).status == "in_progress"
        assert (
            ledger.milestone_escrow_balance(order_id, ids[1], db.session.get(Order, order_id).currency)
            == 200000
        )
        assert ledger.verify().ok


def test_two_admins_deciding_at_once_one_wins(app, acme, order_in, in_tenant):
    from tests.helpers import race_for_a_lock

    m, order_id = order_in(acme, "delivered")
    with in_tenant(acme):
        d = open_on(m, order_id)
        services.escalate(user(m.buyer_id), d.id, now=T0)
        services.hand_to_decision(user(m.admin_id), d.id, now=T0)
        db.session.commit()
        dispute_id, amount = d.id, d.amount_minor

    results = race_for_a_lock(
        app,
        in_tenant,
        acme,
        lambda: services.decide(user(m.admin_id), dispute_id, amount, 0, "Refund"),
        lambda: services.decide(user(m.admin_id), dispute_id, 0, amount, "Release"),
        DisputeStateError,
    )
    assert results["first"] == "ok" and isinstance(results["second"], DisputeStateError)
    with in_tenant(acme):
        order = db.session.get(Order, order_id)
        assert order.status == "cancelled" and ledger.escrow_balance(order_id, order.currency) == 0
        assert ledger.verify().ok
