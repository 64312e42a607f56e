"""Accounts API: sign-up, /me, public profiles, seller profiles and data export."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import SellerProfile, User
from tenants.db import db

PASSWORD = "correct-horse-battery"
SELLER = {
    "headline": "Mathematician and first programmer",
    "description": "Programs for engines that do not exist yet.",
    "skills": ["mathematics", "programming"],
    "hourly_rate_minor": 12000,
    "availability": "part_time",
}


def bearer(token: str, **extra) -> dict:
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
def signed_in(tenant_client, make_user):
    """``signed_in(acme, email)`` -> (client, headers) for a new user of that tenant."""

    def sign_in(tenant, email="ada@example.com"):
        make_user(tenant, email=email)
        client = tenant_client(tenant.slug)
        response = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.json
        return client, bearer(response.json["access_token"])

    return sign_in


def users_snapshot(in_tenant, tenant) -> list[tuple]:
    with in_tenant(tenant):
        return [
            (u.id, u.email, u.display_name, u.handle, u.country, u.timezone, list(u.languages or []), u.bio)
            for u in db.session.scalars(sa.select(User).order_by(User.id))
        ]


def seller_snapshot(in_tenant, tenant) -> list[tuple]:
    with in_tenant(tenant):
        return [
            (p.user_id, p.headline, p.description, list(p.skills), p.hourly_rate_minor, p.availability)
            for p in db.session.scalars(sa.select(SellerProfile).order_by(SellerProfile.user_id))
        ]


# --- POST /users ----------------------------------------------------------------


def test_sign_up_creates_an_account_that_can_get_a_token(tenant_client, acme, in_tenant):
    client = tenant_client("acme")
    response = client.post(
        "/api/v1/users",
        json={"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada", "handle": "ada"},
    )

    assert response.status_code == 201
    assert response.json["email"] == "ada@example.com"
    assert response.json["handle"] == "ada" and response.json["display_name"] == "Ada"
    assert response.json["email_verified"] is False and response.json["is_seller"] is False
    assert "password" not in response.json and "password_hash" not in response.json
    token = client.post("/api/v1/auth/token", json={"email": "ada@example.com", "password": PASSWORD})
    assert token.status_code == 200


def test_sign_up_without_a_handle_gets_one(tenant_client, acme):
    response = tenant_client("acme").post(
        "/api/v1/users", json={"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada"}
    )
    assert response.status_code == 201 and response.json["handle"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"email": "ADA@example.com", "password": PASSWORD, "display_name": "Other"}, "email"),
        (
            {"email": "bob@example.com", "password": PASSWORD, "display_name": "Bob", "handle": "Ada"},
            "handle",
        ),
        ({"email": "not-an-email", "password": PASSWORD, "display_name": "Bob"}, "email"),
        ({"email": "bob@example.com", "password": "short", "display_name": "Bob"}, "password"),
        ({"email": "bob@example.com", "password": "password123", "display_name": "Bob"}, "password"),
        (
            {"email": "bob.smith@example.com", "password": "bob.smith@example.com", "display_name": "B"},
            "password",
        ),
        ({"email": "bob@example.com", "password": PASSWORD, "display_name": ""}, "display_name"),
        ({"email": "bob@example.com", "password": PASSWORD}, "display_name"),
        ({"email": "bob@example.com", "password": PASSWORD, "display_name": "B", "role": "admin"}, "role"),
        (
            {"email": "bob@example.com", "password": PASSWORD, "display_name": "B", "handle": "no spaces!"},
            "handle",
        ),
    ],
    ids=[
        "duplicate-email-any-case",
        "duplicate-handle-any-case",
        "invalid-email",
        "short-password",
        "common-password",
        "password-is-the-email",
        "empty-name",
        "missing-name",
        "unknown-field",
        "invalid-handle",
    ],
)
def test_bad_sign_ups_are_422_field_errors_and_create_nothing(tenant_client, acme, in_tenant, body, field):
    client = tenant_client("acme")
    first = client.post(
        "/api/v1/users",
        json={"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada", "handle": "ada"},
    )
    assert first.status_code == 201
    before = users_snapshot(in_tenant, acme)

    response = client.post("/api/v1/users", json=body)

    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"], response.json
    assert all(isinstance(m, list) and m for m in response.json["errors"]["json"].values())
    assert users_snapshot(in_tenant, acme) == before


def test_the_same_email_can_sign_up_on_two_tenants(tenant_client, acme, globex):
    body = {"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada", "handle": "ada"}
    assert tenant_client("acme").post("/api/v1/users", json=body).status_code == 201
    assert tenant_client("globex").post("/api/v1/users", json=body).status_code == 201


# --- /me ------------------------------------------------------------------------


def test_me_returns_the_signed_in_user_with_an_etag(signed_in, acme):
    client, headers = signed_in(acme)
    response = client.get("/api/v1/me", headers=headers)

    assert response.status_code == 200
    assert response.json["email"] == "ada@example.com" and response.json["role"] == "member"
    assert response.headers["ETag"]
    again = client.get("/api/v1/me", headers={**headers, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_patch_me_changes_profile_fields(signed_in, acme):
    client, headers = signed_in(acme)
    etag = client.get("/api/v1/me", headers=headers).headers["ETag"]
    changes = {
        "display_name": "Ada L.",
        "handle": "ada-l",
        "country": "GB",
        "timezone": "Europe/London",
        "languages": ["en", "fr"],
        "bio": "Poetical science.",
    }
    response = client.patch("/api/v1/me", json=changes, headers={**headers, "If-Match": etag})

    assert response.status_code == 200, response.json
    assert {k: response.json[k] for k in changes} == changes
    assert response.headers["ETag"] != etag
    assert client.get("/api/v1/me", headers=headers).json["handle"] == "ada-l"


def test_patch_me_needs_a_current_etag(signed_in, acme, in_tenant):
    client, headers = signed_in(acme)
    stale = client.get("/api/v1/me", headers=headers).headers["ETag"]
    fresh = client.patch("/api/v1/me", json={"bio": "First edit."}, headers={**headers, "If-Match": stale})
    assert fresh.status_code == 200
    before = users_snapshot(in_tenant, acme)

    missing = client.patch("/api/v1/me", json={"bio": "No precondition."}, headers=headers)
    assert missing.status_code == 428
    conflict = client.patch(
        "/api/v1/me", json={"bio": "Lost update."}, headers={**headers, "If-Match": stale}
    )
    assert conflict.status_code == 412
    assert users_snapshot(in_tenant, acme) == before


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"handle": "admin-taken"}, "handle"),
        ({"handle": "bad handle!"}, "handle"),
        ({"country": "XX"}, "country"),
        ({"country": "GBR"}, "country"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"languages": ["xx"]}, "languages"),
        ({"languages": "en"}, "languages"),
        ({"bio": "x" * 501}, "bio"),
        ({"display_name": ""}, "display_name"),
        ({"email": "new@example.com"}, "email"),
        ({"role": "admin"}, "role"),
    ],
)
def test_bad_profile_changes_are_422_and_change_nothing(
    signed_in, acme, make_user, in_tenant, changes, field
):
    other = make_user(acme, email="other@example.com")
    with in_tenant(acme):
        db.session.get(User, other).handle = "admin-taken"
        db.session.commit()
    client, headers = signed_in(acme)
    etag = client.get("/api/v1/me", headers=headers).headers["ETag"]
    before = users_snapshot(in_tenant, acme)

    response = client.patch("/api/v1/me", json=changes, headers={**headers, "If-Match": etag})

    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"], response.json
    assert users_snapshot(in_tenant, acme) == before


def test_export_returns_the_users_data(signed_in, acme):
    client, headers = signed_in(acme)
    response = client.get("/api/v1/me/export", headers=headers)

    assert response.status_code == 200 and response.is_json
    assert "ada@example.com" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/me"),
        ("patch", "/api/v1/me"),
        ("get", "/api/v1/me/export"),
        ("get", "/api/v1/me/seller-profile"),
        ("put", "/api/v1/me/seller-profile"),
    ],
)
def test_personal_endpoints_require_a_token(tenant_client, acme, method, path):
    response = getattr(tenant_client("acme"), method)(path, json={}, headers={"If-Match": "*"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- seller profile -------------------------------------------------------------


def test_a_user_becomes_a_seller_by_putting_a_seller_profile(signed_in, acme):
    client, headers = signed_in(acme)
    assert client.get("/api/v1/me/seller-profile", headers=headers).status_code == 404

    response = client.put("/api/v1/me/seller-profile", json=SELLER, headers={**headers, "If-Match": "*"})

    assert response.status_code == 200, response.json
    assert {k: response.json[k] for k in SELLER} == SELLER
    assert response.json["currency"] and response.json["portfolio"] == []
    assert client.get("/api/v1/me", headers=headers).json["is_seller"] is True
    read = client.get("/api/v1/me/seller-profile", headers=headers)
    assert read.status_code == 200 and read.json["headline"] == SELLER["headline"]


def test_put_replaces_the_seller_profile(signed_in, acme):
    client, headers = signed_in(acme)
    client.put("/api/v1/me/seller-profile", json=SELLER, headers={**headers, "If-Match": "*"})
    etag = client.get("/api/v1/me/seller-profile", headers=headers).headers["ETag"]

    replacement = {"headline": "Now occasional", "availability": "occasional"}
    response = client.put(
        "/api/v1/me/seller-profile", json=replacement, headers={**headers, "If-Match": etag}
    )

    assert response.status_code == 200
    assert response.json["headline"] == "Now occasional" and response.json["availability"] == "occasional"
    assert response.json["skills"] == [] and response.json["hourly_rate_minor"] is None


def test_put_with_a_stale_etag_is_412_and_changes_nothing(signed_in, acme, in_tenant):
    client, headers = signed_in(acme)
    client.put("/api/v1/me/seller-profile", json=SELLER, headers={**headers, "If-Match": "*"})
    stale = client.get("/api/v1/me/seller-profile", headers=headers).headers["ETag"]
    client.put(
        "/api/v1/me/seller-profile",
        json={**SELLER, "headline": "Edited elsewhere"},
        headers={**headers, "If-Match": stale},
    )
    before = seller_snapshot(in_tenant, acme)

    response = client.put("/api/v1/me/seller-profile", json=SELLER, headers={**headers, "If-Match": stale})
    assert response.status_code == 412
    missing = client.put("/api/v1/me/seller-profile", json=SELLER, headers=headers)
    assert missing.status_code == 428
    assert seller_snapshot(in_tenant, acme) == before


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"headline": None}, "headline"),
        ({"headline": ""}, "headline"),
        ({"availability": "weekends"}, "availability"),
        ({"hourly_rate_minor": -1}, "hourly_rate_minor"),
        ({"hourly_rate_minor": 12.5}, "hourly_rate_minor"),
        ({"skills": "python"}, "skills"),
        ({"skills": ["x" * 41]}, "skills"),
        ({"currency": "EUR"}, "currency"),
    ],
)
def test_bad_seller_profiles_are_422_and_change_nothing(signed_in, acme, in_tenant, changes, field):
    client, headers = signed_in(acme)
    client.put("/api/v1/me/seller-profile", json=SELLER, headers={**headers, "If-Match": "*"})
    before = seller_snapshot(in_tenant, acme)

    response = client.put(
        "/api/v1/me/seller-profile", json={**SELLER, **changes}, headers={**headers, "If-Match": "*"}
    )

    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]
    assert seller_snapshot(in_tenant, acme) == before


def test_a_seller_profile_without_headline_creates_nothing(signed_in, acme, in_tenant):
    client, headers = signed_in(acme)
    response = client.put(
        "/api/v1/me/seller-profile", json={"skills": ["x"]}, headers={**headers, "If-Match": "*"}
    )
    assert response.status_code == 422 and "headline" in response.json["errors"]["json"]
    assert seller_snapshot(in_tenant, acme) == []


# --- public profiles ------------------------------------------------------------


def _create_handle(client, headers, handle):
    etag = client.get("/api/v1/me", headers=headers).headers["ETag"]
    response = client.patch(
        "/api/v1/me",
        json={"handle": handle, "bio": "Poetical science.", "country": "GB"},
        headers={**headers, "If-Match": etag},
    )
    assert response.status_code == 200, response.json


def test_a_public_profile_shows_the_member_and_their_seller_profile(signed_in, acme, tenant_client):
    client, headers = signed_in(acme)
    _create_handle(client, headers, "ada")
    anonymous = tenant_client("acme")

    profile = anonymous.get("/api/v1/profiles/ada")
    assert profile.status_code == 200
    assert profile.json["handle"] == "ada" and profile.json["bio"] == "Poetical science."
    assert profile.json["seller_profile"] is None
    assert "email" not in profile.json

    client.put("/api/v1/me/seller-profile", json=SELLER, headers={**headers, "If-Match": "*"})
    profile = anonymous.get("/api/v1/profiles/ADA")
    assert profile.status_code == 200
    assert profile.json["seller_profile"]["headline"] == SELLER["headline"]


def test_unknown_deleted_and_other_tenants_profiles_are_404(
    signed_in, acme, globex, tenant_client, in_tenant
):
    client, headers = signed_in(acme)
    _create_handle(client, headers, "ada")

    assert tenant_client("acme").get("/api/v1/profiles/nobody").status_code == 404
    missing = tenant_client("globex").get("/api/v1/profiles/ada")
    assert missing.status_code == 404 and missing.is_json

    with in_tenant(acme):
        user = db.session.scalars(sa.select(User).where(User.handle == "ada")).one()
        user.status = "deleted"
        db.session.commit()
    assert tenant_client("acme").get("/api/v1/profiles/ada").status_code == 404


# --- portfolio ------------------------------------------------------------------

NOTE_G = {"title": "Note G", "description": "The first program.", "link": "https://example.com/note-g"}


def portfolio_count(in_tenant, tenant) -> int:
    from app.accounts.models import PortfolioItem

    with in_tenant(tenant):
        return db.session.scalar(sa.select(sa.func.count()).select_from(PortfolioItem))


def test_a_seller_adds_and_removes_portfolio_items(signed_in, acme, tenant_client, in_tenant):
    client, headers = signed_in(acme)
    _create_handle(client, headers, "ada")
    client.put("/api/v1/me/seller-profile", json=SELLER, headers={**headers, "If-Match": "*"})

    added = client.post("/api/v1/me/seller-profile/portfolio", json=NOTE_G, headers=headers)
    assert added.status_code == 201, added.json
    assert added.json["title"] == "Note G" and added.json["link"] == NOTE_G["link"]
    public = tenant_client("acme").get("/api/v1/profiles/ada").json
    assert [item["title"] for item in public["seller_profile"]["portfolio"]] == ["Note G"]

    path = f"/api/v1/me/seller-profile/portfolio/{added.json['id']}"
    assert client.delete(path, headers=headers).status_code == 204
    assert client.delete(path, headers=headers).status_code == 404
    assert portfolio_count(in_tenant, acme) == 0


@pytest.mark.parametrize(
    "body,field",
    [
        ({**NOTE_G, "link": "javascript:alert(1)"}, "link"),
        ({**NOTE_G, "title": ""}, "title"),
        ({"title": "No link"}, "link"),
        ({**NOTE_G, "image_key": "x"}, "image_key"),
    ],
)
def test_bad_portfolio_items_are_422_and_add_nothing(signed_in, acme, in_tenant, body, field):
    client, headers = signed_in(acme)
    client.put("/api/v1/me/seller-profile", json=SELLER, headers={**headers, "If-Match": "*"})

    response = client.post("/api/v1/me/seller-profile/portfolio", json=body, headers=headers)

    assert response.status_code == 422 and field in response.json["errors"]["json"], response.json
    assert portfolio_count(in_tenant, acme) == 0


def test_only_sellers_have_a_portfolio(signed_in, acme, in_tenant):
    client, headers = signed_in(acme)
    response = client.post("/api/v1/me/seller-profile/portfolio", json=NOTE_G, headers=headers)
    # A refusal of the whole request (no field to blame) is said in the message.
    assert response.status_code == 422 and response.json["message"] == "Create your seller profile first."
    assert portfolio_count(in_tenant, acme) == 0


def test_nobody_deletes_anothers_portfolio_item(signed_in, acme, in_tenant):
    owner, owner_headers = signed_in(acme, "owner@example.com")
    owner.put("/api/v1/me/seller-profile", json=SELLER, headers={**owner_headers, "If-Match": "*"})
    item = owner.post("/api/v1/me/seller-profile/portfolio", json=NOTE_G, headers=owner_headers).json

    thief, thief_headers = signed_in(acme, "thief@example.com")
    for item_id in (item["id"], 2**31 - 1, 2**40):
        response = thief.delete(f"/api/v1/me/seller-profile/portfolio/{item_id}", headers=thief_headers)
        assert response.status_code == 404 and response.is_json
    assert portfolio_count(in_tenant, acme) == 1


def test_a_bearer_request_reads_the_token_its_user_and_the_seller_profile_at_once(
    app, acme, make_seller, access_token, tenant_client
):
    """The token's look-up brings its user's seller profile (as the web's user loader does):
    ``/me`` answers ``is_seller`` without another statement."""
    from tests.helpers import statement_listing, statements_of

    auth = {"Authorization": f"Bearer {access_token(acme, make_seller(acme))}"}
    client = tenant_client("acme")
    assert client.get("/api/v1/me", headers=auth).status_code == 200  # the token's first use is recorded
    answers = []
    seen = statements_of(app, lambda: answers.append(client.get("/api/v1/me", headers=auth)))
    assert answers[0].status_code == 200 and answers[0].json["is_seller"] is True
    tenant_reads = [s for s in seen if "tenant_acme." in s]
    assert len(tenant_reads) == 1, statement_listing(seen)
    assert "seller_profiles" in tenant_reads[0] and "api_tokens" in tenant_reads[0]
