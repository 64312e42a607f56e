"""Money on marketplaces that do not price in cents: Hungarian forints (no decimals, read and
written the Hungarian way) and Kuwaiti dinars (three decimals). Checkout on the sandbox
provider, a payout typed into the earnings form, an operator's partial refund typed into the
console: every amount is read with the currency's own exponent, stored as minor units, shown
in the marketplace's format, and the ledger still balances. Bad amounts are refused on their
field and nothing moves. Then the Stripe side: HUF goes to Stripe x100, KWD charges in steps
of ten fils."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.core import money as m
from app.orders import services as orders
from app.payments import services
from app.payments.models import Payment
from app.settings import services as settings
from tenants.db import db
from tests.conftest import ADMIN_PASSWORD
from tests.payments.conftest import form_tokens, login
from tests.payments.stripe_emulator import event
from tests.payments.test_sandbox_checkout import SUCCEEDS, pay
from tests.payments.test_stripe import deliver, stripe_paid_order

NBSP = "\u00a0"
STANDARD = 12000  # minor units of the gig's standard package (tests/gigs gig_data)
BASIC = 5000


def use_currency(in_tenant, tenant, currency: str, locale: str = "en_US") -> None:
    """Switch the marketplace's currency and locale (before any gig is priced)."""
    with in_tenant(tenant):
        settings.update_marketplace_settings(currency=currency, locale=locale)
        db.session.commit()


CASES = {
    "HUF": {
        "locale": "hu_HU",
        "checkout": f"12{NBSP}000{NBSP}Ft",  # 12000 forints, the Hungarian way
        "bad_payout": ("5000,5", "Amounts in HUF are whole numbers, without decimals."),
        "payout": ("5000", 5000),  # 5000 forints: 5000 minor units, not 500000
        "available_after": f"5{NBSP}800{NBSP}Ft",
        "bad_refund": ("2000,5", "Amounts in HUF are whole numbers, without decimals."),
        "refund": ("2 000", 2000),
    },
    "KWD": {
        "locale": "en_US",
        "checkout": f"KWD{NBSP}12.000",
        "bad_payout": ("1.2345", "Use at most 3 decimals for KWD."),
        "payout": ("5", 5000),  # 5 dinars: 5000 fils
        "available_after": f"KWD{NBSP}5.800",
        "bad_refund": ("2.0001", "Use at most 3 decimals for KWD."),
        "refund": ("2.5", 2500),
    },
}


