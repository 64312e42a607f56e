"""Payments test kit: orders to pay, signed-in clients, a Stripe emulator and
tenants switched to Stripe with keys of their own."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.ledger import services as ledger
from app.ledger.models import LedgerTransaction
from app.orders import services as orders
from app.orders.models import Order
from app.payments import backoffice, services
from app.payments.models import Payment, Payout, Refund, SellerPaymentAccount
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.gigs.conftest import PASSWORD, make_gig  # noqa: F401  (fixtures)
from tests.helpers import form_tokens, login  # noqa: F401  (for modules)
from tests.payments.stripe_emulator import EmulatorServer, StripeEmulator

# Each tenant its own Stripe platform account: its own keys and webhook secret.
STRIPE_KEYS = {
    "acme": {
        "publishable_key": "pk_test_acme123",
        "secret_key": "sk_test_acmeSecret123",
        "webhook_secret": "whsec_acmeSigning123",
    },
    "globex": {
        "publishable_key": "pk_test_globex456",
        "secret_key": "sk_test_globexSecret456",
        "webhook_secret": "whsec_globexSigning456",
    },
}


def verify_identity(in_tenant, tenant, seller_id: int, *, start: bool = True) -> None:
    """Take a seller through the sandbox's simulated identity check (KYC), as in the product:
    the seller starts it (``start``), the tenant's seeded admin verifies it; commits. Payouts
    need it (``services.payout_refusal``)."""
    with in_tenant(tenant):
        seller = db.session.get(User, seller_id)
        if start:
            backoffice.start_sandbox_verification(seller)
        admin = db.session.scalars(sa.select(User).where(User.role == "admin").order_by(User.id)).first()
        backoffice.decide_sandbox_kyc(admin, seller_id, "verified")
        db.session.commit()


@pytest.fixture
def verified(in_tenant):
    """``verified(tenant, seller_id)``: the seller's identity verified for payouts (sandbox)."""
    return lambda tenant, seller_id: verify_identity(in_tenant, tenant, seller_id)


@pytest.fixture
def market(make_user, make_seller, make_gig, in_tenant, tenant_client):  # noqa: F811
    """``market(tenant)`` -> a namespace: a seller with a gig (on the sandbox, identity verified
    for payouts: ``verify_identity``; ``market(tenant, verified=False)`` for one who is not), a
    buyer, and helpers to order and pay."""

    def build(tenant, verified=True):
        seller_email = f"seller-{tenant.slug}@example.com"
        buyer_email = f"buyer-{tenant.slug}@example.com"
        seller_id = make_seller(tenant, email=seller_email)
        with in_tenant(tenant):
            sandbox = db.session.get(MarketplaceSettings, 1).payment_provider == "sandbox"
        if verified and sandbox:  # with Stripe, Stripe verifies (onboarding, account.updated)
            verify_identity(in_tenant, tenant, seller_id)
        buyer_id = make_user(tenant, email=buyer_email)
        gig_id = make_gig(tenant, seller_id)

        def place(tier="basic", buyer=buyer_id):
            with in_tenant(tenant):
                order = orders.place_order(db.session.get(User, buyer), gig_id, tier)
                db.session.commit()
                return order.id

        def checkout(order_id):
            with in_tenant(tenant):
                url = services.start_checkout(db.session.get(Order, order_id))
                db.session.commit()
                return url

        def client(email):
            return login(tenant_client(tenant.slug), email)

        def buyer_checkout():
            """Place an order and open its checkout -> (order id, checkout url, the buyer's web client)."""
            order_id = place()
            return order_id, checkout(order_id), client(buyer_email)

        return SimpleNamespace(
            tenant=tenant,
            seller_id=seller_id,
            buyer_id=buyer_id,
            gig_id=gig_id,
            seller_email=seller_email,
            buyer_email=buyer_email,
            place=place,
            checkout=checkout,
            client=client,
            buyer_checkout=buyer_checkout,
        )

    return build


@pytest.fixture
def money(in_tenant):
    """Read-only views of a tenant's money for assertions."""

    def snapshot(tenant, order_id=None, seller_id=None):
        with in_tenant(tenant):
            currency = db.session.get(MarketplaceSettings, 1).currency
            data = SimpleNamespace(
                payments=[
                    (p.id, p.status, p.amount_minor, p.provider_ref)
                    for p in db.session.scalars(sa.select(Payment).order_by(Payment.id))
                ],
                refunds=[
                    (r.id, r.status, r.amount_minor, r.provider_ref, r.origin)
                    for r in db.session.scalars(sa.select(Refund).order_by(Refund.id))
                ],
                payouts=[
                    (p.id, p.status, p.amount_minor, p.provider_ref)
                    for p in db.session.scalars(sa.select(Payout).order_by(Payout.id))
                ],
                accounts=[
                    (a.user_id, a.account_ref, a.ready)
                    for a in db.session.scalars(
                        sa.select(SellerPaymentAccount).where(SellerPaymentAccount.provider != "sandbox")
                    )
                ],
                ledger_transactions=db.session.scalar(
                    sa.select(sa.func.count()).select_from(LedgerTransaction)
                ),
                clearing=ledger.account_balance(ledger.CLEARING, currency),
            )
            if order_id is not None:
                order = db.session.get(Order, order_id)
                data.order_status = order.status
                data.escrow = ledger.escrow_balance(order_id, currency)
            if seller_id is not None:
                data.balances = ledger.seller_balances(seller_id, currency)
            report = ledger.verify()
            data.ledger_ok = report.ok
            return data

    return snapshot


def complete_order(order_id: int) -> User:
    """Take a paid order (tenant bound) through requirements, delivery and completion; flushes.
    Returns its seller."""
    order = db.session.get(Order, order_id)
    buyer, seller = db.session.get(User, order.buyer_id), db.session.get(User, order.seller_id)
    orders.submit_requirements(buyer, order_id, "Make it blue.")
    orders.deliver(seller, order_id, "Here it is.", [])
    orders.complete(buyer, order_id)
    return seller


@pytest.fixture
def seller_earnings(in_tenant):
    """``seller_earnings(tenant, order_id)``: deliver and complete the order, then clear the
    seller's earnings (as if the clearance delay had passed); returns the available balance."""
    from datetime import UTC, datetime, timedelta

    def run(tenant, order_id):
        with in_tenant(tenant):
            order = db.session.get(Order, order_id)
            seller = complete_order(order_id)
            db.session.commit()
            services.clear_due_earnings(datetime.now(UTC) + timedelta(days=365))
            db.session.commit()
            return ledger.seller_balances(seller.id, order.currency)["available"]

    return run


# --- Stripe ------------------------------------------------------------------------------


@pytest.fixture
def stripe_emulator(app, monkeypatch):
    """A Stripe emulator on 127.0.0.1; the app's stripe library points at it for this test."""
    emulator = StripeEmulator()
    server = EmulatorServer(emulator).start()
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", server.url)
    yield emulator
    server.stop()


@pytest.fixture
def use_stripe(in_tenant):
    """``use_stripe(tenant)`` switches the tenant to Stripe with its own keys; returns them."""

    def switch(tenant):
        keys = STRIPE_KEYS[tenant.slug]
        with in_tenant(tenant):
            services.configure_stripe(keys["publishable_key"], keys["secret_key"], keys["webhook_secret"])
            db.session.commit()
        return SimpleNamespace(**keys)

    return switch
