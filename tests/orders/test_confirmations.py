"""Actions that move money or cannot be undone need a confirmation: a form sent without
``confirm=yes`` does nothing and answers with a page that asks (the dialog of confirm.js
adds the field when JavaScript runs)."""

from __future__ import annotations

import re

from app.orders.models import Order
from tenants.db import db

from .conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _status(in_tenant, tenant, order_id):
    with in_tenant(tenant):
        return db.session.get(Order, order_id).status


def _confirm_page_fields(html: str) -> dict:
    form = html.split('data-testid="confirm-page"', 1)[1]
    return dict(HIDDEN.findall(form))


def test_complete_without_confirmation_asks_and_changes_nothing(
    acme, order_in, tenant_client, web, in_tenant
):
    m, oid = order_in(acme, "delivered")
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    page = buyer.get(f"/orders/{oid}").get_data(as_text=True)
    form = page.split('data-testid="complete-form"', 1)[1]
    assert "data-confirm=" in form.split(">", 1)[0]  # the dialog's text is on the form
    csrf, key = CSRF.search(page).group(1), KEY.search(form).group(1)

    asked = buyer.post(f"/orders/{oid}/complete", data={"csrf_token": csrf, "idempotency_key": key})
    assert asked.status_code == 200
    html = asked.get_data(as_text=True)
    assert 'data-testid="confirm-page"' in html and "released to the seller" in html
    assert _status(in_tenant, acme, oid) == "delivered"

    # The page's button sends the same form (same key) with confirm=yes.
    fields = _confirm_page_fields(html)
    assert fields["confirm"] == "yes" and fields["idempotency_key"] == key
    done = buyer.post(f"/orders/{oid}/complete", data=fields)
    assert done.status_code == 303
    assert _status(in_tenant, acme, oid) == "completed"


def test_a_forged_unconfirmed_form_is_refused_not_asked(acme, order_in, tenant_client, web, in_tenant):
    m, oid = order_in(acme, "delivered")
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    assert buyer.post(f"/orders/{oid}/complete", data={}).status_code == 400
    assert _status(in_tenant, acme, oid) == "delivered"


def test_accepting_a_cancellation_asks_first_but_declining_does_not(
    acme, order_in, tenant_client, web, in_tenant
):
    from app.accounts.models import User
    from app.orders import services

    m, oid = order_in(acme, "in_progress")
    with in_tenant(acme):
        services.request_cancellation(db.session.get(User, m.seller_id), oid, "Cannot do it")
        db.session.commit()
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    page = buyer.get(f"/orders/{oid}").get_data(as_text=True)
    csrf = CSRF.search(page).group(1)
    key = KEY.search(page.split('data-testid="respond-form"', 1)[1]).group(1)
    asked = buyer.post(
        f"/orders/{oid}/cancellation/respond",
        data={"csrf_token": csrf, "idempotency_key": key, "accept": "yes"},
    )
    assert asked.status_code == 200 and 'data-testid="confirm-page"' in asked.get_data(as_text=True)
    assert _status(in_tenant, acme, oid) == "in_progress"
    fields = _confirm_page_fields(asked.get_data(as_text=True))
    assert fields["accept"] == "yes"
    assert buyer.post(f"/orders/{oid}/cancellation/respond", data=fields).status_code == 303
    assert _status(in_tenant, acme, oid) == "cancelled"


def test_declining_a_cancellation_needs_no_confirmation(acme, order_in, tenant_client, web, in_tenant):
    from app.accounts.models import User
    from app.orders import services

    m, oid = order_in(acme, "in_progress")
    with in_tenant(acme):
        services.request_cancellation(db.session.get(User, m.seller_id), oid, "Cannot do it")
        db.session.commit()
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    csrf = CSRF.search(buyer.get(f"/orders/{oid}").get_data(as_text=True)).group(1)
    declined = buyer.post(f"/orders/{oid}/cancellation/respond", data={"csrf_token": csrf, "accept": "no"})
    assert declined.status_code == 303
    assert _status(in_tenant, acme, oid) == "in_progress"
