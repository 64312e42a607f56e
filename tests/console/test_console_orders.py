"""Console orders over HTTP: every order listed, filtered and searched; an order with its ledger
entries and provider records; cancel with a full or partial refund (web form and API), idempotent,
audited; every refusal leaves the order, the ledger and the audit log as they were; moderators
read but never refund; an operator of acme never reaches globex's orders, even with equal ids."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa

from app.ledger import services as ledger
from app.ledger.models import LedgerTransaction
from app.orders.models import Order
from app.payments.models import Refund
from tenants.db import db
from tests.console.conftest import (
    ADMIN_PASSWORD,
    BASIC,
    STANDARD,
    audit_rows,
    drive,
    form_tokens,
    order_state,
)


def _orders(in_tenant, tenant, s, *states, tier="basic"):
    with in_tenant(tenant):
        return [drive(s, state, tier=tier) for state in states]


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="order-row" data-order-id="(\d+)"', html)]


# --------------------------------------------------------------------------- list and detail


def test_admin_lists_every_order_and_filters_by_status_search_and_days(acme, shop, in_tenant, web_as):
    s = shop(acme)
    paid, done, unpaid = _orders(in_tenant, acme, s, "in_progress", "completed", "awaiting_payment")
    with in_tenant(acme):
        other = drive(s, "awaiting_requirements", buyer_id=s.buyer2_id)
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)

    page = admin.get("/console/orders")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _ids(html) == [other, unpaid, done, paid]  # newest first
    assert "buyer2@acme.test" in html and "seller@acme.test" in html

    assert _ids(admin.get("/console/orders?status=completed").get_data(as_text=True)) == [done]
    assert _ids(admin.get("/console/orders?q=buyer2%40acme").get_data(as_text=True)) == [other]
    assert _ids(admin.get(f"/console/orders?q=%23{paid}").get_data(as_text=True)) == [paid]
    assert set(_ids(admin.get("/console/orders?q=acme+logo").get_data(as_text=True))) == {
        paid,
        done,
        unpaid,
        other,
    }  # the gig's title
    assert _ids(admin.get("/console/orders?q=nobody-like-this").get_data(as_text=True)) == []
    with in_tenant(acme):
        db.session.execute(
            sa.update(Order).where(Order.id == paid).values(created_at=sa.text("now() - interval '20 days'"))
        )
        db.session.commit()
    recent = admin.get("/console/orders?from=2000-01-01&to=" + _days_ago(10)).get_data(as_text=True)
    assert _ids(recent) == [paid]


def _days_ago(days: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()


def test_bad_filters_are_refused_on_the_form(acme, shop, web_as, in_tenant):
    s = shop(acme)
    _orders(in_tenant, acme, s, "in_progress")
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    for query, message in (
        ("status=lost", "Unknown status"),
        ("from=2024-13-01", "not a real date"),
        ("from=yesterday", "must be a date like"),
        ("from=2024-05-02&to=2024-05-01", "on or after the first day"),
        ("q=" + "x" * 201, "at most 200 characters"),
    ):
        response = admin.get(f"/console/orders?{query}")
        assert response.status_code == 422, query
        html = response.get_data(as_text=True)
        assert message in html, (query, html[:2000])
        assert 'data-testid="order-row"' not in html


def test_order_page_shows_parties_money_ledger_entries_and_provider_records(acme, shop, in_tenant, web_as):
    s = shop(acme)
    (oid,) = _orders(in_tenant, acme, s, "completed", tier="standard")
    moderator = web_as(acme, s.moderator_email)
    response = moderator.get(f"/console/orders/{oid}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "buyer@acme.test" in html and "seller@acme.test" in html
    assert 'data-testid="money-total">$120.00' in html
    assert 'data-testid="money-fee">$12.00' in html  # 10 % commission
    # the ledger: the payment (clearing -> escrow) and the release (escrow -> seller + commission)
    entry = 'data-testid="ledger-entry" data-kind='
    assert html.count(entry + '"payment"') == 2 and html.count(entry + '"release"') == 3
    for code in (
        "provider:clearing",
        f"escrow:order:{oid}",
        f"seller:{s.seller_id}:pending",
        "platform:commission",
    ):
        assert code in html
    assert "$108.00" in html  # the seller's net credit
    assert 'data-testid="provider-record" data-kind="payment"' in html
    # a moderator reads but cannot refund: no form, a note instead
    assert 'data-testid="cancel-form"' not in html

    with in_tenant(acme):
        (open_order,) = [drive(s, "in_progress")]
    html = moderator.get(f"/console/orders/{open_order}").get_data(as_text=True)
    assert 'data-testid="refund-admins-only"' in html and 'data-testid="cancel-form"' not in html
    assert moderator.get("/console/orders/999999").status_code == 404


# --------------------------------------------------------------------------- cancel and refund (web)


def test_admin_refunds_in_full_from_the_order_page_once_even_when_the_form_is_sent_twice(
    acme, shop, in_tenant, web_as, run_jobs
):
    s = shop(acme)
    (oid,) = _orders(in_tenant, acme, s, "in_progress", tier="standard")
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    page = f"/console/orders/{oid}"
    tokens = form_tokens(admin, page)
    data = {**tokens, "confirm": "yes", "reason": "Seller unreachable for a week.", "refund": ""}

    first = admin.post(f"{page}/cancel", data=data)
    assert first.status_code == 303 and first.headers["Location"].endswith(page)
    again = admin.post(f"{page}/cancel", data=data)  # a double click: the same key
    assert again.status_code == 303 and again.headers.get("Idempotent-Replayed") == "true"

    with in_tenant(acme):
        state = order_state(oid)
        assert state["status"] == "cancelled" and state["refunded"] == STANDARD and state["escrow"] == 0
        assert [kind for kind, _id in state["transactions"]] == ["payment", "refund"]
        assert ledger.verify().ok
        assert audit_rows() == [("order.refund", "order", str(oid), s.admin_id, "web")]
        from app.console.models import AuditEntry

        entry = db.session.scalars(sa.select(AuditEntry)).one()
        assert entry.changes["status"] == ["in_progress", "cancelled"]
        assert entry.changes["refunded_minor"] == [0, STANDARD]
        assert (
            entry.changes["full_refund"] is True
            and entry.changes["reason"] == "Seller unreachable for a week."
        )
        assert "full refund" in entry.summary
    run_jobs()  # order.refunded -> the sandbox gives the money back
    with in_tenant(acme):
        assert order_state(oid)["provider_refunds"] == [(STANDARD, "succeeded")]

    shown = admin.get(page).get_data(as_text=True)
    assert 'data-testid="order-status">Cancelled' in shown
    assert 'data-kind="refund"' in shown and "order.refund" in shown
    assert "Seller unreachable for a week." in shown
    assert 'data-testid="cancel-form"' not in shown


def test_partial_refund_from_the_web_releases_the_rest_to_the_seller(acme, shop, in_tenant, web_as):
    s = shop(acme)
    (oid,) = _orders(in_tenant, acme, s, "delivered")
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    response = admin.post(
        f"/console/orders/{oid}/cancel",
        data={
            **form_tokens(admin, f"/console/orders/{oid}"),
            "confirm": "yes",
            "reason": "Half was delivered.",
            "refund": "20.00",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "$20.00 goes back to the buyer" in response.get_data(as_text=True)
    with in_tenant(acme):
        state = order_state(oid)
        assert state["status"] == "cancelled" and state["refunded"] == 2000 and state["escrow"] == 0
        assert [kind for kind, _ in state["transactions"]] == ["payment", "refund", "release"]
        assert (
            ledger.seller_balances(s.seller_id, "USD")["pending"] == 3000 - 300
        )  # 10 % of what was released
        (row,) = audit_rows()
        assert row[0] == "order.refund"


def test_refusals_on_the_web_form_change_nothing(acme, shop, in_tenant, web_as):
    s = shop(acme)
    oid, done = _orders(in_tenant, acme, s, "in_progress", "completed")
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    with in_tenant(acme):
        before = order_state(oid)
    page = f"/console/orders/{oid}"
    for fields, status, message in (
        ({"reason": "", "refund": ""}, 422, "Give the reason"),
        ({"reason": "Too much", "refund": "50.01"}, 422, "larger than what is in escrow (5000)"),
        ({"reason": "Typo", "refund": "abc"}, 422, "Enter an amount like 45 or 45.50."),
        ({"reason": "Cents", "refund": "1.234"}, 422, "Use at most 2 decimals for USD."),
        ({"reason": "Negative", "refund": "-5"}, 422, "0 or more"),
        ({"reason": "x" * 5001, "refund": ""}, 422, "5000"),
    ):
        response = admin.post(f"{page}/cancel", data={**form_tokens(admin, page), "confirm": "yes", **fields})
        assert response.status_code == status, (fields, response.status_code)
        html = response.get_data(as_text=True)
        assert message in html, (fields, html[:3000])
        assert 'data-testid="cancel-form"' in html  # the form again, with the message on it
    # completed already: 409 with the order's status
    response = admin.post(
        f"/console/orders/{done}/cancel",
        data={
            **form_tokens(admin, f"/console/orders/{oid}"),
            "confirm": "yes",
            "reason": "Late",
            "refund": "",
        },
    )
    assert response.status_code == 409
    assert f"Order #{done} is completed: you cannot cancel it now." in response.get_data(as_text=True)
    # unknown order, no CSRF token
    assert (
        admin.post(
            "/console/orders/424242/cancel",
            data={**form_tokens(admin, page), "confirm": "yes", "reason": "x"},
        ).status_code
        == 404
    )
    assert admin.post(f"{page}/cancel", data={"reason": "no token"}).status_code == 400
    with in_tenant(acme):
        assert order_state(oid) == before
        assert order_state(done)["status"] == "completed"
        assert audit_rows() == []


# --------------------------------------------------------------------------- API


def test_api_lists_reads_and_refunds_partially_with_an_idempotency_key(
    acme, shop, in_tenant, api_as, run_jobs
):
    s = shop(acme)
    oid, done = _orders(in_tenant, acme, s, "in_progress", "completed")
    client, headers = api_as(acme, s.admin_email, ADMIN_PASSWORD)

    listed = client.get("/api/v1/console/orders?page_size=1", headers=headers)
    assert listed.status_code == 200
    assert [o["id"] for o in listed.json] == [done]
    assert '"total": 2' in listed.headers["X-Pagination"]
    assert listed.json[0]["buyer_email"] == "buyer@acme.test" and listed.json[0]["status"] == "completed"
    filtered = client.get("/api/v1/console/orders?status=in_progress&q=bob", headers=headers)
    assert [o["id"] for o in filtered.json] == [oid]

    detail = client.get(f"/api/v1/console/orders/{done}", headers=headers)
    assert detail.status_code == 200
    body = detail.json
    assert body["order"]["id"] == done and body["seller"]["email"] == "seller@acme.test"
    kinds = [t["kind"] for t in body["ledger_transactions"]]
    assert kinds == ["payment", "release"]
    release = body["ledger_transactions"][1]
    assert sorted(e["amount_minor"] for e in release["entries"]) == [-4500, -500, 5000]
    assert sum(e["amount_minor"] for t in body["ledger_transactions"] for e in t["entries"]) == 0
    assert body["provider_records"][0]["kind"] == "payment"

    key = {"Idempotency-Key": str(uuid.uuid4())}
    payload = {"reason": "Agreed split", "refund_minor": 2000}
    refunded = client.post(f"/api/v1/console/orders/{oid}/cancel", json=payload, headers={**headers, **key})
    assert refunded.status_code == 200, refunded.json
    assert refunded.json["order"]["status"] == "cancelled"
    assert refunded.json["order"]["money"]["refunded_minor"] == 2000
    assert [t["kind"] for t in refunded.json["ledger_transactions"]] == ["payment", "refund", "release"]
    assert refunded.json["audit"][0]["action"] == "order.refund" and refunded.json["audit"][0]["via"] == "api"
    replay = client.post(f"/api/v1/console/orders/{oid}/cancel", json=payload, headers={**headers, **key})
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    other_body = client.post(
        f"/api/v1/console/orders/{oid}/cancel",
        json={**payload, "refund_minor": 1},
        headers={**headers, **key},
    )
    assert other_body.status_code == 422
    run_jobs()
    with in_tenant(acme):
        state = order_state(oid)
        assert state["refunded"] == 2000 and state["provider_refunds"] == [(2000, "succeeded")]
        assert audit_rows() == [("order.refund", "order", str(oid), s.admin_id, "api")]
        assert ledger.verify().ok


def test_api_refusals_are_json_and_change_nothing(acme, shop, in_tenant, api_as):
    s = shop(acme)
    oid, done, unpaid = _orders(in_tenant, acme, s, "in_progress", "completed", "awaiting_payment")
    client, headers = api_as(acme, s.admin_email, ADMIN_PASSWORD)
    with in_tenant(acme):
        before = order_state(oid)
    url = f"/api/v1/console/orders/{oid}/cancel"
    for payload, field in (
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "x", "refund_minor": "10"}, "refund_minor"),
        ({"reason": "x", "refund_minor": 10.5}, "refund_minor"),
        ({"reason": "x", "refund_minor": -1}, "refund_minor"),
        ({"reason": "x", "refund_minor": BASIC + 1}, "refund_minor"),
    ):
        response = client.post(url, json=payload, headers=headers)
        assert response.status_code == 422, (payload, response.json)
        assert field in response.json["errors"]["json"], (payload, response.json)
    conflict = client.post(f"/api/v1/console/orders/{done}/cancel", json={"reason": "x"}, headers=headers)
    assert conflict.status_code == 409 and conflict.json["errors"]["current_status"] == "completed"
    assert (
        client.post("/api/v1/console/orders/777/cancel", json={"reason": "x"}, headers=headers).status_code
        == 404
    )
    assert client.get("/api/v1/console/orders/777", headers=headers).status_code == 404
    bad_list = client.get("/api/v1/console/orders?status=lost&from=2024-02-30", headers=headers)
    assert bad_list.status_code == 422 and {"status", "from"} <= set(bad_list.json["errors"]["query"])
    reversed_days = client.get("/api/v1/console/orders?from=2024-05-02&to=2024-05-01", headers=headers)
    assert reversed_days.status_code == 422 and "to" in reversed_days.json["errors"]["query"]
    with in_tenant(acme):
        assert order_state(oid) == before
        assert audit_rows() == []
    # an unpaid order is cancelled without money moving: audited as a cancel, not a refund
    response = client.post(
        f"/api/v1/console/orders/{unpaid}/cancel", json={"reason": "Spam order"}, headers=headers
    )
    assert response.status_code == 200
    with in_tenant(acme):
        assert audit_rows() == [("order.cancel", "order", str(unpaid), s.admin_id, "api")]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0


def test_moderators_read_orders_but_never_refund(acme, shop, in_tenant, web_as, api_as):
    s = shop(acme)
    (oid,) = _orders(in_tenant, acme, s, "in_progress")
    with in_tenant(acme):
        before = order_state(oid)
    moderator = web_as(acme, s.moderator_email)
    assert moderator.get("/console/orders").status_code == 200
    tokens = form_tokens(moderator, f"/console/orders/{oid}")
    refused = moderator.post(f"/console/orders/{oid}/cancel", data={**tokens, "reason": "I may not"})
    assert refused.status_code == 403
    client, headers = api_as(acme, s.moderator_email)
    assert client.get(f"/api/v1/console/orders/{oid}", headers=headers).status_code == 200
    api_refused = client.post(
        f"/api/v1/console/orders/{oid}/cancel", json={"reason": "I may not"}, headers=headers
    )
    assert api_refused.status_code == 403
    with in_tenant(acme):
        assert order_state(oid) == before and audit_rows() == []


# --------------------------------------------------------------------------- tenants never meet


def test_an_operator_of_acme_never_sees_or_touches_globex_orders_even_with_equal_ids(
    acme, globex, shop, in_tenant, web_as, api_as, tenant_client
):
    a, g = shop(acme), shop(globex)
    (acme_order,) = _orders(in_tenant, acme, a, "in_progress")
    (globex_order,) = _orders(in_tenant, globex, g, "in_progress", tier="standard")
    assert acme_order == globex_order  # equal ids in two schemas
    with in_tenant(globex):
        globex_before = order_state(globex_order)

    admin = web_as(acme, a.admin_email, ADMIN_PASSWORD)
    html = admin.get(f"/console/orders/{acme_order}").get_data(as_text=True)
    assert "buyer@acme.test" in html and "globex" not in html.lower().replace("globex test market", "")
    listing = admin.get("/console/orders?q=globex").get_data(as_text=True)
    assert _ids(listing) == []
    response = admin.post(
        f"/console/orders/{acme_order}/cancel",
        data={
            **form_tokens(admin, f"/console/orders/{acme_order}"),
            "confirm": "yes",
            "reason": "Acme only",
            "refund": "",
        },
    )
    assert response.status_code == 303
    with in_tenant(globex):
        assert order_state(globex_order) == globex_before
        assert audit_rows() == []
    with in_tenant(acme):
        assert order_state(acme_order)["status"] == "cancelled"

    # acme's session cookie and token mean nothing on globex's host
    cookie_jar_client = tenant_client("globex")
    assert cookie_jar_client.get("/console/orders").status_code == 302
    client, headers = api_as(acme, a.admin_email, ADMIN_PASSWORD)
    on_globex = tenant_client("globex")
    assert on_globex.get(f"/api/v1/console/orders/{globex_order}", headers=headers).status_code == 401
    assert (
        on_globex.post(
            f"/api/v1/console/orders/{globex_order}/cancel", json={"reason": "cross"}, headers=headers
        ).status_code
        == 401
    )
    with in_tenant(globex):
        assert order_state(globex_order) == globex_before
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == 1


def test_cancel_and_refund_asks_for_confirmation_first(acme, shop, in_tenant, web_as):
    s = shop(acme)
    (oid,) = _orders(in_tenant, acme, s, "in_progress")
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    page = f"/console/orders/{oid}"
    html = admin.get(page).get_data(as_text=True)
    assert "data-confirm=" in html.split('data-testid="cancel-form"', 1)[1].split(">", 1)[0]
    with in_tenant(acme):
        before = order_state(oid)
    asked = admin.post(f"{page}/cancel", data={**form_tokens(admin, page), "reason": "Gone", "refund": ""})
    assert asked.status_code == 200
    assert 'data-testid="confirm-page"' in asked.get_data(as_text=True)
    with in_tenant(acme):
        assert order_state(oid) == before and audit_rows() == []
