"""Demo data (``app.demo.seed.seed_demo``), seeded small into the suite's acme and globex tenants."""

# The console kit's fixtures are imported below and then named as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import check_password
from app.console.dashboard import kpis
from app.console.models import AuditEntry
from app.demo import people
from app.demo.seed import DEMO_PASSWORD, seed_demo
from app.disputes.models import Dispute
from app.events.models import OutboxEvent
from app.gigs.models import Gig
from app.ledger import services as ledger
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from app.ledger.verify import verify
from app.mail.models import EmailMessage
from app.notifications.models import Notification
from app.orders.models import Order, OrderEvent
from app.orders.services import commission_for
from app.payments.models import Payment, Payout, Refund
from app.reviews import services as reviews
from app.reviews.models import Review, ReviewReport, ReviewWindow
from app.search.services import build_query, search_gigs
from tenants.db import db
from tenants.migrations import tenant_tables
from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import web_as  # noqa: F401  (fixture)

SELLERS, GIGS, ORDERS = 3, 6, 30
BUYERS = len(people.BUYERS)


# The tests that only read the demo seed share one (~10 s) per worker: each starts from it as
# seeded and leaves it as it found it (tests/conftest.py, ``keeps_state``). Every other test
# here starts from the base state, its search index folder empty, as everywhere.
reads_the_seed = pytest.mark.keeps_state("core-demo")


@pytest.fixture
def seeded(app, request, kept):
    def seed():
        with app.app_context():
            return seed_demo(sellers_per_tenant=SELLERS, gigs_per_tenant=GIGS, orders_per_tenant=ORDERS)

    return kept(seed) if request.node.get_closest_marker("keeps_state") else seed()


def _demo_users(slug: str) -> list[User]:
    """Demo sellers and buyers of ``slug`` (not the operator admin)."""
    query = sa.select(User).where(User.email.like(f"%@{slug}.test"), User.role == "member")
    return list(db.session.scalars(query))


@reads_the_seed
def test_seed_creates_verified_sellers_buyers_and_published_gigs(seeded, in_tenant, acme):
    with in_tenant(acme):
        users = _demo_users("acme")
        sellers = [u for u in users if u.seller_profile is not None]
        assert len(sellers) == SELLERS and len(users) == SELLERS + BUYERS
        for user in users:
            assert user.email_verified_at is not None and user.status == "active"
        assert check_password(sellers[0], DEMO_PASSWORD)
        assert all(s.avatar_key and s.seller_profile.headline and s.seller_profile.skills for s in sellers)
        gigs = list(db.session.scalars(sa.select(Gig)).unique())
        assert len(gigs) == GIGS and {g.status for g in gigs} == {"active"}
        for gig in gigs:
            assert [p.tier for p in gig.packages] == ["basic", "standard", "premium"]
            assert 1 <= len(gig.images) <= 3 and gig.faqs and gig.extras and gig.tags
            basic, standard, premium = gig.packages
            assert basic.price_minor < standard.price_minor < premium.price_minor
            assert basic.delivery_days <= standard.delivery_days <= premium.delivery_days
            assert gig.min_price_minor == basic.price_minor
    assert any("acme: log in as" in line and DEMO_PASSWORD in line for line in seeded)


@reads_the_seed
def test_seeded_gigs_are_searchable_and_their_events_consumed(seeded, in_tenant, acme):
    with in_tenant(acme):
        gigs = list(db.session.scalars(sa.select(Gig)).unique())
        everything = search_gigs(build_query(per_page=100))
        assert sorted(everything.ids) == sorted(g.id for g in gigs)
        gig = gigs[0]
        found = search_gigs(build_query(text=gig.title, per_page=100))
        assert gig.id in found.ids
        # The index was rebuilt once; the gig events it covers are not left for the worker.
        pending = db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxEvent).where(OutboxEvent.status == "pending")
        )
        assert pending == 0


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# The demo's gig and offer orders; the demo contracts' engagements (orders of kind "contract",
# app/demo/jobs.py) are tested in tests/demo.
NOT_CONTRACT = Order.kind != "contract"


def _gig_orders() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Order).where(NOT_CONTRACT))


@reads_the_seed
def test_seed_is_idempotent(seeded, app, in_tenant, acme, globex):
    def state():
        counts = [_count(m) for m in (Gig, Order, LedgerTransaction, Payout)]
        return [len(_demo_users("acme")), _gig_orders(), *counts]

    with in_tenant(acme):
        before = state()
    assert before[1] == ORDERS  # and the demo contracts' engagements (tests/demo)
    with app.app_context():
        lines = seed_demo(sellers_per_tenant=SELLERS, gigs_per_tenant=GIGS, orders_per_tenant=ORDERS)
    assert "acme: demo content already there" in lines and "globex: demo content already there" in lines
    with in_tenant(acme):
        after = state()
    assert after == before


