"""A dispute's split at the payment provider, once with the sandbox and once against the Stripe
emulation (the real ``stripe`` library, signed webhooks): the refunded part goes back to the
buyer through the Refunds API (idempotent, once however often the event is delivered), the
released part reaches the seller's balance less the commission on that part only and is paid
out by a Transfer; the ledger stays balanced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.disputes import services as disputes
from app.ledger import services as ledger
from app.orders.models import Order
from app.payments import tasks as payment_tasks
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.disputes.conftest import user
from tests.orders.test_done_when import COMMISSION_BPS, PRICE, provider  # noqa: F401, F811  (fixture)
from tests.payments.conftest import login, stripe_emulator  # noqa: F401  (fixture)

REFUND = PRICE * 60 // 100  # 30.00 back to the buyer
RELEASE = PRICE - REFUND  # 20.00 to the seller
FEE = (RELEASE * COMMISSION_BPS * 2 + 10_000) // 20_000  # 12.5 % of the released part only
NET = RELEASE - FEE


def test_a_split_decision_refunds_and_releases_at_the_provider(
    provider,  # noqa: F811  (the fixture)
    acme,
    market,
    api_token,
    tenant_client,
    in_tenant,
    app,
):
    m = market(acme)
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)
    buyer_web = login(tenant_client("acme"), m.buyer_email)
    seller_web = login(tenant_client("acme"), m.seller_email)
    body = {"gig_id": m.gig_id, "tier": "basic", "total_minor": PRICE, "currency": "USD"}
    placed = buyer.post("/api/v1/orders", json=body, headers={**bh, "Idempotency-Key": "dispute-split"})
    assert placed.status_code == 201, placed.json
    order_id = placed.json["id"]
    provider.pay(buyer_web, placed.json["checkout_url"])
    reqs = buyer.post(f"/api/v1/orders/{order_id}/requirements", json={"requirements": "A fox"}, headers=bh)
    assert reqs.status_code == 200, reqs.json
    delivered = seller.post(f"/api/v1/orders/{order_id}/deliveries", json={"message": "Done"}, headers=sh)
    assert delivered.status_code == 201, delivered.json

    with in_tenant(acme):
        d = disputes.open_dispute(user(m.buyer_id), order_id, "quality", "Half of it is missing.")
        disputes.escalate(user(m.seller_id), d.id)
        db.session.commit()
        dispute_id = d.id
    # Locked: the buyer cannot complete, the seller cannot be paid from it.
    refused = buyer.post(f"/api/v1/orders/{order_id}/complete", json={}, headers=bh)
    assert refused.status_code == 409 and refused.json["errors"]["code"] == "disputed"
    provider.settle()

    with in_tenant(acme):
        disputes.hand_to_decision(user(m.admin_id), dispute_id)
        disputes.decide(user(m.admin_id), dispute_id, REFUND, RELEASE, "Part of the work was delivered.")
        db.session.commit()
    provider.settle()  # order.refunded -> the provider refunds the buyer's part
    provider.settle()  # a redelivery refunds nothing twice

    with in_tenant(acme):
        order = db.session.get(Order, order_id)
        assert order.status == "completed" and ledger.escrow_balance(order_id, "USD") == 0
        assert ledger.seller_balances(m.seller_id, "USD")["pending"] == NET
        assert ledger.verify().ok
        clearance_days = db.session.get(MarketplaceSettings, 1).clearance_days
    if provider.name == "stripe":
        refunds = provider.emulator.of_type(provider.keys.secret_key, "re_")
        assert [(r["amount"], r["payment_intent"]) for r in refunds] == [(REFUND, provider.intents[0])]
        calls = provider.emulator.calls("POST", "/v1/refunds")
        assert len({c.idempotency_key for c in calls}) == 1

    # The released part clears and is paid out (a Transfer with Stripe).
    with app.app_context():
        payment_tasks.payments_tick(datetime.now(UTC) + timedelta(days=clearance_days, hours=1))
    provider.run_jobs()
    provider.set_up_payouts(seller_web, m.seller_id)
    payout = seller.post(
        "/api/v1/payouts", json={"amount_minor": NET}, headers={**sh, "Idempotency-Key": "po-d"}
    )
    assert payout.status_code == 201, payout.json
    provider.settle()
    assert [p["status"] for p in seller.get("/api/v1/payouts", headers=sh).json] == ["sent"]
    if provider.name == "stripe":
        transfers = provider.emulator.of_type(provider.keys.secret_key, "tr_")
        assert [t["amount"] for t in transfers] == [NET]
    history = buyer.get("/api/v1/transactions", headers=bh).json
    assert sorted((t["kind"], t["amount_minor"]) for t in history) == [
        ("payment", -PRICE),
        ("refund", REFUND),
    ]
