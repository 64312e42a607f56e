"""The console's payouts area: payouts (filters, retry), payout accounts (KYC; the sandbox's
simulated check) and holds, on the web and through the API; audited, admins only, and blind to
another marketplace's sellers and payouts."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.ledger import services as ledger
from app.payments import backoffice
from app.payments import services as payments
from app.payments.models import Payout, PayoutHold
from tenants.db import db
from tests.console.conftest import BASIC, admin_web, audit_rows, bearer, drive, form_tokens
from tests.payments.conftest import verify_identity

NET = BASIC - BASIC // 10  # 10 % commission


def _earning_seller(s, in_tenant, tenant, *, verified=True):
    """The shop's seller with a completed order's earnings cleared (available)."""
    from datetime import UTC, datetime, timedelta

    with in_tenant(tenant):
        drive(s, "completed")
        payments.clear_due_earnings(datetime.now(UTC) + timedelta(days=365))
        db.session.commit()
    if verified:
        verify_identity(in_tenant, tenant, s.seller_id)


def _failed_payout(in_tenant, tenant, seller_id, amount=1000) -> int:
    with in_tenant(tenant):
        payout = payments.request_payout(db.session.get(User, seller_id), amount)
        payout.status = "pending"  # the provider refused the transfer afterwards
        payments._reverse_payout(payout, "failed", "The bank refused the transfer.")
        db.session.commit()
        return payout.id


def test_console_payout_pages_render_for_admins_at_every_step(shop, tenant_client, acme, in_tenant):
    s = shop(acme)
    _earning_seller(s, in_tenant, acme)
    failed_id = _failed_payout(in_tenant, acme, s.seller_id)
    web = admin_web(tenant_client, acme)
    page = web.get("/console/payouts")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f'data-testid="retry-{failed_id}"' in html
    assert "The bank refused the transfer." in html
    assert web.get("/console/payouts?status=failed&q=seller@acme.test&from=2020-01-01").status_code == 200
    accounts = web.get("/console/payout-accounts").get_data(as_text=True)
    assert "TEST MODE" in accounts and "simulates identity verification" in accounts
    assert f'data-testid="kyc-{s.seller_id}">Verified' in accounts
    account = web.get(f"/console/payout-accounts/{s.seller_id}")
    assert account.status_code == 200 and 'data-testid="hold-form"' in account.get_data(as_text=True)
    assert web.get("/console/payout-holds").status_code == 200
    nav = web.get("/console/").get_data(as_text=True)
    assert "/console/payouts" in nav and "/console/payout-accounts" in nav and "/console/payout-holds" in nav


def test_bad_filters_are_shown_on_the_form_not_a_500(shop, tenant_client, acme):
    shop(acme)
    web = admin_web(tenant_client, acme)
    for url in (
        "/console/payouts?status=lost",
        "/console/payouts?from=yesterday",
        "/console/payouts?from=2026-02-30",
        "/console/payouts?from=2026-03-02&to=2026-03-01",
        "/console/payout-accounts?kyc=maybe",
        "/console/payout-accounts?held=perhaps",
        f"/console/payout-accounts?q={'x' * 300}",
    ):
        response = web.get(url)
        assert response.status_code == 422, url
        assert "Fix the filters" in response.get_data(as_text=True)
    assert web.get("/console/payout-accounts/999999").status_code == 404
    assert web.get("/console/payouts?page=999999999").status_code == 200


def test_moderators_sellers_and_strangers_are_refused(shop, tenant_client, web_as, api_as, acme):
    s = shop(acme)
    for email in (s.moderator_email, s.seller_email, s.buyer_email):
        web = web_as(acme, email)
        for url in (
            "/console/payouts",
            "/console/payout-accounts",
            f"/console/payout-accounts/{s.seller_id}",
        ):
            assert web.get(url).status_code == 403, (email, url)
        refused = web.post(
            f"/console/payout-accounts/{s.seller_id}/hold",
            data={"reason": "x"},
        )
        assert refused.status_code in (400, 403)
        client, headers = api_as(acme, email)
        assert client.get("/api/v1/console/payouts", headers=headers).status_code == 403
        assert (
            client.post(
                "/api/v1/console/holds", json={"user_id": s.seller_id, "reason": "Fraud"}, headers=headers
            ).status_code
            == 403
        )
    assert tenant_client("acme").get("/api/v1/console/payout-accounts").status_code == 401
    anonymous = tenant_client("acme").get("/console/payouts")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_operator_verifies_a_pending_seller_in_the_console_and_it_is_audited(
    shop, tenant_client, acme, in_tenant
):
    s = shop(acme)
    with in_tenant(acme):
        backoffice.start_sandbox_verification(db.session.get(User, s.seller_id))
        db.session.commit()
    web = admin_web(tenant_client, acme)
    url = f"/console/payout-accounts/{s.seller_id}"
    listing = web.get("/console/payout-accounts?kyc=pending").get_data(as_text=True)
    assert f'data-testid="kyc-{s.seller_id}">Pending' in listing and "Review" in listing
    # A rejection needs a note: the form says so, nothing changes.
    refused = web.post(f"{url}/kyc", data={**form_tokens(web, url), "status": "rejected", "note": ""})
    assert refused.status_code == 422 and "Enter a note" in refused.get_data(as_text=True)
    done = web.post(f"{url}/kyc", data={**form_tokens(web, url), "status": "verified", "note": ""})
    assert done.status_code == 303
    assert 'data-testid="kyc-status">Verified' in web.get(url).get_data(as_text=True)
    with in_tenant(acme):
        assert [r for r in audit_rows() if r[0].startswith("payout")] == [
            ("payout_account.kyc", "user", str(s.seller_id), s.admin_id, "web")
        ]


def test_hold_and_release_from_the_account_page_refuse_and_allow_payouts(
    shop, tenant_client, web_as, acme, in_tenant
):
    s = shop(acme)
    _earning_seller(s, in_tenant, acme)
    web = admin_web(tenant_client, acme)
    url = f"/console/payout-accounts/{s.seller_id}"
    empty = web.post(f"{url}/hold", data={**form_tokens(web, url), "reason": "  "})
    assert empty.status_code == 422 and "Enter a reason" in empty.get_data(as_text=True)
    held = web.post(f"{url}/hold", data={**form_tokens(web, url), "reason": "Three chargebacks."})
    assert held.status_code == 303
    page = web.get(url).get_data(as_text=True)
    assert 'data-testid="active-hold"' in page and "Three chargebacks." in page
    twice = web.post(f"{url}/hold", data={**form_tokens(web, url), "reason": "Again"})
    assert twice.status_code == 409 and "already on hold" in twice.get_data(as_text=True)
    assert "Three chargebacks." in web.get("/console/payout-holds").get_data(as_text=True)
    accounts = web.get("/console/payout-accounts").get_data(as_text=True)
    assert "Scheduled payouts skip" in accounts and "1 held" in accounts
    # The seller's payout is refused, with "contact support" and no reason.
    seller = web_as(acme, s.seller_email)
    tokens = form_tokens(seller, "/account/earnings")
    refused = seller.post("/account/earnings/payouts", data={"confirm": "yes", **tokens, "amount": "10"})
    assert refused.status_code == 422 and "on hold" in refused.get_data(as_text=True)
    assert "Three chargebacks." not in refused.get_data(as_text=True)
    released = web.post(f"{url}/release", data={**form_tokens(web, url), "note": "Cleared with the bank."})
    assert released.status_code == 303
    tokens = form_tokens(seller, "/account/earnings")
    assert (
        seller.post(
            "/account/earnings/payouts", data={"confirm": "yes", **tokens, "amount": "10"}
        ).status_code
        == 302
    )
    with in_tenant(acme):
        rows = [r for r in audit_rows() if r[0].startswith("payout.")]
        assert rows == [
            ("payout.hold", "user", str(s.seller_id), s.admin_id, "web"),
            ("payout.hold_release", "user", str(s.seller_id), s.admin_id, "web"),
        ]
        assert ledger.verify().ok


def test_retry_from_the_console_pays_once_even_when_double_clicked(shop, tenant_client, acme, in_tenant):
    s = shop(acme)
    _earning_seller(s, in_tenant, acme)
    failed_id = _failed_payout(in_tenant, acme, s.seller_id, NET)
    web = admin_web(tenant_client, acme)
    tokens = form_tokens(web, "/console/payouts")
    first = web.post(f"/console/payouts/{failed_id}/retry", data=tokens)
    assert first.status_code == 303
    replay = web.post(f"/console/payouts/{failed_id}/retry", data=tokens)  # the same form again
    assert replay.status_code == 303
    again = web.post(f"/console/payouts/{failed_id}/retry", data=form_tokens(web, "/console/payouts"))
    assert again.status_code == 409 and "already retried" in again.get_data(as_text=True)
    with in_tenant(acme):
        payouts = db.session.execute(sa.select(Payout.status, Payout.retry_of_id).order_by(Payout.id)).all()
        assert payouts == [("failed", None), ("sent", failed_id)]
        assert ledger.seller_balances(s.seller_id, "USD")["available"] == 0
        assert ledger.verify().ok
        assert [r[0] for r in audit_rows() if r[0] == "payout.retry"] == ["payout.retry"]


def test_console_api_lists_retries_decides_and_holds_with_4xx_for_bad_input(
    shop, tenant_client, acme, in_tenant
):
    s = shop(acme)
    _earning_seller(s, in_tenant, acme)
    failed_id = _failed_payout(in_tenant, acme, s.seller_id)
    client, h = bearer(tenant_client, acme)
    listed = client.get("/api/v1/console/payouts?status=failed&page_size=5", headers=h)
    assert listed.status_code == 200 and [p["id"] for p in listed.json] == [failed_id]
    assert listed.json[0]["can_retry"] is True and "X-Pagination" in listed.headers
    retried = client.post(
        f"/api/v1/console/payouts/{failed_id}/retry", headers={**h, "Idempotency-Key": "r-1"}
    )
    assert retried.status_code == 201 and retried.json["retry_of_id"] == failed_id
    replay = client.post(
        f"/api/v1/console/payouts/{failed_id}/retry", headers={**h, "Idempotency-Key": "r-1"}
    )
    assert replay.status_code == 201 and replay.json == retried.json
    again = client.post(f"/api/v1/console/payouts/{failed_id}/retry", headers=h)
    assert again.status_code == 409 and again.json["errors"]["code"] == "already_retried"
    accounts = client.get("/api/v1/console/payout-accounts", headers=h)
    assert accounts.status_code == 200
    (mine,) = [a for a in accounts.json if a["user"]["id"] == s.seller_id]
    assert mine["kyc_status"] == "verified" and mine["blocked"] is None
    placed = client.post(
        "/api/v1/console/holds", json={"user_id": s.seller_id, "reason": "Fraud check"}, headers=h
    )
    assert placed.status_code == 201 and placed.json["active"] is True
    assert placed.json["seller"]["id"] == s.seller_id and placed.json["placed_by"]["id"] == s.admin_id
    blocked = client.get(f"/api/v1/console/payout-accounts/{s.seller_id}", headers=h).json
    assert blocked["blocked"] == "payouts_held" and blocked["hold"]["reason"] == "Fraud check"
    assert [x["id"] for x in client.get("/api/v1/console/holds", headers=h).json] == [placed.json["id"]]
    released = client.post(f"/api/v1/console/holds/{placed.json['id']}/release", json={}, headers=h)
    assert released.status_code == 200 and released.json["active"] is False
    # Bad input: 4xx with field errors, never a 500, nothing changed.
    bad = [
        ("GET", "/api/v1/console/payouts?status=lost", None, 422),
        ("GET", "/api/v1/console/payouts?from=2026-13-01", None, 422),
        ("GET", "/api/v1/console/payout-accounts?kyc=maybe", None, 422),
        ("GET", "/api/v1/console/payout-accounts?held=2", None, 422),
        ("GET", "/api/v1/console/holds?state=gone", None, 422),
        ("POST", "/api/v1/console/holds", {"user_id": s.seller_id, "reason": ""}, 422),
        ("POST", "/api/v1/console/holds", {"user_id": s.seller_id}, 422),
        ("POST", "/api/v1/console/holds", {"user_id": "12", "reason": "x"}, 422),
        ("POST", "/api/v1/console/holds", {"user_id": 2**40, "reason": "x"}, 422),
        ("POST", "/api/v1/console/holds", {"user_id": 999_999, "reason": "x"}, 404),
        ("POST", "/api/v1/console/holds", {"user_id": s.buyer_id, "reason": "x"}, 409),
        ("POST", f"/api/v1/console/holds/{placed.json['id']}/release", {}, 409),
        ("POST", "/api/v1/console/holds/999999/release", {}, 404),
        ("POST", "/api/v1/console/payouts/999999/retry", None, 404),
        ("POST", f"/api/v1/console/payout-accounts/{s.seller_id}/kyc", {"status": "maybe"}, 422),
        ("POST", f"/api/v1/console/payout-accounts/{s.seller_id}/kyc", {}, 422),
        ("POST", f"/api/v1/console/payout-accounts/{s.seller_id}/kyc", {"status": "verified"}, 409),
        ("POST", f"/api/v1/console/payout-accounts/{s.buyer_id}/kyc", {"status": "verified"}, 409),
        ("GET", "/api/v1/console/payout-accounts/999999", None, 404),
    ]
    with in_tenant(acme):
        holds_before = db.session.scalar(sa.select(sa.func.count()).select_from(PayoutHold))
    for method, url, body, status in bad:
        response = client.open(url, method=method, json=body, headers=h)
        assert response.status_code == status, (
            url,
            body,
            response.status_code,
            response.get_data(as_text=True),
        )
        assert response.json.get("message") or response.json.get("errors"), (url, response.json)
    empty_reason = client.post(
        "/api/v1/console/holds", json={"user_id": s.seller_id, "reason": " "}, headers=h
    )
    assert "reason" in empty_reason.json["errors"]["json"]
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PayoutHold)) == holds_before
        actions = [r[0] for r in audit_rows() if r[0].startswith("payout")]
        assert actions == ["payout.retry", "payout.hold", "payout.hold_release"]
        assert all(r[4] == "api" for r in audit_rows() if r[0].startswith("payout"))


def test_an_operator_of_acme_cannot_see_or_hold_globex_sellers_or_payouts(
    shop, tenant_client, acme, globex, in_tenant
):
    a, g = shop(acme), shop(globex)
    _earning_seller(g, in_tenant, globex)
    globex_failed = _failed_payout(in_tenant, globex, g.seller_id)
    client, h = bearer(tenant_client, acme)
    web = admin_web(tenant_client, acme)
    # Globex's seller id in acme names acme's own user with that id (or nobody): never globex's.
    listing = client.get("/api/v1/console/payouts", headers=h).json
    assert all(p["seller"] is None or p["seller"]["email"].endswith("@acme.test") for p in listing)
    assert globex_failed not in [p["id"] for p in listing] or a.seller_id == g.seller_id
    accounts = client.get("/api/v1/console/payout-accounts", headers=h).json
    assert g.seller_email not in {x["user"]["email"] for x in accounts}
    assert "globex" not in web.get("/console/payout-accounts").get_data(as_text=True).lower()
    response = client.post(
        "/api/v1/console/holds", json={"user_id": g.seller_id, "reason": "Cross-tenant"}, headers=h
    )
    if response.status_code == 201:  # the same id is acme's own seller: held there, not on globex
        assert response.json["seller"]["email"].endswith("@acme.test")
    else:
        assert response.status_code in (404, 409)
    with in_tenant(globex):
        assert payments.active_hold(g.seller_id) is None
        assert db.session.get(Payout, globex_failed).status == "failed"
    retried = client.post(f"/api/v1/console/payouts/{globex_failed}/retry", headers=h)
    assert retried.status_code in (404, 409)
    with in_tenant(globex):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == 1