@reads_the_seed
def test_each_tenant_gets_its_own_people_and_gigs(seeded, in_tenant, acme, globex):
    with in_tenant(acme):
        acme_seller = next(u for u in _demo_users("acme") if u.seller_profile is not None)
        surname = acme_seller.display_name.split()[-1]
        assert search_gigs(build_query(text=surname)).total > 0
        assert not _demo_users("globex")
    with in_tenant(globex):
        assert len(_demo_users("globex")) == SELLERS + BUYERS
        assert not _demo_users("acme")
        assert search_gigs(build_query(text=surname)).total == 0  # acme's seller is unknown here
        globex_names = {u.display_name for u in _demo_users("globex")}
    assert acme_seller.display_name not in globex_names


# --------------------------------------------------------------------------- orders


@reads_the_seed
def test_demo_orders_are_in_every_state_with_their_money(seeded, in_tenant, acme, globex):
    assert any(line.startswith("acme: added") and f"added {ORDERS} orders" in line for line in seeded)
    for tenant in (acme, globex):
        with in_tenant(tenant):
            statuses = dict(
                db.session.execute(
                    sa.select(Order.status, sa.func.count()).where(NOT_CONTRACT).group_by(Order.status)
                ).all()
            )
            assert sum(statuses.values()) == ORDERS
            assert set(statuses) == {
                "awaiting_payment",
                "awaiting_requirements",
                "in_progress",
                "delivered",
                "completed",
                "cancelled",
            }
            assert statuses["completed"] > ORDERS / 2  # most of them
            orders = list(db.session.scalars(sa.select(Order).where(NOT_CONTRACT)))
            assert any(o.late_at is not None and o.status == "in_progress" for o in orders)
            assert any(o.quantity > 1 for o in orders) and any(o.extras for o in orders)
            assert len({o.buyer_id for o in orders}) > 5 and len({o.gig_id for o in orders}) > 1

            # Completed: escrow released, commission to the platform (on the whole order; an order
            # settled by a demo dispute's split pays it on the released part: tests/demo).
            disputed = set(db.session.scalars(sa.select(Dispute.order_id)))
            for order in (o for o in orders if o.status == "completed" and o.id not in disputed):
                assert ledger.escrow_balance(order.id, order.currency) == 0
                fee = db.session.scalars(
                    sa.select(-LedgerEntry.amount_minor)
                    .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                    .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                    .where(
                        LedgerTransaction.order_id == order.id,
                        LedgerTransaction.kind == "release",
                        LedgerAccount.code.in_(ledger.account_codes(ledger.COMMISSION)),
                    )
                ).one()
                assert fee == commission_for(order.total_minor) > 0  # the tenant's rate
            currency = orders[0].currency
            assert ledger.account_balance(ledger.COMMISSION, currency) > 0
            # Every paid order went through the sandbox checkout, so the console can refund it.
            paid = [o for o in orders if o.paid_at is not None]
            payments = dict(db.session.execute(sa.select(Payment.order_id, Payment.status)).all())
            assert all(payments.get(o.id) == "succeeded" for o in paid)
            # Cancelled after payment: refunded in the ledger and at the provider; one by the operator.
            refunded = [o for o in orders if o.status == "cancelled" and o.paid_at is not None]
            assert refunded
            refunds = dict(
                db.session.execute(
                    sa.select(Refund.order_id, sa.func.sum(Refund.amount_minor))
                    .where(Refund.status == "succeeded")
                    .group_by(Refund.order_id)
                ).all()
            )
            for order in refunded:
                assert refunds[order.id] == sum(m.refunded_minor for m in order.milestones) > 0
            actions = set(db.session.scalars(sa.select(AuditEntry.action)))
            assert "order.refund" in actions
            # Earnings cleared and some paid out.
            assert _count(Payout) >= 1
            kinds = set(db.session.scalars(sa.select(LedgerTransaction.kind)))
            assert {"payment", "release", "refund", "clearance", "payout"} <= kinds
            # History: no bells, emails or pending deliveries about it.
            assert _count(Notification) == 0 and _count(EmailMessage) == 0
            pending = db.session.scalar(
                sa.select(sa.func.count()).select_from(OutboxEvent).where(OutboxEvent.status != "dispatched")
            )
            assert pending == 0


