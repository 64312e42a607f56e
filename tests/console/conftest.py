"""Test kit of the console's tests: signing in on the web and through the API, a market per
tenant (an operator admin, a moderator, a seller with a gig, two buyers), orders driven to any
state by the real services, and what the order, the ledger and the audit log say.

Fixtures (``shop``, ``web_as``, ``api_as``, ``make_gig`` from the gigs kit, ``reviewed``, ``completed`` and
``market`` from tests/console/review_kit.py, ``jobs_market`` and ``people`` from
tests/console/jobs_kit.py, ``contracts_market`` (with ``contract_in`` and ``hiring``) from
tests/console/contracts_kit.py; ``make_seller`` is the suite's)
reach every test of this directory; modules import the plain helpers by name
(``from tests.console.conftest import csrf_token, login, admin_web, drive``).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.console.models import AuditEntry
from app.orders import services as orders
from app.orders.models import Order
from app.payments import services as payments
from tenants.db import db
from tests.conftest import ADMIN_PASSWORD
from tests.console.contracts_kit import contract_in, contracts_market, hiring  # noqa: F401  (contracts area)
from tests.console.jobs_kit import jobs_market, people  # noqa: F401  (the jobs area's fixtures)
from tests.console.review_kit import completed, market, reviewed  # noqa: F401  (the reviews area's fixtures)
from tests.gigs.conftest import approval, events_of, make_gig  # noqa: F401  (fixtures for every console test)
from tests.helpers import PASSWORD, bearer_headers, csrf_token, form_tokens, login

BASIC, STANDARD, PREMIUM = 5000, 12000, 25000  # tests/gigs gig_data() package prices
STEPS = ("awaiting_payment", "awaiting_requirements", "in_progress", "delivered", "completed")

__all__ = [
    "ADMIN_PASSWORD",
    "BASIC",
    "PASSWORD",
    "PREMIUM",
    "STANDARD",
    "admin_web",
    "audit_rows",
    "bearer",
    "csrf_token",
    "drive",
    "form_data",
    "form_tokens",
    "index_ids",
    "login",
    "order_state",
    "token",
]


# --------------------------------------------------------------------------- signing in


token = bearer_headers  # the sign-in helpers are the suite's: tests/helpers.py


def admin_web(tenant_client, tenant):
    """A web client of ``tenant`` signed in as its seeded admin."""
    return login(tenant_client(tenant.slug), f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def bearer(tenant_client, tenant, email=None, password=ADMIN_PASSWORD):
    """``(client, headers)`` of ``tenant`` with a bearer token (the seeded admin's by default)."""
    client = tenant_client(tenant.slug)
    return client, token(client, email or f"admin@{tenant.slug}.test", password)


@pytest.fixture
def operator_web(tenant_client):
    """``operator_web(tenant)`` -> a web client signed in as the tenant's seeded admin."""
    return lambda tenant: admin_web(tenant_client, tenant)


@pytest.fixture
def admin_api(tenant_client):
    """``admin_api(tenant)`` -> (client, headers) of the tenant's seeded admin."""
    return lambda tenant: bearer(tenant_client, tenant)


@pytest.fixture
def audit_of(in_tenant):
    """``audit_of(tenant)`` -> [(action, target_type, target_id, via, actor_id, changes, summary)]
    of the tenant's audit log, oldest first."""

    def read(tenant):
        with in_tenant(tenant):
            rows = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
            return [
                (r.action, r.target_type, r.target_id, r.via, r.actor_id, r.changes, r.summary) for r in rows
            ]

    return read


@pytest.fixture
def web_as(tenant_client):
    """``web_as(tenant, email, password=PASSWORD)`` -> a test client signed in through the login form."""

    def sign_in(tenant, email, password=PASSWORD):
        return login(tenant_client(tenant.slug), email, password)

    return sign_in


@pytest.fixture
def api_as(tenant_client):
    """``api_as(tenant, email, password=PASSWORD)`` -> (client, headers with a bearer token)."""

    def sign_in(tenant, email, password=PASSWORD):
        client = tenant_client(tenant.slug)
        return client, token(client, email, password)

    return sign_in


# --------------------------------------------------------------------------- a market with orders


@pytest.fixture
def shop(make_user, make_seller, make_gig, in_tenant):  # noqa: F811  (the imported fixtures)
    """``shop(tenant)`` -> ids and emails of the tenant's admin (seeded), a moderator, a seller
    with an active gig, a buyer and a second buyer."""

    def build(tenant):
        slug = tenant.slug
        seller_id = make_seller(tenant, email=f"seller@{slug}.test", display_name=f"Sally {slug.title()}")
        buyer_id = make_user(tenant, email=f"buyer@{slug}.test", display_name=f"Bob {slug.title()}")
        buyer2_id = make_user(tenant, email=f"buyer2@{slug}.test", display_name=f"Beth {slug.title()}")
        moderator_id = make_user(
            tenant, email=f"mod@{slug}.test", display_name=f"Mo {slug.title()}", role="moderator"
        )
        gig_id = make_gig(tenant, seller_id, title=f"I will design a {slug} logo")
        with in_tenant(tenant):
            admin_id = db.session.scalar(sa.select(User.id).where(User.role == "admin"))
        return SimpleNamespace(
            tenant=tenant,
            admin_id=admin_id,
            admin_email=f"admin@{slug}.test",
            moderator_id=moderator_id,
            moderator_email=f"mod@{slug}.test",
            seller_id=seller_id,
            seller_email=f"seller@{slug}.test",
            buyer_id=buyer_id,
            buyer_email=f"buyer@{slug}.test",
            buyer2_id=buyer2_id,
            buyer2_email=f"buyer2@{slug}.test",
            gig_id=gig_id,
        )

    return build


def drive(s, state: str, *, tier: str = "basic", buyer_id: int | None = None) -> int:
    """Place an order in shop ``s`` (tenant bound), pay it with the sandbox's test card, and move
    it to ``state`` through the real services; commits; returns its id."""
    buyer = db.session.get(User, buyer_id or s.buyer_id)
    order = orders.place_order(buyer, s.gig_id, tier)
    db.session.commit()
    order_id = order.id
    if state == "awaiting_payment":
        return order_id
    session = payments.open_checkout(db.session.get(Order, order_id))
    db.session.commit()
    result = payments.sandbox_pay(buyer, session.payment_id, "4242 4242 4242 4242", "12/40", "123")
    assert result.outcome == "succeeded"
    db.session.commit()
    target = STEPS.index(state)
    seller = db.session.get(User, s.seller_id)
    if target >= 2:
        orders.submit_requirements(buyer, order_id, "Blue and round, please.")
        db.session.commit()
    if target >= 3:
        orders.deliver(seller, order_id, "Here it is.")
        db.session.commit()
    if target >= 4:
        orders.complete(buyer, order_id)
        db.session.commit()
    return order_id


def order_state(order_id: int) -> dict:
    """What an order and the ledger say about it (tenant bound), for "nothing changed" checks."""
    from app.ledger import services as ledger
    from app.ledger.models import LedgerTransaction
    from app.payments.models import Refund

    db.session.expire_all()
    order = db.session.get(Order, order_id)
    return {
        "status": order.status,
        "version": order.version,
        "refunded": sum(m.refunded_minor for m in order.milestones),
        "escrow": ledger.escrow_balance(order_id, order.currency),
        "transactions": sorted(
            db.session.execute(
                sa.select(LedgerTransaction.kind, LedgerTransaction.id).where(
                    LedgerTransaction.order_id == order_id
                )
            ).all()
        ),
        "provider_refunds": sorted(
            db.session.execute(
                sa.select(Refund.amount_minor, Refund.status).where(Refund.order_id == order_id)
            ).all()
        ),
    }


def audit_rows() -> list[tuple]:
    """(action, target_type, target_id, actor_id, via) of every audit entry, oldest first (tenant bound)."""
    from app.console.models import AuditEntry

    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(
                AuditEntry.action,
                AuditEntry.target_type,
                AuditEntry.target_id,
                AuditEntry.actor_id,
                AuditEntry.via,
            ).order_by(AuditEntry.id)
        )
    ]


def index_ids(in_tenant, tenant, text):
    """Ids the tenant's search index itself holds for ``text`` (not filtered by the database)."""
    from app.search import backend

    missing = getattr(backend, "IndexUnavailable", ())  # an index never built holds nothing
    with in_tenant(tenant):
        try:
            return backend.get_backend().search(tenant.id, backend.SearchQuery(text=text)).ids
        except missing:
            return []


def form_data(client, **overrides) -> dict:
    """A complete /console/settings form (with its CSRF token); an override of None leaves a field out."""
    data = {
        "csrf_token": csrf_token(client, "/console/settings"),
        "currency": "USD",
        "commission_percent": "10",
        "commission_min_fee": "1.00",
        "auto_complete_days": "3",
        "clearance_days": "7",
        "cancellation_auto_resolve_days": "2",
        "timesheet_review_days": "5",
        "payout_schedule": "manual",
        "support_email": "admin@acme.test",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
