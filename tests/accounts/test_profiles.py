"""Profiles, avatars, seller profiles, portfolios and public pages through HTTP."""

from __future__ import annotations

import io
import json

from PIL import Image

from app.accounts.models import PortfolioItem, SellerProfile, User
from app.storage import storage
from tenants.db import db

PASSWORD = "correct-horse-battery"


def _png(size=(800, 600), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def _logged_in(web, tenant_client, tenant, make_user, email="pro@example.com", **kwargs):
    user_id = make_user(tenant, email=email, password=PASSWORD, **kwargs)
    client = tenant_client(tenant.slug)
    assert web.login(client, email, PASSWORD).status_code == 302
    return client, user_id


def _become_seller(web, client, **overrides):
    data = {
        "headline": "Brand identities for small businesses",
        "description": "Logos, colour palettes and brand books.",
        "skills": "Logo design, branding, logo design",
        "hourly_rate": "45.50",
        "availability": "part_time",
        **overrides,
    }
    return web.post_form(client, "/account/seller", data)


def test_updating_the_profile(web, tenant_client, acme, make_user, user_row):
    client, user_id = _logged_in(web, tenant_client, acme, make_user)
    response = web.post_form(
        client,
        "/account",
        {
            "display_name": "  Grace   Hopper ",
            "handle": "Grace-H",
            "country": "US",
            "timezone": "America/New_York",
            "languages": "en, fr, en",
            "bio": "Compilers and COBOL.",
        },
    )
    assert response.status_code == 302
    user = user_row(acme, user_id=user_id)
    assert (user.display_name, user.handle, user.country, user.timezone) == (
        "Grace Hopper",
        "grace-h",
        "US",
        "America/New_York",
    )
    assert user.languages == ["en", "fr"] and user.bio == "Compilers and COBOL."
    page = client.get("/account").get_data(as_text=True)
    assert 'value="grace-h"' in page and '<option selected value="US">' in page


def test_bad_profile_input_gets_messages_and_changes_nothing(web, tenant_client, acme, make_user, user_row):
    make_user(acme, email="taken@example.com")
    with_handle = user_row(acme, email="taken@example.com").handle
    client, user_id = _logged_in(web, tenant_client, acme, make_user)
    before = user_row(acme, user_id=user_id)
    base = {"display_name": "Name", "handle": "fine-handle", "country": "", "timezone": "", "languages": ""}
    cases = [
        ({"country": "XX"}, b"Choose a country from the list"),
        ({"timezone": "Mars/Olympus"}, b"Choose a time zone from the list"),
        ({"languages": "en, klingon"}, b"Unknown language code"),
        ({"bio": "x" * 501}, b"500"),
        ({"handle": "a"}, b"Use 3 to 30 lowercase letters"),
        ({"display_name": ""}, b"Enter your name"),
    ]
    if with_handle:
        cases.append(({"handle": with_handle.upper()}, b"This handle is already taken"))
    for override, message in cases:
        response = web.post_form(client, "/account", {**base, **override})
        assert response.status_code == 422, override
        assert message in response.data, override
    after = user_row(acme, user_id=user_id)
    assert (after.display_name, after.handle, after.country, after.bio) == (
        before.display_name,
        before.handle,
        before.country,
        before.bio,
    )


def test_avatar_upload_is_resized_square_and_replaces_the_old_one(
    web, tenant_client, acme, make_user, user_row, in_tenant
):
    client, user_id = _logged_in(web, tenant_client, acme, make_user)
    token = web.csrf_token(client, "/account")
    response = client.post(
        "/account/avatar",
        data={"csrf_token": token, "avatar": (io.BytesIO(_png()), "me.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    first = user_row(acme, user_id=user_id).avatar_key
    assert first.startswith("avatars/")
    with in_tenant(acme):
        image = Image.open(io.BytesIO(storage.open(first)))
        assert image.size == (512, 512) and image.format == "WEBP"

    page = client.get("/account").get_data(as_text=True)
    assert 'data-testid="avatar"' in page
    src = page.split('data-testid="avatar"')[0].rsplit('src="', 1)[1].split('"')[0]
    assert client.get(src.replace("&amp;", "&")).status_code == 200

    token = web.csrf_token(client, "/account")
    client.post(
        "/account/avatar",
        data={"csrf_token": token, "avatar": (io.BytesIO(_png(color=(0, 0, 255))), "new.png")},
        content_type="multipart/form-data",
    )
    second = user_row(acme, user_id=user_id).avatar_key
    assert second != first
    with in_tenant(acme):
        assert not storage.exists(first) and storage.exists(second)


def test_bad_avatar_uploads_get_a_message_and_change_nothing(
    web, app, tenant_client, acme, make_user, user_row, monkeypatch
):
    client, user_id = _logged_in(web, tenant_client, acme, make_user)
    monkeypatch.setitem(app.config, "AVATAR_MAX_BYTES", 50_000)
    noisy = io.BytesIO()
    Image.effect_noise((400, 400), 100).convert("RGB").save(noisy, "PNG")
    cases = [
        (b"%PDF-1.4 not an image", "doc.pdf"),
        (_png()[:60], "broken.png"),
        (noisy.getvalue(), "big.png"),
        (b"", ""),
    ]
    for data, name in cases:
        token = web.csrf_token(client, "/account")
        response = client.post(
            "/account/avatar",
            data={"csrf_token": token, "avatar": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, name
        assert b'class="field-error"' in response.data, name
    assert user_row(acme, user_id=user_id).avatar_key is None


def test_becoming_a_seller_and_editing_the_seller_profile(web, tenant_client, acme, make_user, in_tenant):
    client, user_id = _logged_in(web, tenant_client, acme, make_user)
    assert b"Become a seller" in client.get("/account/seller").data
    response = _become_seller(web, client)
    assert response.status_code == 302
    with in_tenant(acme):
        profile = db.session.get(SellerProfile, user_id)
        assert profile.headline == "Brand identities for small businesses"
        assert profile.skills == ["logo design", "branding"]
        assert (profile.hourly_rate_minor, profile.currency, profile.availability) == (
            4550,
            "USD",
            "part_time",
        )
    page = client.get("/account/seller").get_data(as_text=True)
    assert "Your seller profile" in page and 'value="45.50"' in page
    assert _become_seller(web, client, hourly_rate="60", availability="unavailable").status_code == 302
    with in_tenant(acme):
        profile = db.session.get(SellerProfile, user_id)
        assert (profile.hourly_rate_minor, profile.availability) == (6000, "unavailable")


def test_bad_seller_input_gets_messages_and_makes_no_seller(web, tenant_client, acme, make_user, in_tenant):
    client, user_id = _logged_in(web, tenant_client, acme, make_user)
    cases = [
        ({"headline": ""}, b"Write a headline"),
        ({"hourly_rate": "lots"}, b"Enter an amount like 45"),
        ({"hourly_rate": "-5"}, b"between 0 and 100,000"),
        ({"hourly_rate": "10.555"}, b"Use at most 2 decimals for USD."),
        ({"hourly_rate": "999999999"}, b"between 0 and 100,000"),
        ({"hourly_rate": "1e30"}, b"Enter an amount like 45 or 45.50."),
        ({"hourly_rate": "99999999999"}, b"This amount is too large."),
        ({"availability": "weekends"}, b"Choose full time, part time"),
        ({"skills": "ok, " + "x" * 50}, b"is not a valid skill"),
    ]
    for override, message in cases:
        response = _become_seller(web, client, **override)
        assert response.status_code == 422, override
        assert message in response.data, override
    with in_tenant(acme):
        assert db.session.get(SellerProfile, user_id) is None


def test_portfolio_items_with_images_and_links(web, tenant_client, acme, make_user, in_tenant):
    client, user_id = _logged_in(web, tenant_client, acme, make_user)
    refused = web.post_form(client, "/account/portfolio", {"title": "Too early", "link": "https://x.example"})
    assert refused.status_code == 422 and b"Create your seller profile first" in refused.data
    _become_seller(web, client)

    token = web.csrf_token(client, "/account/portfolio")
    with_image = client.post(
        "/account/portfolio",
        data={
            "csrf_token": token,
            "title": "Bakery logo",
            "description": "A warm wordmark.",
            "image": (io.BytesIO(_png((2400, 1200))), "logo.png"),
        },
        content_type="multipart/form-data",
    )
    assert with_image.status_code == 302
    with_link = web.post_form(
        client, "/account/portfolio", {"title": "Case study", "link": "https://portfolio.example/case"}
    )
    assert with_link.status_code == 302
    for data, message in [
        ({"title": "Nothing attached"}, b"Add an image or a link"),
        ({"title": "Bad link", "link": "javascript:alert(1)"}, b"Enter a full web address"),
        ({"title": "", "link": "https://ok.example"}, b"Give the item a title"),
    ]:
        response = web.post_form(client, "/account/portfolio", data)
        assert response.status_code == 422 and message in response.data, data

    with in_tenant(acme):
        items = db.session.scalars(db.select(PortfolioItem).order_by(PortfolioItem.id)).all()
        assert [i.title for i in items] == ["Bakery logo", "Case study"]
        image = Image.open(io.BytesIO(storage.open(items[0].image_key)))
        assert max(image.size) == 1600
        image_key, first_id = items[0].image_key, items[0].id

    page = client.get("/account/portfolio").get_data(as_text=True)
    assert page.count('data-testid="portfolio-item"') == 2
    assert (
        web.post_form(
            client, "/account/portfolio", {}, action=f"/account/portfolio/{first_id}/delete"
        ).status_code
        == 302
    )
    with in_tenant(acme):
        assert [i.title for i in db.session.scalars(db.select(PortfolioItem)).all()] == ["Case study"]
        assert not storage.exists(image_key)


def test_nobody_can_delete_another_users_portfolio_item(web, tenant_client, acme, make_user, in_tenant):
    owner, _ = _logged_in(web, tenant_client, acme, make_user, email="owner@example.com")
    _become_seller(web, owner)
    web.post_form(owner, "/account/portfolio", {"title": "Mine", "link": "https://mine.example"})
    with in_tenant(acme):
        item_id = db.session.scalar(db.select(PortfolioItem.id))
    intruder, _ = _logged_in(web, tenant_client, acme, make_user, email="intruder@example.com")
    response = web.post_form(intruder, "/account", {}, action=f"/account/portfolio/{item_id}/delete")
    assert response.status_code == 404
    with in_tenant(acme):
        assert db.session.get(PortfolioItem, item_id) is not None


def test_public_profile_page_shows_the_seller(web, tenant_client, acme, globex, make_user, user_row):
    client, user_id = _logged_in(web, tenant_client, acme, make_user, display_name="Pia Pixel")
    web.post_form(
        client,
        "/account",
        {"display_name": "Pia Pixel", "handle": "pia", "country": "FR", "languages": "fr, en", "bio": "Hi!"},
    )
    _become_seller(web, client)
    web.post_form(client, "/account/portfolio", {"title": "Case study", "link": "https://pia.example/case"})

    page = tenant_client("acme").get("/u/pia")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for expected in (
        "Pia Pixel",
        "@pia",
        "France",
        "French, English",
        "Brand identities for small businesses",
        "$45.50",
        "Part time",
        "logo design",
        "Case study",
        "Acme Test Market",
    ):
        assert expected in text, expected
    assert "pro@example.com" not in text  # the email is never public
    assert tenant_client("acme").get("/u/PIA").headers["Location"] == "/u/pia"
    assert tenant_client("acme").get("/u/nobody-here").status_code == 404
    assert tenant_client("globex").get("/u/pia").status_code == 404  # tenants never meet


def test_suspended_users_have_no_public_page(web, tenant_client, acme, make_user, in_tenant, user_row):
    user_id = make_user(acme, email="s@example.com")
    handle = user_row(acme, user_id=user_id).handle or "member-s"
    with in_tenant(acme):
        user = db.session.get(User, user_id)
        user.handle, user.status = handle, "suspended"
        db.session.commit()
    assert tenant_client("acme").get(f"/u/{handle}").status_code == 404


def test_downloading_my_data(web, tenant_client, acme, make_user):
    client, user_id = _logged_in(web, tenant_client, acme, make_user, display_name="Data Subject")
    _become_seller(web, client)
    assert client.get("/account/privacy").status_code == 200
    response = client.get("/account/privacy/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["account"]["email"] == "pro@example.com" and data["account"]["id"] == user_id
    assert data["account"]["display_name"] == "Data Subject"
    assert data["seller_profile"]["hourly_rate_minor"] == 4550
    assert data["marketplace"]["slug"] == "acme"
    assert "password_hash" not in response.get_data(as_text=True)


def test_deleting_my_account_anonymises_it_and_keeps_the_row(
    web, tenant_client, acme, make_user, in_tenant, user_row
):
    client, user_id = _logged_in(web, tenant_client, acme, make_user, display_name="Leaving Soon")
    _become_seller(web, client)
    web.post_form(client, "/account/portfolio", {"title": "Old work", "link": "https://old.example"})
    wrong = web.post_form(
        client, "/account/privacy", {"password": "not-it-at-all", "confirm": "y"}, action="/account/delete"
    )
    assert wrong.status_code == 422 and b"Your password is incorrect" in wrong.data
    unticked = web.post_form(client, "/account/privacy", {"password": PASSWORD}, action="/account/delete")
    assert unticked.status_code == 422 and b"Tick the box" in unticked.data
    assert user_row(acme, user_id=user_id).status == "active"

    response = web.post_form(
        client, "/account/privacy", {"password": PASSWORD, "confirm": "y"}, action="/account/delete"
    )
    assert response.status_code == 302
    user = user_row(acme, user_id=user_id)
    assert user.email == f"deleted-{user_id}@invalid" and user.status == "deleted"
    assert user.display_name == "Deleted user" and user.handle is None and user.password_hash is None
    with in_tenant(acme):
        assert db.session.get(SellerProfile, user_id) is None
        assert db.session.scalar(db.select(db.func.count()).select_from(PortfolioItem)) == 0
    assert client.get("/account").status_code == 302  # logged out
    assert web.login(tenant_client("acme"), "pro@example.com", PASSWORD).status_code == 422
    # The address is free again: the person can sign up anew.
    assert web.signup(tenant_client("acme"), "pro@example.com").status_code == 302
