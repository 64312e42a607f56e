"""Order rules without HTTP: pricing, the lifecycle, money through the ledger, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.ledger import services as ledger
from app.ledger.verify import verify
from app.orders import milestones, services
from app.orders.models import CancellationRequest, Milestone, Order, OrderEvent
from app.settings.models import MarketplaceSettings
from tenants.db import db

from .conftest import BASIC, EXTRA, PREMIUM, STANDARD, drive, money_snapshot, user


def _order(order_id) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def test_price_is_computed_from_package_extras_and_quantity(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order = services.place_order(user(m.buyer_id), m.gig_id, "standard", m.extra_ids, 3)
        db.session.commit()
        assert order.total_minor == (STANDARD + EXTRA) * 3
        assert order.subtotal_minor == STANDARD * 3
        assert order.status == "awaiting_payment"
        assert order.delivery_days == 4 - 2  # the extra is 2 days faster
        assert order.revisions_allowed == 5
        assert [ms.amount_minor for ms in order.milestones] == [order.total_minor]
        assert order.currency == "USD"
        assert [e.kind for e in services.timeline(order)] == ["placed"]


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"tier": "platinum"}, "tier", "invalid"),
        ({"quantity": 0}, "quantity", "invalid"),
        ({"quantity": 21}, "quantity", "invalid"),
        ({"extras": [999]}, "extras", "invalid"),
        ({"expected_total_minor": BASIC - 1}, "total_minor", "amount_mismatch"),
        ({"expected_currency": "EUR"}, "currency", "amount_mismatch"),
    ],
)
def test_bad_order_input_is_refused_and_stores_nothing(acme, market, in_tenant, overrides, field, code):
    m = market(acme)
    args = {"tier": "basic", "extras": [], "quantity": 1, **overrides}
    with in_tenant(acme):
        with pytest.raises(services.OrderError) as info:
            services.place_order(
                user(m.buyer_id),
                m.gig_id,
                args.pop("tier"),
                args.pop("extras"),
                args.pop("quantity"),
                **args,
            )
        db.session.rollback()
        assert field in info.value.errors and info.value.code == code
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_matching_client_amount_is_accepted(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order = services.place_order(
            user(m.buyer_id),
            m.gig_id,
            "premium",
            [],
            1,
            expected_total_minor=PREMIUM,
            expected_currency="USD",
        )
        assert order.total_minor == PREMIUM


def test_buyer_cannot_order_own_gig_or_a_paused_one(acme, market, make_gig, in_tenant):
    m = market(acme)
    paused = make_gig(acme, m.seller_id, status="paused", title="I will write a paused gig for you")
    draft = make_gig(acme, m.seller_id, status="draft", title="I will write a draft gig for you")
    with in_tenant(acme):
        with pytest.raises(services.OrderError) as own:
            services.place_order(user(m.seller_id), m.gig_id, "basic")
        assert own.value.code == "own_gig"
        with pytest.raises(services.OrderError) as paused_error:
            services.place_order(user(m.buyer_id), paused, "basic")
        assert paused_error.value.code == "gig_unavailable"
        with pytest.raises(services.OrderNotFound):
            services.place_order(user(m.buyer_id), draft, "basic")
        with pytest.raises(services.OrderNotFound):
            services.place_order(user(m.buyer_id), 99999, "basic")


def test_whole_lifecycle_moves_money_once(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "delivered")
        assert money_snapshot(order_id)["escrow"] == BASIC
        # paying again with the same reference changes nothing
        services.mark_paid(order_id, f"pay_test_{order_id}")
        db.session.commit()
        assert money_snapshot(order_id)["transactions"] == {"payment": 1}
        services.request_revision(user(m.buyer_id), order_id, "Make it red")
        db.session.commit()
        assert _order(order_id).status == "in_progress" and _order(order_id).revisions_used == 1
        services.deliver(user(m.seller_id), order_id, "Red now")
        db.session.commit()
        services.complete(user(m.buyer_id), order_id)
        db.session.commit()
        order = _order(order_id)
        assert order.status == "completed"
        snapshot = money_snapshot(order_id)
        assert snapshot["escrow"] == 0 and snapshot["transactions"] == {"payment": 1, "release": 1}
        fee = max(BASIC * 1000 // 10000, 100)
        assert ledger.seller_balances(m.seller_id, "USD")["pending"] == BASIC - fee
        money = services.money(order)
        assert (money.fee_minor, money.seller_net_minor, money.released_minor) == (fee, BASIC - fee, BASIC)
        kinds = [e.kind for e in services.timeline(order)]
        assert kinds == [
            "placed",
            "paid",
            "requirements_submitted",
            "delivered",
            "revision_requested",
            "delivered",
            "completed",
        ]
        # a second completion is a conflict naming the state; no money moves
        with pytest.raises(services.OrderStateError) as info:
            services.complete(user(m.buyer_id), order_id)
        assert info.value.current_status == "completed" and "completed" in info.value.message
        db.session.rollback()
        assert money_snapshot(order_id)["transactions"] == {"payment": 1, "release": 1}
        assert verify().ok


def test_transitions_belong_to_the_right_side(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "in_progress")
        with pytest.raises(services.OrderForbidden):
            services.deliver(user(m.buyer_id), order_id, "I deliver to myself")
        with pytest.raises(services.OrderNotFound):
            services.deliver(user(m.stranger_id), order_id, "Not mine")
        with pytest.raises(services.OrderStateError) as info:
            services.complete(user(m.buyer_id), order_id)
        assert info.value.current_status == "in_progress"


def test_revisions_stop_at_the_package_limit(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "delivered")  # basic: 2 revisions
        for _ in range(2):
            services.request_revision(user(m.buyer_id), order_id, "Again")
            services.deliver(user(m.seller_id), order_id, "Again delivered")
            db.session.commit()
        with pytest.raises(services.OrderStateError) as info:
            services.request_revision(user(m.buyer_id), order_id, "Once more")
        assert info.value.code == "no_revisions_left" and info.value.current_status == "delivered"


def test_unlimited_revisions(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "delivered", tier="premium")
        for _ in range(4):
            services.request_revision(user(m.buyer_id), order_id, "Again")
            services.deliver(user(m.seller_id), order_id, "Again delivered")
        db.session.commit()
        assert _order(order_id).revisions_used == 4


def test_mark_paid_refuses_wrong_amount_currency_and_a_second_payment(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "awaiting_payment")
        with pytest.raises(services.OrderError) as amount:
            services.mark_paid(order_id, "pay_1", amount_minor=BASIC + 1)
        assert amount.value.code == "amount_mismatch"
        with pytest.raises(services.OrderError):
            services.mark_paid(order_id, "pay_1", currency="EUR")
        db.session.rollback()
        assert money_snapshot(order_id)["total_transactions"] == 0
        services.mark_paid(order_id, "pay_1", amount_minor=BASIC, currency="USD")
        db.session.commit()
        with pytest.raises(services.OrderStateError) as again:
            services.mark_paid(order_id, "pay_2")
        assert again.value.code == "already_paid"
        db.session.rollback()
        assert money_snapshot(order_id)["transactions"] == {"payment": 1}


def test_mutual_cancellation_with_partial_refund(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "in_progress")
        with pytest.raises(services.OrderError) as too_much:
            services.request_cancellation(user(m.buyer_id), order_id, "Too slow", refund_minor=BASIC + 1)
        assert too_much.value.code == "refund_exceeds_escrow"
        db.session.rollback()
        services.request_cancellation(user(m.buyer_id), order_id, "Too slow", refund_minor=3000)
        db.session.commit()
        with pytest.raises(services.OrderStateError):
            services.request_cancellation(user(m.seller_id), order_id, "Me too")
        db.session.rollback()
        with pytest.raises(services.OrderForbidden):
            services.respond_cancellation(user(m.buyer_id), order_id, True)
        db.session.rollback()
        services.respond_cancellation(user(m.seller_id), order_id, True)
        db.session.commit()
        order = _order(order_id)
        assert order.status == "cancelled"
        assert (
            order.milestones[0].status == "partially_refunded" and order.milestones[0].refunded_minor == 3000
        )
        snapshot = money_snapshot(order_id)
        assert snapshot["escrow"] == 0
        assert snapshot["transactions"] == {"payment": 1, "refund": 1, "release": 1}
        assert verify().ok


def test_declined_cancellation_keeps_the_order_going(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "in_progress")
        services.request_cancellation(user(m.seller_id), order_id, "Too busy")
        services.respond_cancellation(user(m.buyer_id), order_id, False)
        db.session.commit()
        assert _order(order_id).status == "in_progress"
        assert money_snapshot(order_id)["escrow"] == BASIC
        with pytest.raises(services.OrderStateError) as info:
            services.respond_cancellation(user(m.buyer_id), order_id, True)
        assert info.value.code == "no_cancellation_pending"


def test_completion_withdraws_a_pending_request_and_counts_every_request(app, acme, market, in_tenant):
    """``Order.cancellation_requests`` counts the order's requests (under its lock): an order that
    never had one is completed without a look at ``order_cancellations``; one that had them
    withdraws the pending one and still lists them all."""
    from tests.helpers import statements_of

    m = market(acme)
    with in_tenant(acme):
        quiet, asked = drive(m, "delivered"), drive(m, "delivered")
        services.request_cancellation(user(m.seller_id), asked, "Too busy")
        services.respond_cancellation(user(m.buyer_id), asked, False)
        db.session.commit()
        services.request_cancellation(user(m.buyer_id), asked, "Changed my mind")
        db.session.commit()
        per_order = sa.select(CancellationRequest.order_id, sa.func.count())
        counts = dict(db.session.execute(per_order.group_by(CancellationRequest.order_id)).all())
        assert counts == {asked: 2}
        assert (_order(quiet).cancellation_requests, _order(asked).cancellation_requests) == (0, 2)

        def complete_quiet():
            services.complete(user(m.buyer_id), quiet)
            assert services.cancellations(_order(quiet)) == []

        sent = statements_of(app, complete_quiet)
        assert not any("order_cancellations" in s for s in sent), sent
        services.complete(user(m.buyer_id), asked)
        db.session.commit()
        listed = services.cancellations(_order(asked))
        assert [r.status for r in listed] == ["declined", "withdrawn"]
        assert services.pending_cancellation(_order(asked)) is None
        assert verify().ok


def test_unpaid_order_is_cancelled_at_once_without_money(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "cancelled")
        assert _order(order_id).status == "cancelled"
        assert money_snapshot(order_id)["total_transactions"] == 0
        with pytest.raises(services.OrderStateError):
            services.mark_paid(order_id, "late_payment")


def test_operator_cancel_with_partial_refund_and_only_for_admins(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "delivered")
        with pytest.raises(services.OrderForbidden):
            services.operator_cancel(user(m.buyer_id), order_id, 0, "I am not an admin")
        with pytest.raises(services.OrderError) as too_much:
            services.operator_cancel(user(m.admin_id), order_id, BASIC * 2, "Dispute")
        assert too_much.value.code == "refund_exceeds_escrow"
        db.session.rollback()
        assert money_snapshot(order_id)["transactions"] == {"payment": 1}
        services.operator_cancel(user(m.admin_id), order_id, 1000, "Dispute settled")
        db.session.commit()
        snapshot = money_snapshot(order_id)
        assert snapshot["escrow"] == 0 and snapshot["transactions"] == {
            "payment": 1,
            "refund": 1,
            "release": 1,
        }
        with pytest.raises(services.OrderStateError):
            services.operator_cancel(user(m.admin_id), order_id, 0, "Again")


def test_full_refund_releases_nothing(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "awaiting_requirements")
        services.operator_cancel(user(m.admin_id), order_id, None, "Fraud")
        db.session.commit()
        assert _order(order_id).milestones[0].status == "refunded"
        assert money_snapshot(order_id)["transactions"] == {"payment": 1, "refund": 1}


def test_due_date_from_delivery_days_and_late_flag(acme, market, in_tenant):
    m = market(acme)
    start = datetime(2030, 1, 1, 12, tzinfo=UTC)
    with in_tenant(acme):
        order_id = drive(m, "awaiting_requirements")
        services.submit_requirements(user(m.buyer_id), order_id, "Details", now=start)
        db.session.commit()
        assert _order(order_id).due_at == start + timedelta(days=5)
        assert services.flag_late_orders(start + timedelta(days=4)) == []
        assert services.flag_late_orders(start + timedelta(days=6)) == [order_id]
        assert services.flag_late_orders(start + timedelta(days=7)) == []  # flagged once
        db.session.commit()
        assert _order(order_id).is_late
        assert [e.kind for e in services.timeline(_order(order_id))][-1] == "late"


def test_offer_with_milestones_becomes_an_order(acme, market, in_tenant):
    from app.messaging.services import start_direct_conversation

    m = market(acme)
    with in_tenant(acme):
        conversation = start_direct_conversation(user(m.buyer_id), m.seller_id)
        data = {
            "title": "Full brand kit",
            "description": "Logo, cards, guide",
            "total_minor": 30000,
            "delivery_days": 10,
            "revisions": 1,
            "milestones": [
                {"title": "Logo", "amount_minor": 10000},
                {"title": "Rest", "amount_minor": 20000},
            ],
        }
        with pytest.raises(services.OrderError) as bad_sum:
            services.send_offer(user(m.seller_id), conversation.id, {**data, "total_minor": 31000})
        assert "milestones" in bad_sum.value.errors
        with pytest.raises(services.OrderError) as too_many:
            services.send_offer(
                user(m.seller_id),
                conversation.id,
                {**data, "milestones": [{"title": f"M{i}", "amount_minor": 7500} for i in range(4)]},
            )
        assert "milestones" in too_many.value.errors
        with pytest.raises(services.OrderForbidden):
            services.send_offer(user(m.buyer_id), conversation.id, data)  # not a seller
        offer = services.send_offer(user(m.seller_id), conversation.id, data)
        db.session.commit()
        with pytest.raises(services.OrderForbidden):
            services.accept_offer(user(m.seller_id), offer.id)
        order = services.accept_offer(user(m.buyer_id), offer.id)
        db.session.commit()
        assert order.kind == "offer" and [ms.amount_minor for ms in order.milestones] == [10000, 20000]
        with pytest.raises(services.OrderStateError) as again:
            services.accept_offer(user(m.buyer_id), offer.id)
        assert again.value.current_status == "accepted"
        db.session.rollback()
        # Issue #15: the checkout funds the first milestone only; each is then submitted,
        # accepted and released on its own (tests/orders/test_milestones.py has the whole flow).
        services.mark_paid(order.id, "pay_offer")
        db.session.commit()
        assert money_snapshot(order.id)["escrow"] == 10000
        services.submit_requirements(user(m.buyer_id), order.id, "Go")
        db.session.commit()
        with pytest.raises(services.OrderStateError) as whole:
            services.deliver(user(m.seller_id), order.id, "Done")
        assert whole.value.code == "use_milestones"
        db.session.rollback()
        first, second = order.milestones
        milestones.submit_milestone(user(m.seller_id), order.id, first.id, "Logo done")
        milestones.accept_milestone(user(m.buyer_id), order.id, first.id)
        services.mark_paid(order.id, "pay_offer_2", milestone_id=second.id)
        milestones.submit_milestone(user(m.seller_id), order.id, second.id, "The rest")
        milestones.accept_milestone(user(m.buyer_id), order.id, second.id)
        db.session.commit()
        assert _order(order.id).status == "completed"
        assert money_snapshot(order.id)["transactions"] == {"payment": 2, "release": 2}
        assert verify().ok


def test_cancellation_auto_resolve_respects_the_delay(acme, market, in_tenant):
    m = market(acme)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    with in_tenant(acme):
        order_id = drive(m, "in_progress")
        request = services.request_cancellation(user(m.buyer_id), order_id, "No time", now=start)
        db.session.commit()
        days = db.session.get(MarketplaceSettings, 1).cancellation_auto_resolve_days
        assert (
            services.auto_resolve_cancellation(
                request.id, now=start + timedelta(days=days) - timedelta(seconds=1)
            )
            is None
        )
        assert services.auto_resolve_cancellation(request.id, now=start + timedelta(days=days)) is not None
        db.session.commit()
        assert db.session.get(CancellationRequest, request.id).status == "auto_accepted"
        assert _order(order_id).status == "cancelled"
        assert money_snapshot(order_id)["transactions"] == {"payment": 1, "refund": 1}
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(OrderEvent).where(OrderEvent.kind == "cancelled")
            )
            == 1
        )


def test_an_order_locked_in_a_transaction_is_not_read_again_until_it_ends_or_rolls_back(
    app, acme, market, in_tenant
):
    """``note_locked``: a caller that locked the order (and read its milestones after the lock)
    in its own statement, or ``lock_order`` itself, spares every later ``lock_order`` of this
    transaction its statements; an expunged order is read again; a rolled-back
    savepoint (whose locks PostgreSQL released) and the end of the transaction forget it."""
    from sqlalchemy import orm

    from tests.helpers import statements_of

    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "awaiting_payment")

        def lock_with_milestones() -> Order:
            return db.session.scalars(
                sa.select(Order)
                .where(Order.id == order_id)
                .with_for_update()
                .options(orm.selectinload(Order.milestones))
                .execution_options(populate_existing=True)
            ).one()

        order = lock_with_milestones()
        services.note_locked(order)
        taken = []
        assert statements_of(app, lambda: taken.append(services.lock_order(order_id))) == []
        assert taken == [order] and order.milestones
        assert statements_of(app, lambda: taken.append(services.lock_order(order_id))) == []  # again
        # This transaction's changes are the session's: a milestone added through the order is
        # in the order taken next.
        added = Milestone(seq=99, title="Extra", amount_minor=100, status="planned", dod=[])
        order.milestones.append(added)
        db.session.flush()
        assert statements_of(app, lambda: taken.append(services.lock_order(order_id))) == []
        assert added in taken[-1].milestones
        # Expired (by a flush's server-side values, or anyone): loaded on first use, from this
        # transaction, which holds the lock.
        db.session.execute(
            sa.update(Milestone.__table__).where(Milestone.id == added.id).values(title="Changed")
        )
        db.session.expire(added)
        assert statements_of(app, lambda: taken.append(services.lock_order(order_id))) == []
        assert [x.title for x in taken[-1].milestones if x.id == added.id] == ["Changed"]
        db.session.expunge(order)
        assert statements_of(app, lambda: services.lock_order(order_id))  # not in the session: read
        db.session.rollback()

        assert statements_of(app, lambda: services.lock_order(order_id))  # a new transaction: read
        assert statements_of(app, lambda: services.lock_order(order_id)) == []
        with db.session.begin_nested() as savepoint:
            savepoint.rollback()
        assert statements_of(app, lambda: services.lock_order(order_id))  # forgotten
        services.note_locked(lock_with_milestones())
        db.session.rollback()
        assert statements_of(app, lambda: services.lock_order(order_id))  # a new transaction
        db.session.rollback()

        unloaded = db.session.scalars(
            sa.select(Order).where(Order.id == order_id).options(orm.lazyload(Order.milestones))
        ).one()
        db.session.expire(unloaded, ["milestones"])
        with pytest.raises(RuntimeError, match="milestones"):
            services.note_locked(unloaded)
