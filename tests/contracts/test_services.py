"""Contracts through their services: refusals that change nothing, the offer's life, signing,
ending (refunds, splits, work under review), auto-release, a race between accepting and ending,
and the ledger's per-milestone invariants under random sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.contracts import services
from app.contracts import sow as statements
from app.contracts.models import Contract, SowSignature, StatementOfWork
from app.jobs.models import Job, Proposal
from app.ledger import services as ledger
from app.notifications.models import Notification
from app.orders import milestones
from app.orders.models import Order
from app.reviews.models import ReviewWindow
from tenants.db import db
from tests.helpers import race_for_a_lock

from .conftest import TERMS, user


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _fresh(model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"milestones": []}, "milestones"),
        ({"milestones": [{"title": "A", "amount_minor": 0}]}, "milestones.0.amount_minor"),
        ({"milestones": [{"title": "A", "amount_minor": -5}]}, "milestones.0.amount_minor"),
        ({"milestones": [{"title": "A", "amount_minor": "100"}]}, "milestones.0.amount_minor"),
        ({"milestones": [{"title": "", "amount_minor": 100}]}, "milestones.0.title"),
        (
            {"milestones": [{"title": "A", "amount_minor": 100, "due_date": "2020-01-01"}]},
            "milestones.0.due_date",
        ),
        (
            {"milestones": [{"title": "A", "amount_minor": 100, "due_date": "next week"}]},
            "milestones.0.due_date",
        ),
        ({"milestones": [{"title": "A", "amount_minor": 100, "dod": "all"}]}, "milestones.0.dod"),
        ({"total_minor": 299999}, "total_minor"),
        ({"scope": "  "}, "scope"),
        ({"nda": "yes"}, "nda"),
        ({"milestones": [{"title": f"M{i}", "amount_minor": 10} for i in range(11)]}, "milestones"),
    ],
)
def test_bad_terms_are_refused_and_nothing_is_offered(acme, hiring, in_tenant, change, field):
    h = hiring(acme)
    with in_tenant(acme):
        with pytest.raises(services.ContractError) as refused:
            services.offer_from_proposal(user(h.client), h.ann_proposal, {**TERMS, **change})
        assert field in refused.value.errors
        db.session.rollback()
        assert _count(Contract) == 0


def test_only_the_jobs_client_hires_and_only_while_the_job_is_open(acme, hiring, in_tenant):
    h = hiring(acme)
    now = datetime.now(UTC)
    with in_tenant(acme):
        with pytest.raises(services.DomainError) as refused:
            services.offer_from_proposal(user(h.member), h.ann_proposal, dict(TERMS))
        assert refused.value.status in (403, 404)
        with pytest.raises(services.ContractError):
            services.direct_offer(user(h.client), h.client, {**TERMS, "title": "Myself"})
        from app.jobs import services as jobs

        jobs.close_job(user(h.client), h.job_id, now=now)
        with pytest.raises(services.DomainError) as closed:
            services.offer_from_proposal(user(h.client), h.ann_proposal, dict(TERMS))
        assert closed.value.status == 409
        db.session.rollback()
        assert _count(Contract) == 0


def test_accepting_fills_the_job_withdraws_other_offers_and_tells_the_others(
    acme, hiring, in_tenant, run_jobs
):
    h = hiring(acme)
    with in_tenant(acme):
        to_ann = services.offer_from_proposal(user(h.client), h.ann_proposal, dict(TERMS))
        to_bob = services.offer_from_proposal(user(h.client), h.bob_proposal, dict(TERMS))
        db.session.commit()
        with pytest.raises(services.ContractForbidden):
            services.accept_offer(user(h.client), to_ann.id)
        db.session.rollback()
        services.accept_offer(user(h.ann), to_ann.id)
        db.session.commit()
        assert _fresh(Contract, to_bob.id).status == "withdrawn"
        assert db.session.get(Job, h.job_id).status == "in_progress"
        assert db.session.get(Proposal, h.ann_proposal).status == "hired"
        with pytest.raises(services.ContractStateError) as late:
            services.accept_offer(user(h.bob), to_bob.id)
        assert late.value.extra["current_status"] == "withdrawn"
        db.session.rollback()
    run_jobs()
    with in_tenant(acme):
        kinds = {(n.user_id, n.kind) for n in db.session.scalars(sa.select(Notification))}
        assert (h.ann, "contract_offered") in kinds and (h.client, "contract_created") in kinds
        assert (h.bob, "job_filled") in kinds and (h.bob, "contract_withdrawn") in kinds


def test_an_expired_offer_cannot_be_accepted(acme, hiring, in_tenant):
    h = hiring(acme)
    with in_tenant(acme):
        contract = services.offer_from_proposal(user(h.client), h.ann_proposal, dict(TERMS))
        db.session.commit()
        later = datetime.now(UTC) + timedelta(days=services.OFFER_DAYS, minutes=1)
        assert services.effective_status(contract, later) == "expired"
        with pytest.raises(services.ContractStateError) as refused:
            services.accept_offer(user(h.ann), contract.id, now=later)
        assert refused.value.extra["current_status"] == "expired"


def test_the_sow_is_signed_by_typed_names_and_its_hash_is_checked(acme, contract_in, in_tenant):
    h, cid, order_id, ids = contract_in(acme, fund=0)
    with in_tenant(acme):
        contract = db.session.get(Contract, cid)
        sow = statements.statement_of(contract)
        signatures = statements.signatures(sow)
        assert [(s.role, s.typed_name, str(s.ip)) for s in signatures] == [
            ("freelancer", "Ann Dev", "10.0.0.1"),
            ("client", "Cleo Client", "10.0.0.2"),
        ]
        assert all(s.content_sha256 == sow.content_sha256 for s in signatures)
        text = services.signed_document(contract)
        assert sow.content_sha256 in text and "/Ann Dev/" in text and "Milestone 2: Build" in text
        assert contract.status == "active" and [
            m.status for m in db.session.get(Order, order_id).milestones
        ] == [
            "funding_required",
            "planned",
        ]
        # Someone altered the stored text: every read refuses it.
        db.session.execute(sa.update(StatementOfWork).values(body=sow.body + "Extra clause.\n"))
        db.session.commit()
        with pytest.raises(statements.SowIntegrityError):
            services.signed_document(_fresh(Contract, cid))


def test_calling_off_before_signing_reopens_the_job(acme, contract_in, in_tenant):
    h, cid, _, _ = contract_in(acme, sign=False)
    with in_tenant(acme):
        with pytest.raises(services.ContractError):
            services.end_contract(user(h.ann), cid, "")
        services.end_contract(user(h.ann), cid, "I cannot start after all")
        db.session.commit()
        assert _fresh(Contract, cid).status == "cancelled"
        assert db.session.get(Job, h.job_id).status == "open"
        assert _count(SowSignature) == 0


def test_ending_refunds_funded_unsubmitted_work_and_drops_the_rest(acme, contract_in, in_tenant, run_jobs):
    h, cid, order_id, (m1, m2) = contract_in(acme, fund=1)
    with in_tenant(acme):
        services.end_contract(user(h.client), cid, "The project was cancelled")
        db.session.commit()
        order = _fresh(Order, order_id)
        assert order.status == "cancelled"
        assert [(m.status, m.refunded_minor) for m in order.milestones] == [
            ("refunded", 100000),
            ("cancelled", 0),
        ]
        assert ledger.milestone_escrow_balance(order_id, m1, "USD") == 0
        contract = db.session.get(Contract, cid)
        assert (contract.status, contract.ended_by) == ("cancelled", h.client)
        assert db.session.get(Job, h.job_id).status == "completed"
        assert ledger.verify().ok
        with pytest.raises(services.ContractStateError):
            services.end_contract(user(h.ann), cid, "Again")
    run_jobs()  # contract.ended told (the provider refund is the flow test's: no payment here)
    with in_tenant(acme):
        told = {(n.user_id, n.kind) for n in db.session.scalars(sa.select(Notification))}
        assert (h.ann, "contract_ended") in told


def test_submitted_work_blocks_ending_until_accepted_or_split(acme, contract_in, in_tenant, run_jobs):
    h, cid, order_id, (m1, m2) = contract_in(acme, fund=2)
    with in_tenant(acme):
        milestones.submit_milestone(user(h.ann), order_id, m1, "Designs", dod_done=[1])
        db.session.commit()
        for who in (h.client, h.ann):
            with pytest.raises(services.orders.OrderStateError) as refused:
                services.end_contract(user(who), cid, "Stop")
            assert refused.value.code == "work_under_review"
            db.session.rollback()
        # The parties agree: 50,000 back to the client, the rest of the escrow to Ann.
        services.propose_split(user(h.client), cid, "Half of the design is usable", 50000)
        db.session.commit()
        services.answer_split(user(h.ann), cid, True)
        db.session.commit()
        order = _fresh(Order, order_id)
        assert order.status == "cancelled"
        assert sum(m.refunded_minor for m in order.milestones) == 50000
        assert ledger.seller_balances(h.ann, "USD")["pending"] > 0
        assert db.session.get(Contract, cid).status == "completed"  # work was paid
        assert ledger.verify().ok


def test_ending_after_a_paid_milestone_completes_and_opens_the_review_window(
    acme, contract_in, in_tenant, run_jobs
):
    h, cid, order_id, (m1, m2) = contract_in(acme, fund=2)
    with in_tenant(acme):
        milestones.submit_milestone(user(h.ann), order_id, m1, "Designs", dod_done=[1])
        milestones.accept_milestone(user(h.client), order_id, m1)
        services.end_contract(user(h.ann), cid, "Design done; the build moves in-house")
        db.session.commit()
        order = _fresh(Order, order_id)
        assert order.status == "completed"
        assert [m.status for m in order.milestones] == ["paid", "refunded"]
        assert db.session.get(Contract, cid).status == "completed"
    run_jobs()
    with in_tenant(acme):
        assert db.session.get(ReviewWindow, order_id) is not None


def test_the_last_paid_milestone_completes_the_contract_and_auto_release_uses_the_clock(
    acme, contract_in, in_tenant, run_jobs
):
    h, cid, order_id, (m1, m2) = contract_in(acme, fund=2)
    start = datetime.now(UTC)
    with in_tenant(acme):
        milestones.submit_milestone(user(h.ann), order_id, m1, "Designs", dod_done=[1], now=start)
        milestones.submit_milestone(user(h.ann), order_id, m2, "Build", now=start)
        db.session.commit()
        assert milestones.auto_release(m1, now=start + timedelta(days=13)) is None
        later = start + timedelta(days=14, minutes=1)
        assert milestones.milestones_due_for_auto_release(later) == [m1, m2]
        for mid in (m1, m2):
            milestones.auto_release(mid, now=later)
        db.session.commit()
    run_jobs()
    with in_tenant(acme):
        assert _fresh(Contract, cid).status == "completed"
        assert db.session.get(Job, h.job_id).status == "completed"
        assert ledger.verify().ok


def test_an_operator_ends_an_active_contract_refunding_submitted_work(
    acme, contract_in, in_tenant, make_user
):
    from app.events.models import OutboxEvent

    h, cid, order_id, (m1, _m2) = contract_in(acme, fund=1)
    admin_id = make_user(acme, email="ops@acme.test", role="admin")
    moderator_id = make_user(acme, email="mod@acme.test", role="moderator")
    with in_tenant(acme):
        milestones.submit_milestone(user(h.ann), order_id, m1, "Designs", dod_done=[1])
        db.session.commit()
        for who in (moderator_id, h.client, h.ann):  # a party's own end is end_contract
            with pytest.raises(services.ContractForbidden):
                services.operator_end_contract(user(who), cid, "Fraud report")
        with pytest.raises(services.ContractError) as short:
            services.operator_end_contract(user(admin_id), cid, "no")
        assert "reason" in short.value.errors
        db.session.rollback()
        assert _fresh(Contract, cid).status == "active"
        contract = services.operator_end_contract(user(admin_id), cid, "  Fraud report  ")
        db.session.commit()
        assert (contract.status, contract.ended_by, contract.end_reason) == (
            "cancelled",
            admin_id,
            "Fraud report",
        )
        order = _fresh(Order, order_id)
        assert [(m.status, m.refunded_minor) for m in order.milestones] == [
            ("refunded", 100000),
            ("cancelled", 0),
        ]
        assert order.status == "cancelled" and ledger.escrow_balance(order_id, "USD") == 0
        assert _fresh(Job, h.job_id).status == "completed"
        ended = db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.name == "contract.ended")).all()
        assert [e.payload for e in ended] == [
            {"contract_id": cid, "order_id": order_id, "status": "cancelled", "by_operator": True}
        ]
        with pytest.raises(services.ContractStateError) as again:
            services.operator_end_contract(user(admin_id), cid, "Fraud report")
        assert again.value.extra == {"current_status": "cancelled"}
        assert ledger.verify().ok


def test_an_operator_cannot_end_a_contract_that_holds_no_money_yet(acme, contract_in, in_tenant, make_user):
    h, cid, _order_id, _ids = contract_in(acme, sign=False)
    admin_id = make_user(acme, email="ops@acme.test", role="admin")
    with in_tenant(acme):
        with pytest.raises(services.ContractStateError) as refused:
            services.operator_end_contract(user(admin_id), cid, "Fraud report")
        assert refused.value.extra == {"current_status": "awaiting_signatures"}
        with pytest.raises(services.ContractNotFound):
            services.operator_end_contract(user(admin_id), 999999, "Fraud report")


@pytest.mark.parametrize("accept_first", [True, False])
def test_accepting_and_an_operators_end_race_the_money_moves_once(
    acme, contract_in, in_tenant, app, make_user, accept_first
):
    h, cid, order_id, (m1, _) = contract_in(acme, fund=1)
    admin_id = make_user(acme, email="ops@acme.test", role="admin")
    with in_tenant(acme):
        milestones.submit_milestone(user(h.ann), order_id, m1, "Designs", dod_done=[1])
        db.session.commit()

    def accept():
        milestones.accept_milestone(user(h.client), order_id, m1)

    def end():
        milestones.end_engagement(user(admin_id), order_id, "Fraud report", operator=True)

    first, second = (accept, end) if accept_first else (end, accept)
    results = race_for_a_lock(app, in_tenant, acme, first, second, services.orders.OrderStateError)
    assert results["first"] == "ok"
    with in_tenant(acme):
        m = _fresh(Order, order_id).milestones[0]
        assert ledger.milestone_escrow_balance(order_id, m1, "USD") == 0
        pending = ledger.seller_balances(h.ann, "USD")["pending"]
        if accept_first:  # the end found the work paid: nothing refunded
            assert results["second"] == "ok"
            assert (m.status, m.refunded_minor) == ("paid", 0) and pending > 0
        else:  # the accept found the milestone refunded: refused, nothing released
            assert isinstance(results["second"], services.orders.OrderStateError)
            assert (m.status, m.refunded_minor) == ("refunded", 100000) and pending == 0
        assert ledger.verify().ok


STEPS = st.lists(st.sampled_from(["fund", "submit", "changes", "accept", "end", "auto"]), max_size=12)


def test_per_milestone_escrow_holds_under_random_sequences(acme, hiring, in_tenant):
    """Whatever the order of steps (refused ones included), each milestone's escrow is what its
    state says, nothing is released twice, and the ledger verifies."""
    h = hiring(acme)
    terms = {**TERMS, "title": "Direct work", "total_minor": None}
    terms["milestones"] = [{"title": f"M{i}", "amount_minor": 1000 * (i + 1)} for i in range(3)]
    now = datetime.now(UTC)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(steps=STEPS, target=st.integers(min_value=0, max_value=2))
    def run(steps, target):
        with in_tenant(acme):
            contract = services.direct_offer(user(h.client), h.ann, dict(terms))
            services.accept_offer(user(h.ann), contract.id)
            services.sign(user(h.ann), contract.id, "Ann Dev")
            services.sign(user(h.client), contract.id, "Cleo Client")
            cid, order_id = contract.id, contract.order_id
            ids = [m.id for m in db.session.get(Order, order_id).milestones]
            db.session.commit()
            for n, step in enumerate(steps):
                mid = ids[(target + n) % 3]
                try:
                    with db.session.begin_nested():
                        if step == "fund":
                            milestones.mark_milestone_funded(order_id, mid, f"pay_{mid}_{n}")
                        elif step == "submit":
                            milestones.submit_milestone(user(h.ann), order_id, mid, "Work")
                        elif step == "changes":
                            milestones.request_changes(user(h.client), order_id, mid, "More")
                        elif step == "accept":
                            milestones.accept_milestone(user(h.client), order_id, mid)
                        elif step == "end":
                            services.end_contract(user(h.client), cid, "Stop")
                        else:
                            milestones.auto_release(mid, now=now + timedelta(days=30))
                except services.DomainError:
                    pass
            db.session.commit()
            order = _fresh(Order, order_id)
            for m in order.milestones:
                held = ledger.milestone_escrow_balance(order_id, m.id, "USD")
                assert held == m.held_minor, (steps, m.status)
            assert ledger.verify().ok

    run()