@reads_the_seed
def test_demo_orders_are_spread_over_months_with_consistent_dates(seeded, in_tenant, acme):
    now = datetime.now(UTC)
    with in_tenant(acme):
        orders = list(db.session.scalars(sa.select(Order).where(NOT_CONTRACT).order_by(Order.id)))
        disputed = set(db.session.scalars(sa.select(Dispute.order_id)))  # their clocks stop (tests/demo)
        placed = [o.created_at for o in orders]
        assert placed == sorted(placed)  # numbers follow the dates
        assert now - placed[0] > timedelta(days=60) and now - placed[-1] < timedelta(days=7)
        for order in orders:
            stamps = [order.created_at, order.paid_at, order.delivered_at, order.completed_at]
            present = [s for s in stamps if s is not None]
            assert present == sorted(present) and present[-1] <= now
            if order.cancelled_at is not None:
                assert order.created_at < order.cancelled_at <= now
            if order.status == "delivered" and order.id not in disputed:
                assert order.auto_complete_at > now  # the worker will not complete it at once
            if order.status == "in_progress":
                assert (order.due_at < now) == (order.late_at is not None)
            timeline = list(
                db.session.scalars(
                    sa.select(OrderEvent.created_at)
                    .where(OrderEvent.order_id == order.id)
                    .order_by(OrderEvent.id)
                )
            )
            assert timeline == sorted(timeline) and timeline[0] == order.created_at
            money = dict(
                db.session.execute(
                    sa.select(LedgerTransaction.kind, sa.func.min(LedgerTransaction.created_at))
                    .where(LedgerTransaction.order_id == order.id)
                    .group_by(LedgerTransaction.kind)
                ).all()
            )
            assert money.get("payment") == order.paid_at
            if "release" in money:
                assert money["release"] == (order.completed_at or order.cancelled_at)
        # Buyers signed up over the period, each before their first order.
        first = dict(
            db.session.execute(
                sa.select(Order.buyer_id, sa.func.min(Order.created_at))
                .where(NOT_CONTRACT)
                .group_by(Order.buyer_id)
            ).all()
        )
        buyers = list(db.session.scalars(sa.select(User).where(User.id.in_(list(first)))))
        assert all(b.created_at < first[b.id] for b in buyers)
        assert len({b.created_at.date() for b in buyers}) > 5


@reads_the_seed
def test_demo_ledger_verifies(seeded, app, in_tenant, acme, globex):
    for tenant in (acme, globex):
        with in_tenant(tenant):
            report = verify()
            assert report.ok, report.problems
            assert report.transactions > ORDERS
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "acme: OK" in result.output and "globex: OK" in result.output


# --------------------------------------------------------------------------- reviews


@reads_the_seed
def test_demo_reviews_rate_the_completed_orders_through_the_rules(seeded, in_tenant, acme, globex):
    assert any("reviews (" in line and "replies" in line for line in seeded)
    now = datetime.now(UTC)
    for tenant in (acme, globex):
        with in_tenant(tenant):
            rows = list(db.session.scalars(sa.select(Review)))
            published = [r for r in rows if r.status == "published"]
            assert published and {r.direction for r in published} == {"of_seller", "of_buyer"}
            # Every review belongs to a completed order, written in its window by one of its parties.
            for review in rows:
                order = db.session.get(Order, review.order_id)
                window = db.session.get(ReviewWindow, review.order_id)
                assert order.status == "completed"
                assert {review.author_id, review.subject_id} == {order.buyer_id, order.seller_id}
                assert order.completed_at < review.created_at < window.closes_at
                assert review.created_at <= now
                if review.direction == "of_seller":
                    assert review.communication and review.as_described and review.would_recommend
            assert any(r.reply_text for r in published)
            assert _count(ReviewReport) >= 1
            assert db.session.scalar(sa.select(ReviewReport.status)) == "open"
            reported = db.session.scalar(sa.select(ReviewReport.review_id))
            assert db.session.get(Review, reported).status == "published"  # for the console's queue
            # Both sides' reviews publish together: an open window keeps a lone review unseen.
            for window in db.session.scalars(sa.select(ReviewWindow)):
                statuses = [r.status for r in rows if r.order_id == window.order_id]
                if window.status == "open":
                    assert window.closes_at > now and statuses in ([], ["submitted"])
                else:
                    assert window.closes_at <= now or len(statuses) == 2
                    assert "submitted" not in statuses
            # The gigs' averages are the services' own, so search can filter on them.
            gigs = [g for g in db.session.scalars(sa.select(Gig)).unique() if g.rating_count]
            assert gigs
            for gig in gigs:
                average, count = reviews.rating_summary(gig_id=gig.id)
                assert (gig.rating_avg, gig.rating_count) == (average, count)
            assert search_gigs(build_query(min_rating=1, per_page=100)).total == len(gigs)
    with in_tenant(acme):
        # Acme holds banned words: one review waits for a moderator.
        assert db.session.scalar(sa.select(sa.func.count()).where(Review.status == "held")) == 1
        ratings = [
            r.rating for r in db.session.scalars(sa.select(Review).where(Review.direction == "of_seller"))
        ]
        assert min(ratings) <= 2 and max(ratings) == 5
        assert sum(1 for r in ratings if r >= 4) > len(ratings) / 2  # mostly good