@pytest.mark.parametrize("currency", sorted(CASES))
def test_checkout_payout_and_refund_in_the_marketplaces_own_currency(
    currency, market, money, seller_earnings, tenant_client, run_jobs, acme, in_tenant
):
    case = CASES[currency]
    use_currency(in_tenant, acme, currency, case["locale"])
    shop = market(acme)

    # Checkout on the sandbox provider: the amount shown is the order's, in the marketplace's format.
    order_id = shop.place("standard")
    url = shop.checkout(order_id)
    buyer = shop.client(shop.buyer_email)
    assert case["checkout"] in buyer.get(url).get_data(as_text=True)
    assert pay(buyer, url, SUCCEEDS).status_code == 302
    paid = money(acme, order_id)
    assert (paid.order_status, paid.escrow, paid.payments[0][1:3]) == (
        "awaiting_requirements",
        STANDARD,
        ("succeeded", STANDARD),
    )
    assert paid.ledger_ok

    # The seller's earnings: 12000 minus the 10 % commission.
    assert seller_earnings(acme, order_id) == STANDARD - STANDARD // 10
    seller = shop.client(shop.seller_email)

    # A payout with too many decimals for the currency: a clear message on the field, nothing stored.
    before = money(acme, seller_id=shop.seller_id)
    typed, message = case["bad_payout"]
    response = seller.post(
        "/account/earnings/payouts",
        data={"confirm": "yes", **form_tokens(seller, "/account/earnings"), "amount": typed},
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    after = money(acme, seller_id=shop.seller_id)
    assert (after.payouts, after.balances, after.ledger_transactions) == (
        [],
        before.balances,
        before.ledger_transactions,
    )

    # The payout typed as the seller would: exactly that many minor units leave.
    typed, minor = case["payout"]
    response = seller.post(
        "/account/earnings/payouts",
        data={"confirm": "yes", **form_tokens(seller, "/account/earnings"), "amount": typed},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    after = money(acme, seller_id=shop.seller_id)
    assert [(p[1], p[2]) for p in after.payouts] == [("sent", minor)]
    assert after.balances["available"] == STANDARD - STANDARD // 10 - minor
    assert after.ledger_ok
    page = seller.get("/account/earnings").get_data(as_text=True)
    assert f'data-testid="balance-available">{case["available_after"]}<' in page

    # A second order, paid, then cancelled by the operator with a partial refund typed in the console.
    second = shop.place("basic")
    assert pay(buyer, shop.checkout(second), SUCCEEDS).status_code == 302
    admin = login(tenant_client("acme"), "admin@acme.test", ADMIN_PASSWORD)
    page = f"/console/orders/{second}"
    typed, message = case["bad_refund"]
    response = admin.post(
        f"{page}/cancel",
        data={**form_tokens(admin, page), "confirm": "yes", "reason": "Partly delivered", "refund": typed},
    )
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    untouched = money(acme, second)
    assert (untouched.order_status, untouched.escrow, untouched.refunds) == (
        "awaiting_requirements",
        BASIC,
        [],
    )

    typed, minor = case["refund"]
    response = admin.post(
        f"{page}/cancel",
        data={**form_tokens(admin, page), "confirm": "yes", "reason": "Partly delivered", "refund": typed},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    run_jobs()  # order.refunded -> the provider's refund
    cancelled = money(acme, second)
    assert cancelled.order_status == "cancelled" and cancelled.escrow == 0
    assert [(r[1], r[2]) for r in cancelled.refunds] == [("succeeded", minor)]
    assert cancelled.ledger_ok
    assert m.format(minor, currency, locale=case["locale"]) in admin.get(page).get_data(as_text=True)


def test_a_forint_order_goes_to_stripe_in_hundredths_and_comes_back_in_forints(
    market, use_stripe, stripe_emulator, money, tenant_client, run_jobs, acme, in_tenant
):
    use_currency(in_tenant, acme, "HUF")
    keys = use_stripe(acme)
    shop = market(acme)
    order_id, payment = stripe_paid_order(shop, stripe_emulator, keys, tenant_client, in_tenant)
    intent_call = stripe_emulator.calls("POST", "/v1/payment_intents")[0]
    assert (intent_call.params["amount"], intent_call.params["currency"]) == ("500000", "huf")
    paid = money(acme, order_id)
    assert (paid.order_status, paid.escrow, paid.payments[0][2]) == ("awaiting_requirements", BASIC, BASIC)

    with in_tenant(acme):
        admin = db.session.scalars(sa.select(User).where(User.role == "admin")).first()
        orders.operator_cancel(admin, order_id, 2000, "Partly delivered")
        db.session.commit()
    run_jobs()
    assert [r["amount"] for r in stripe_emulator.of_type(keys.secret_key, "re_")] == [200000]
    # charge.refunded, in Stripe's hundredths, matches our 2000-forint refund: nothing new.
    charge = stripe_emulator.charge_of(keys.secret_key, payment.provider_ref)
    assert (
        deliver(tenant_client, "acme", event("charge.refunded", charge), keys.webhook_secret).status_code
        == 200
    )
    after = money(acme, order_id)
    assert [(r[1], r[2]) for r in after.refunds] == [("succeeded", 2000)]
    assert after.escrow == 0 and after.ledger_ok


def test_a_forint_payout_is_transferred_in_hundredths(
    market, use_stripe, stripe_emulator, money, tenant_client, seller_earnings, run_jobs, acme, in_tenant
):
    use_currency(in_tenant, acme, "HUF")
    keys = use_stripe(acme)
    shop = market(acme)
    order_id, _payment = stripe_paid_order(shop, stripe_emulator, keys, tenant_client, in_tenant)
    assert seller_earnings(acme, order_id) == 4500
    with in_tenant(acme):
        seller = db.session.get(User, shop.seller_id)
        services.start_onboarding(
            seller, return_url="http://acme.localhost/r", refresh_url="http://acme.localhost/f"
        )
        db.session.commit()
        account_id = services._seller_account(seller.id, "stripe").account_ref
    account = stripe_emulator.complete_onboarding(keys.secret_key, account_id)
    deliver(tenant_client, "acme", event("account.updated", account), keys.webhook_secret)
    client = shop.client(shop.seller_email)
    tokens = form_tokens(client, "/account/earnings")
    assert (
        client.post(
            "/account/earnings/payouts", data={"confirm": "yes", **tokens, "amount": "4500"}
        ).status_code
        == 302
    )
    run_jobs()
    transfers = stripe_emulator.of_type(keys.secret_key, "tr_")
    assert [(t["amount"], t["currency"]) for t in transfers] == [(450000, "huf")]
    after = money(acme, seller_id=shop.seller_id)
    assert [(p[1], p[2]) for p in after.payouts] == [("sent", 4500)]
    assert after.balances["available"] == 0 and after.ledger_ok


def test_a_dinar_price_stripe_cannot_charge_is_refused_clearly_and_nothing_is_stored(
    market, use_stripe, stripe_emulator, make_gig, acme, in_tenant
):
    use_currency(in_tenant, acme, "KWD")
    use_stripe(acme)
    shop = market(acme)
    # The basic package at 5.000 KWD is fine for Stripe (the last digit is 0)...
    order_id = shop.place()
    shop.checkout(order_id)
    assert stripe_emulator.calls("POST", "/v1/payment_intents")[0].params["amount"] == "5000"
    # ...a gig at 12.345 KWD is not: Stripe takes dinars in steps of 0.010.
    odd_gig = make_gig(
        acme,
        shop.seller_id,
        title="I will write a dinar-precise copy for your shop",
        packages=[
            {
                "tier": "basic",
                "title": "Starter",
                "price_minor": 12345,
                "delivery_days": 5,
                "revisions": 1,
                "features": ["One page"],
            }
        ],
        extras=[],
    )
    with in_tenant(acme):
        order = orders.place_order(db.session.get(User, shop.buyer_id), odd_gig, "basic")
        db.session.commit()
        with pytest.raises(services.PaymentError) as exc:
            services.start_checkout(order)
        assert "multiple of 0.010 KWD" in exc.value.message
        db.session.rollback()
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Payment).where(Payment.order_id == order.id)
            )
            == 0
        )
    assert len(stripe_emulator.calls("POST", "/v1/payment_intents")) == 1
