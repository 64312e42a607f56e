"""Operator console, users: search, view, suspend, reactivate and roles, on the web and the API.

Every change is checked end to end: the row, the audit entry written with it, and the
consequences (sessions and tokens end, login refused with a clear message, gigs leave
search and come back, the user is emailed). Refusals change nothing and write no audit
entry. Tenants never meet, even with equal ids.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import ApiToken, User
from app.mail.models import EmailMessage
from tenants.db import db
from tests.console.conftest import PASSWORD, csrf_token, index_ids, login, token
from tests.helpers import race_for_a_lock

ADMIN_ID = 1  # the seeded operator admin of every tenant


@pytest.fixture
def user_state(in_tenant):
    """``user_state(tenant, id)`` -> the fields operators change, read fresh."""

    def read(tenant, user_id):
        with in_tenant(tenant):
            user = db.session.get(User, user_id)
            return {
                "status": user.status,
                "role": user.role,
                "suspended_reason": user.suspended_reason,
                "suspended_at": user.suspended_at,
            }

    return read


# --------------------------------------------------------------------------- search and view


def test_operators_search_users_by_email_name_handle_role_and_status(
    acme, make_user, in_tenant, admin_api, operator_web
):
    ada = make_user(acme, email="ada@example.com", display_name="Ada Lovelace")
    make_user(acme, email="grace@example.com", display_name="Grace Hopper")
    mod = make_user(acme, email="mod@example.com", display_name="Mo Derator", role="moderator")
    with in_tenant(acme):
        db.session.get(User, ada).handle = "countess"
        db.session.commit()
    client, headers = admin_api(acme)

    def emails(**params):
        response = client.get("/api/v1/console/users", query_string=params, headers=headers)
        assert response.status_code == 200, response.json
        return [u["email"] for u in response.json]

    assert emails(q="ADA@") == ["ada@example.com"]
    assert emails(q="hopper") == ["grace@example.com"]
    assert emails(q="countess") == ["ada@example.com"]
    assert emails(q=str(mod)) == ["mod@example.com"]
    assert emails(role="moderator") == ["mod@example.com"]
    assert set(emails(role="admin")) == {"admin@acme.test"}
    assert emails(status="suspended") == []
    assert emails(q="%") == [] and emails(q="_") == []  # LIKE wildcards are literal
    listing = client.get("/api/v1/console/users", query_string={"page_size": 2}, headers=headers)
    assert len(listing.json) == 2 and '"total": 4' in listing.headers["X-Pagination"]

    bad = client.get("/api/v1/console/users", query_string={"role": "owner"}, headers=headers)
    assert bad.status_code == 422 and "role" in bad.json["errors"]["query"]
    bad = client.get("/api/v1/console/users", query_string={"q": "x" * 101}, headers=headers)
    assert bad.status_code == 422 and "q" in bad.json["errors"]["query"]

    web = operator_web(acme)
    page = web.get("/console/users?q=lovelace").get_data(as_text=True)
    assert "ada@example.com" in page and "grace@example.com" not in page
    assert f'data-testid="user-row-{ada}"' in page
    bad_page = web.get("/console/users?status=gone")
    assert bad_page.status_code == 422 and "Unknown status" in bad_page.get_data(as_text=True)


def test_user_detail_shows_profile_gigs_orders_and_history(
    acme, make_seller, make_gig, admin_api, operator_web
):
    seller = make_seller(acme, email="sally@example.com", display_name="Sally Seller")
    make_gig(acme, seller, title="I will draw a cheerful mascot for you")
    client, headers = admin_api(acme)
    client.post(
        f"/api/v1/console/users/{seller}/suspend", json={"reason": "Spam in messages."}, headers=headers
    )
    detail = client.get(f"/api/v1/console/users/{seller}", headers=headers)
    assert detail.status_code == 200
    body = detail.json
    assert body["email"] == "sally@example.com" and body["is_seller"] and body["status"] == "suspended"
    assert body["suspended_reason"] == "Spam in messages."
    assert body["gig_count"] == 1 and body["gigs"][0]["title"] == "I will draw a cheerful mascot for you"
    assert body["orders"] == {"as_buyer": 0, "as_seller": 0, "active": 0}
    assert [a["action"] for a in body["audit"]] == ["user.suspend"]

    page = operator_web(acme).get(f"/console/users/{seller}").get_data(as_text=True)
    for expected in (
        "Sally Seller",
        "sally@example.com",
        "I will draw a cheerful mascot",
        "Spam in messages.",
    ):
        assert expected in page, expected
    assert 'data-testid="reactivate-form"' in page and 'data-testid="role-form"' in page


# --------------------------------------------------------------------------- suspend and reactivate


def test_suspending_a_seller_on_the_web_ends_their_access_hides_their_gigs_and_tells_them(
    acme,
    tenant_client,
    make_seller,
    make_gig,
    operator_web,
    user_state,
    audit_of,
    in_tenant,
    run_jobs,
    mailbox,
):
    seller = make_seller(acme, email="sally@example.com", display_name="Sally Seller")
    make_gig(acme, seller, title="I will paint a watercolor portrait")
    run_jobs()
    assert len(index_ids(in_tenant, acme, "watercolor")) == 1
    seller_web = login(tenant_client("acme"), "sally@example.com")
    seller_api = token(tenant_client("acme"), "sally@example.com")
    assert seller_web.get("/account").status_code == 200
    assert tenant_client("acme").get("/api/v1/me", headers=seller_api).status_code == 200

    admin = operator_web(acme)
    page = f"/console/users/{seller}"
    response = admin.post(
        f"{page}/suspend",
        data={
            "csrf_token": csrf_token(admin, page),
            "reason": "Asked buyers to pay outside the marketplace.",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    assert "is suspended" in admin.get(page).get_data(as_text=True)

    state = user_state(acme, seller)
    assert state["status"] == "suspended" and state["suspended_at"] is not None
    assert state["suspended_reason"] == "Asked buyers to pay outside the marketplace."
    [entry] = audit_of(acme)
    assert entry[:5] == ("user.suspend", "user", str(seller), "web", ADMIN_ID)
    assert entry[5]["status"] == ["active", "suspended"]
    assert entry[5]["suspended_reason"] == [None, "Asked buyers to pay outside the marketplace."]

    # Their session and their API tokens end at once; the login form says why.
    assert seller_web.get("/account").status_code == 302
    assert tenant_client("acme").get("/api/v1/me", headers=seller_api).status_code == 401
    with in_tenant(acme):
        live = db.session.scalar(
            sa.select(sa.func.count(ApiToken.id)).where(
                ApiToken.user_id == seller, ApiToken.revoked_at.is_(None)
            )
        )
        assert live == 0
    again = tenant_client("acme")
    refused = again.post(
        "/login",
        data={"csrf_token": csrf_token(again, "/login"), "email": "sally@example.com", "password": PASSWORD},
    )
    assert refused.status_code == 422 and "suspended" in refused.get_data(as_text=True)

    run_jobs()  # seller.updated -> search drops the gigs; the email goes out
    assert index_ids(in_tenant, acme, "watercolor") == []
    [mail] = [m for m in mailbox.messages if m["To"] == "sally@example.com"]
    assert "suspended" in mail["Subject"]
    assert "Asked buyers to pay outside the marketplace." in mailbox.text(mail)

    # Reactivation reverses it all.
    response = admin.post(f"{page}/reactivate", data={"csrf_token": csrf_token(admin, page)})
    assert response.status_code == 303
    state = user_state(acme, seller)
    assert state == {"status": "active", "role": "member", "suspended_reason": None, "suspended_at": None}
    assert [e[0] for e in audit_of(acme)] == ["user.suspend", "user.reactivate"]
    assert audit_of(acme)[1][5]["status"] == ["suspended", "active"]
    run_jobs()
    assert len(index_ids(in_tenant, acme, "watercolor")) == 1
    assert any("active again" in m["Subject"] for m in mailbox.messages if m["To"] == "sally@example.com")
    login(tenant_client("acme"), "sally@example.com")


def test_api_suspend_and_reactivate_are_audited_as_api(
    acme, make_user, admin_api, user_state, audit_of, in_tenant
):
    member = make_user(acme, email="m@example.com")
    client, headers = admin_api(acme)
    response = client.post(
        f"/api/v1/console/users/{member}/suspend", json={"reason": "  Fake reviews.  "}, headers=headers
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "suspended" and response.json["suspended_reason"] == "Fake reviews."
    response = client.post(f"/api/v1/console/users/{member}/reactivate", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "active"
    assert [(a, via) for a, _t, _i, via, _u, _c, _s in audit_of(acme)] == [
        ("user.suspend", "api"),
        ("user.reactivate", "api"),
    ]
    with in_tenant(acme):
        templates = db.session.scalars(
            sa.select(EmailMessage.template).where(EmailMessage.user_id == member).order_by(EmailMessage.id)
        ).all()
    assert templates == ["account_suspended", "notice"]


# --------------------------------------------------------------------------- roles


def test_admin_grants_moderator_and_the_moderator_can_then_moderate_members_only(
    acme, tenant_client, make_user, admin_api, user_state, audit_of
):
    mod = make_user(acme, email="mod@example.com")
    member = make_user(acme, email="member@example.com")
    client, headers = admin_api(acme)
    mod_headers = token(tenant_client("acme"), "mod@example.com")
    assert client.get("/api/v1/console/users", headers=mod_headers).status_code == 403

    response = client.put(f"/api/v1/console/users/{mod}/role", json={"role": "moderator"}, headers=headers)
    assert response.status_code == 200 and response.json["role"] == "moderator"
    assert audit_of(acme)[-1][:3] == ("user.role", "user", str(mod))
    assert audit_of(acme)[-1][5] == {"role": ["member", "moderator"]}
    same = client.put(f"/api/v1/console/users/{mod}/role", json={"role": "moderator"}, headers=headers)
    assert same.status_code == 200 and len(audit_of(acme)) == 1  # nothing changed, nothing recorded

    # The moderator: views users, suspends members...
    assert client.get("/api/v1/console/users", headers=mod_headers).status_code == 200
    assert client.get(f"/api/v1/console/users/{ADMIN_ID}", headers=mod_headers).status_code == 200
    ok = client.post(
        f"/api/v1/console/users/{member}/suspend", json={"reason": "Abusive messages."}, headers=mod_headers
    )
    assert ok.status_code == 200
    assert client.post(f"/api/v1/console/users/{member}/reactivate", headers=mod_headers).status_code == 200
    # ...but never admins, other moderators, or roles.
    other_mod = make_user(acme, email="mod2@example.com", role="moderator")
    before = len(audit_of(acme))
    for target in (ADMIN_ID, other_mod):
        refused = client.post(
            f"/api/v1/console/users/{target}/suspend", json={"reason": "Power grab."}, headers=mod_headers
        )
        assert refused.status_code == 403 and "Moderators can only suspend members" in refused.json["message"]
        assert user_state(acme, target)["status"] == "active"
    refused = client.put(f"/api/v1/console/users/{member}/role", json={"role": "admin"}, headers=mod_headers)
    assert refused.status_code == 403 and user_state(acme, member)["role"] == "member"
    assert len(audit_of(acme)) == before


def test_roles_on_the_web_are_for_admins_only(
    acme, make_user, tenant_client, operator_web, user_state, audit_of
):
    member = make_user(acme, email="member@example.com")
    make_user(acme, email="mod@example.com", role="moderator")
    admin = operator_web(acme)
    page = f"/console/users/{member}"
    response = admin.post(f"{page}/role", data={"csrf_token": csrf_token(admin, page), "role": "admin"})
    assert response.status_code == 303 and user_state(acme, member)["role"] == "admin"
    bad = admin.post(f"{page}/role", data={"csrf_token": csrf_token(admin, page), "role": "owner"})
    assert bad.status_code == 422 and "Choose one of" in bad.get_data(as_text=True)
    assert user_state(acme, member)["role"] == "admin"

    mod = login(tenant_client("acme"), "mod@example.com")
    detail = mod.get(page)
    assert detail.status_code == 200 and 'data-testid="role-form"' not in detail.get_data(as_text=True)
    refused = mod.post(f"{page}/role", data={"csrf_token": csrf_token(mod, page), "role": "member"})
    assert refused.status_code == 403 and user_state(acme, member)["role"] == "admin"
    assert [e[0] for e in audit_of(acme)] == ["user.role"]


# --------------------------------------------------------------------------- who may enter


def test_buyers_sellers_and_strangers_are_kept_out(acme, tenant_client, make_user, make_seller, user_state):
    buyer = make_user(acme, email="buyer@example.com")
    make_seller(acme, email="seller@example.com")
    anonymous = tenant_client("acme")
    assert anonymous.get("/console/users").status_code == 302
    assert "/login" in anonymous.get("/console/users").headers["Location"]
    assert anonymous.get("/api/v1/console/users").status_code == 401
    for email in ("buyer@example.com", "seller@example.com"):
        web = login(tenant_client("acme"), email)
        for path in ("/console/users", f"/console/users/{ADMIN_ID}"):
            assert web.get(path).status_code == 403, (email, path)
        token_csrf = csrf_token(web, "/account")
        assert (
            web.post(
                f"/console/users/{ADMIN_ID}/suspend", data={"csrf_token": token_csrf, "reason": "Take over."}
            ).status_code
            == 403
        )
        headers = token(tenant_client("acme"), email)
        api = tenant_client("acme")
        assert api.get("/api/v1/console/users", headers=headers).status_code == 403
        assert api.get(f"/api/v1/console/users/{buyer}", headers=headers).status_code == 403
        refused = api.post(
            f"/api/v1/console/users/{ADMIN_ID}/suspend", json={"reason": "Take over."}, headers=headers
        )
        assert refused.status_code == 403
        assert (
            api.put(
                f"/api/v1/console/users/{buyer}/role", json={"role": "admin"}, headers=headers
            ).status_code
            == 403
        )
    assert user_state(acme, ADMIN_ID)["status"] == "active" and user_state(acme, buyer)["role"] == "member"


# --------------------------------------------------------------------------- bad input


def test_refusals_are_clear_and_change_nothing(acme, make_user, admin_api, user_state, audit_of, in_tenant):
    member = make_user(acme, email="member@example.com")
    client, headers = admin_api(acme)
    base = "/api/v1/console/users"

    def post(path, **kwargs):
        return client.post(f"{base}/{path}", headers=headers, **kwargs)

    cases = [
        (post(f"{ADMIN_ID}/suspend", json={"reason": "Testing myself."}), 409, "your own account"),
        (post(f"{member}/suspend", json={"reason": ""}), 422, "Give a reason"),
        (post(f"{member}/suspend", json={"reason": "   \n "}), 422, "Give a reason"),
        (post(f"{member}/suspend", json={"reason": "no"}), 422, "at least 5"),
        (post(f"{member}/suspend", json={"reason": "x" * 501}), 422, "under 500"),
        (post(f"{member}/suspend", json={}), 422, "Missing data"),
        (post(f"{member}/suspend", json={"reason": 5}), 422, "Not a valid string"),
        (post("999999/suspend", json={"reason": "Nobody home."}), 404, "does not exist"),
        (post(f"{member}/reactivate"), 409, "not suspended"),
        (post("999999/reactivate"), 404, "does not exist"),
        (client.put(f"{base}/{member}/role", json={"role": "owner"}, headers=headers), 422, "Choose one of"),
        (client.put(f"{base}/{member}/role", json={}, headers=headers), 422, "Missing data"),
        (client.put(f"{base}/999999/role", json={"role": "admin"}, headers=headers), 404, "does not exist"),
        # The only admin demoting themself would leave the marketplace without one.
        (
            client.put(f"{base}/{ADMIN_ID}/role", json={"role": "member"}, headers=headers),
            409,
            "last active admin",
        ),
        (client.get(f"{base}/999999", headers=headers), 404, "does not exist"),
    ]
    for response, status, text in cases:
        assert response.status_code == status, (response.status_code, response.json)
        assert text in str(response.json), (text, response.json)
    assert cases[1][0].json["errors"]["json"]["reason"] == ["Give a reason: the user is told it."]
    assert "role" in cases[10][0].json["errors"]["json"]
    assert user_state(acme, member)["status"] == "active" and user_state(acme, member)["role"] == "member"
    assert user_state(acme, ADMIN_ID) == {
        "status": "active",
        "role": "admin",
        "suspended_reason": None,
        "suspended_at": None,
    }
    assert audit_of(acme) == []

    # Already suspended, and a deleted account.
    post(f"{member}/suspend", json={"reason": "First time."})
    again = post(f"{member}/suspend", json={"reason": "Second time."})
    assert again.status_code == 409 and "already suspended" in again.json["message"]
    assert user_state(acme, member)["suspended_reason"] == "First time."
    promote = client.put(f"{base}/{member}/role", json={"role": "moderator"}, headers=headers)
    assert promote.status_code == 409 and "Reactivate" in promote.json["message"]
    with in_tenant(acme):
        db.session.get(User, member).status = "deleted"
        db.session.commit()
    assert post(f"{member}/reactivate").status_code == 409
    assert [e[0] for e in audit_of(acme)] == ["user.suspend"]


def test_web_refusals_show_on_the_form(acme, make_user, operator_web, user_state, audit_of):
    member = make_user(acme, email="member@example.com")
    admin = operator_web(acme)
    page = f"/console/users/{member}"
    empty = admin.post(f"{page}/suspend", data={"csrf_token": csrf_token(admin, page), "reason": " "})
    assert empty.status_code == 422
    assert 'id="reason-error"' in empty.get_data(as_text=True) and "Give a reason" in empty.get_data(
        as_text=True
    )
    me = f"/console/users/{ADMIN_ID}"
    self_suspend = admin.post(
        f"{me}/suspend", data={"csrf_token": csrf_token(admin, page), "reason": "Going away."}
    )
    assert self_suspend.status_code == 409 and "your own account" in self_suspend.get_data(as_text=True)
    assert admin.get("/console/users/999999").status_code == 404
    assert (
        admin.post(
            "/console/users/999999/suspend", data={"csrf_token": csrf_token(admin, page), "reason": "Ghost."}
        ).status_code
        == 404
    )
    no_csrf = admin.post(f"{page}/suspend", data={"reason": "No token here."})
    assert no_csrf.status_code == 400
    assert user_state(acme, member)["status"] == "active" and user_state(acme, ADMIN_ID)["status"] == "active"
    assert audit_of(acme) == []


# --------------------------------------------------------------------------- tenants


def test_an_acme_operator_never_sees_or_touches_globex_users_even_with_equal_ids(
    acme, globex, tenant_client, make_user, admin_api, operator_web, user_state, audit_of
):
    acme_member = make_user(acme, email="acme-member@example.com", display_name="Acme Member")
    globex_member = make_user(globex, email="globex-member@example.com", display_name="Globex Member")
    assert acme_member == globex_member  # equal ids in both schemas

    client, headers = admin_api(acme)
    listing = client.get("/api/v1/console/users", query_string={"page_size": 100}, headers=headers)
    assert {u["email"] for u in listing.json} == {"admin@acme.test", "acme-member@example.com"}
    assert client.get("/api/v1/console/users?q=globex", headers=headers).json == []
    detail = client.get(f"/api/v1/console/users/{acme_member}", headers=headers)
    assert detail.json["email"] == "acme-member@example.com"
    client.post(
        f"/api/v1/console/users/{acme_member}/suspend", json={"reason": "Acme rules."}, headers=headers
    )
    assert user_state(acme, acme_member)["status"] == "suspended"
    assert user_state(globex, globex_member)["status"] == "active"
    assert audit_of(globex) == []

    # Acme's token and session are worthless on globex's host.
    globex_client = tenant_client("globex")
    assert globex_client.get("/api/v1/console/users", headers=headers).status_code == 401
    refused = globex_client.post(
        f"/api/v1/console/users/{globex_member}/suspend", json={"reason": "Cross-tenant."}, headers=headers
    )
    assert refused.status_code == 401 and user_state(globex, globex_member)["status"] == "active"
    web = operator_web(acme)
    cookie = web.get_cookie("session", domain=web.host)
    globex_web = tenant_client("globex")
    globex_web.set_cookie("session", cookie.value, domain=globex_web.host)
    assert globex_web.get(f"/console/users/{globex_member}").status_code == 302  # not logged in there
    page = web.get("/console/users").get_data(as_text=True)
    assert "Acme Member" in page and "Globex Member" not in page


# --------------------------------------------------------------------------- concurrency


def test_two_admins_suspending_each_other_at_once_never_leave_the_marketplace_without_an_admin(
    app, acme, make_user, in_tenant, user_state
):
    """The first suspension holds its locks until it commits; the second waits, re-reads,
    finds its own admin suspended, and is refused. Without the locks both would succeed."""
    from app.accounts import moderation
    from app.console.people import actions as people

    second_admin = make_user(acme, email="admin2@example.com", role="admin")
    results = race_for_a_lock(
        app,
        in_tenant,
        acme,
        lambda: people.suspend_user(db.session.get(User, ADMIN_ID), second_admin, "Rogue admin."),
        lambda: people.suspend_user(db.session.get(User, second_admin), ADMIN_ID, "No, you are."),
        moderation.ModerationError,
    )
    assert results["first"] == "ok"
    assert isinstance(results["second"], moderation.ModerationForbidden)
    assert user_state(acme, ADMIN_ID)["status"] == "active"
    assert user_state(acme, second_admin)["status"] == "suspended"


# --------------------------------------------------------------------------- API documentation


def test_the_console_user_api_is_documented_with_examples(acme, tenant_client):
    spec = tenant_client("acme").get("/api/v1/openapi.json").json
    paths = spec["paths"]
    for path, method in (
        ("/api/v1/console/users", "get"),
        ("/api/v1/console/users/{user_id}", "get"),
        ("/api/v1/console/users/{user_id}/suspend", "post"),
        ("/api/v1/console/users/{user_id}/reactivate", "post"),
        ("/api/v1/console/users/{user_id}/role", "put"),
    ):
        operation = paths[path][method]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert {"401", "403"} <= set(operation["responses"]), path
    suspend = paths["/api/v1/console/users/{user_id}/suspend"]["post"]
    assert suspend["requestBody"]["content"]["application/json"]["example"]["reason"]
    assert {"404", "409", "422"} <= set(suspend["responses"])
    role = paths["/api/v1/console/users/{user_id}/role"]["put"]
    assert role["requestBody"]["content"]["application/json"]["example"] == {"role": "moderator"}