@reads_the_seed
def test_seeded_sellers_have_todays_reputation_and_the_demo_thresholds(seeded, in_tenant, acme):
    from app.accounts.models import SellerProfile
    from app.reviews import reputation
    from app.reviews import settings as review_settings
    from app.reviews.models import ReputationSnapshot

    with in_tenant(acme):
        thresholds = review_settings.level_thresholds()
        assert thresholds["level_1"]["orders"] == 3 and thresholds["level_1"]["earnings_minor"] == 15_000
        profiles = {p.user_id: p for p in db.session.scalars(sa.select(SellerProfile))}
        snapshots = {s.user_id: s for s in db.session.scalars(sa.select(ReputationSnapshot))}
        assert set(snapshots) == set(profiles)
        for user_id, snapshot in snapshots.items():
            assert profiles[user_id].level == snapshot.level
            figures = {
                "orders": snapshot.orders_completed,
                "earnings_minor": snapshot.earnings_minor,
                "rating": snapshot.rating_avg,
                "on_time_rate": snapshot.on_time_rate,
                "days_active": snapshot.days_active,
            }
            assert reputation.level_for(figures, thresholds) == snapshot.level


# --------------------------------------------------------------------------- own seeds or writes
# (after the tests that read the shared seed: the suite's workers take tests in file order)


def test_the_seeded_schemas_are_analysed(app, in_tenant, acme, globex):
    """A bulk load leaves the planner without statistics until ANALYZE: the seed runs it."""
    with app.app_context():
        before = db.session.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        db.session.rollback()
        seed_demo(sellers_per_tenant=SELLERS, gigs_per_tenant=GIGS, orders_per_tenant=ORDERS)
    for tenant in (acme, globex):
        with in_tenant(tenant):
            analysed = dict(
                db.session.execute(
                    sa.text("SELECT relname, last_analyze FROM pg_stat_user_tables WHERE schemaname = :s"),
                    {"s": tenant.schema},
                ).all()
            )
            assert analysed["gigs"] is not None and analysed["gigs"] > before
            missed = [t.name for t in tenant_tables() if not (analysed[t.name] and analysed[t.name] > before)]
            assert missed == []
            estimated = db.session.execute(
                sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                {"t": f"{tenant.schema}.gigs"},
            ).scalar_one()
            assert estimated == db.session.scalar(sa.select(sa.func.count()).select_from(Gig)) == GIGS


def test_console_dashboard_shows_the_demo_business(seeded, in_tenant, acme, web_as):
    with in_tenant(acme):
        board = kpis.dashboard("90d")
        gmv = board.figures["gmv"].value
        assert gmv > 0 and board.figures["commission"].value > 0 and board.figures["refunds"].value > 0
        assert board.figures["orders"].value > ORDERS / 2 and board.figures["new_users"].value > 0
        assert len([point for point in board.series if point.gmv_minor]) > 5  # a shape, not one bar
        assert board.top_categories
    admin = web_as(acme, "admin@acme.test", ADMIN_PASSWORD)
    response = admin.get("/console/?period=90d")
    assert response.status_code == 200
    shown = re.search(r'data-testid="kpi-gmv" data-value="(\d+)"', response.get_data(as_text=True))
    assert shown and int(shown.group(1)) == gmv


def test_without_orders_the_demo_still_seeds_its_catalog(app, in_tenant, acme):
    with app.app_context():
        seed_demo(sellers_per_tenant=1, gigs_per_tenant=1)  # scaled down: no orders for one gig
    with in_tenant(acme):
        assert _count(Gig) == 1 and _count(Order) == 0


def test_demo_reviews_leave_windows_open_with_one_side_written(app, in_tenant, acme):
    with app.app_context():
        seed_demo(sellers_per_tenant=SELLERS, gigs_per_tenant=GIGS, orders_per_tenant=60)
    with in_tenant(acme):
        waiting = db.session.scalars(sa.select(Review).where(Review.status == "submitted")).all()
        assert waiting, "an open window with one review written, unseen by the other side"
        for review in waiting:
            assert db.session.get(ReviewWindow, review.order_id).status == "open"
