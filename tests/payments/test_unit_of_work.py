"""One unit of work per request, seen from payments: a refusal the central handler answers
with a redirect keeps nothing; a declined card is kept although the answer is 402; a
Stripe event its handler refuses stays recorded without its effects."""

from __future__ import annotations

import sqlalchemy as sa

from app.payments import services, webhooks
from app.payments.models import Payment, ProcessedWebhook
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.payments.conftest import form_tokens
from tests.payments.stripe_emulator import event
from tests.payments.test_stripe import deliver

AUTHENTICATE = "4000 0025 0000 3155"
DECLINED = "4000 0000 0000 0002"
CARD = {"expiry": "12/40", "cvc": "123"}


def payment_row(in_tenant, tenant, payment_id):
    with in_tenant(tenant):
        payment = db.session.get(Payment, payment_id)
        return payment.status, payment.failure_reason, payment.attempts


def test_web_refusal_sent_back_with_a_redirect_keeps_what_the_service_flushed_out(
    market, acme, in_tenant, monkeypatch
):
    m = market(acme)
    url = m.checkout(m.place())
    payment_id = int(url.rsplit("/", 1)[-1])
    client = m.client(m.buyer_email)
    step = client.post(url, data={**form_tokens(client, url), "card_number": AUTHENTICATE, **CARD})
    step_url = step.headers["Location"]
    before = payment_row(in_tenant, acme, payment_id)
    assert before[0] == "requires_action"

    def flush_then_refuse(buyer, payment_id, approve):
        db.session.get(Payment, payment_id).failure_reason = "half done"
        db.session.flush()
        raise services.PaymentError(409, "This payment is not waiting for authentication.")

    monkeypatch.setattr(services, "sandbox_authenticate", flush_then_refuse)
    tokens = form_tokens(client, step_url)
    referer = f"http://{client.host}{step_url}"
    response = client.post(step_url, data={**tokens, "approve": "1"}, headers={"Referer": referer})
    # The central handler flashes the message and sends the browser back: a 303 that must not
    # commit the refused work.
    assert response.status_code == 303 and response.headers["Location"] == referer
    assert payment_row(in_tenant, acme, payment_id) == before


def test_declined_card_is_kept_although_the_answer_is_an_error(market, acme, in_tenant):
    m = market(acme)
    url = m.checkout(m.place())
    payment_id = int(url.rsplit("/", 1)[-1])
    client = m.client(m.buyer_email)
    tokens = {"csrf_token": form_tokens(client, url)["csrf_token"]}  # no idempotency key
    response = client.post(url, data={**tokens, "card_number": DECLINED, **CARD})
    assert response.status_code == 402
    assert payment_row(in_tenant, acme, payment_id) == ("failed", services.DECLINED_MESSAGE, 1)

    keyed = form_tokens(client, url)
    first = client.post(url, data={**keyed, "card_number": DECLINED, **CARD})
    again = client.post(url, data={**keyed, "card_number": DECLINED, **CARD})
    assert first.status_code == again.status_code == 402
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert payment_row(in_tenant, acme, payment_id) == ("failed", services.DECLINED_MESSAGE, 2)


def _half_done_then(status: int, message: str):
    """An ``account.updated`` handler that changes a setting, flushes, then fails with ``status``."""

    def handler(account):
        db.session.get(MarketplaceSettings, 1).stripe_publishable_key = "pk_test_halfDone"
        db.session.flush()
        raise services.PaymentError(status, message)

    return handler


def test_stripe_event_refused_by_its_handler_is_recorded_without_its_effects(
    use_stripe, tenant_client, acme, in_tenant, monkeypatch
):
    keys = use_stripe(acme)
    refuse = _half_done_then(409, "This account cannot be updated.")
    monkeypatch.setitem(webhooks._STRIPE_HANDLERS, "account.updated", refuse)
    evt = event("account.updated", {"id": "acct_refused", "object": "account"})
    refused = deliver(tenant_client, "acme", evt, keys.webhook_secret)
    assert refused.status_code == 409 and refused.json["outcome"] == "refused"
    with in_tenant(acme):
        assert db.session.get(MarketplaceSettings, 1).stripe_publishable_key == keys.publishable_key
        recorded = db.session.scalars(sa.select(ProcessedWebhook.event_id)).all()
        assert recorded == [evt["id"]]
    # Stripe's retry of an event that can never apply is a no-op, not three days of failures.
    again = deliver(tenant_client, "acme", evt, keys.webhook_secret)
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"


def test_stripe_event_failing_with_an_outage_is_not_recorded(
    use_stripe, tenant_client, acme, in_tenant, monkeypatch
):
    keys = use_stripe(acme)
    unavailable = _half_done_then(503, "The payment provider is unreachable.")
    monkeypatch.setitem(webhooks._STRIPE_HANDLERS, "account.updated", unavailable)
    evt = event("account.updated", {"id": "acct_later", "object": "account"})
    assert deliver(tenant_client, "acme", evt, keys.webhook_secret).status_code == 503
    with in_tenant(acme):
        assert db.session.get(MarketplaceSettings, 1).stripe_publishable_key == keys.publishable_key
        assert db.session.scalars(sa.select(ProcessedWebhook)).all() == []
