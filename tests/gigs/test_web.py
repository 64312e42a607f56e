"""Gig web pages: the seller's pages (forms with CSRF) and the public pages, per tenant."""

from __future__ import annotations

import io

import pytest

EDIT_FIELDS = {
    "title": "I will design a modern minimalist logo",
    "description": "A **clean** logo.",
    "tags": "logo, branding",
    "basic-title": "Starter",
    "basic-description": "One concept",
    "basic-price": "50.00",
    "basic-delivery_days": "5",
    "basic-revisions": "2",
    "basic-features": "1 concept\nPNG file",
    "premium-title": "Premium",
    "premium-price": "250",
    "premium-delivery_days": "3",
    "premium-revisions": "unlimited",
    "extras-0-title": "Fast delivery",
    "extras-0-price": "30",
    "extras-0-extra_days": "-2",
    "faqs-0-question": "Do I own the rights?",
    "faqs-0-answer": "Yes.",
}


@pytest.fixture
def seller_client(tenant_client, make_seller, web):
    """``seller_client(tenant, email)`` -> (logged-in client, user id) of a new seller."""

    def make(tenant, email="seller@example.com"):
        user_id = make_seller(tenant, email=email)
        client = tenant_client(tenant.slug)
        web.login(client, email)
        return client, user_id

    return make


def _edit(client, web, gig_id, **overrides):
    page = f"/seller/gigs/{gig_id}/edit"
    body = client.get(page).get_data(as_text=True)
    import re

    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', body).group(1)
    category = re.search(r'<option value="(\d+)">[^<]*›', body).group(1)
    data = {"csrf_token": web.csrf_token(client, page), "version": version, "category_id": category}
    data.update(EDIT_FIELDS)
    data.update(overrides)
    return client.post(page, data=data)


def test_seller_creates_edits_and_publishes_a_gig(acme, seller_client, web, gig_row, in_tenant, kit):
    client, _ = seller_client(acme)
    token = web.csrf_token(client, "/seller/gigs/new")
    with in_tenant(acme):
        category_id = kit.first_subcategory_id()
    response = client.post(
        "/seller/gigs/new",
        data={
            "csrf_token": token,
            "title": "I will design a modern minimalist logo",
            "category_id": category_id,
        },
    )
    assert response.status_code == 302
    gig_id = int(response.headers["Location"].split("/")[-2])

    response = _edit(client, web, gig_id)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    row = gig_row(acme, gig_id)
    assert row["packages"] == [
        ("basic", "Starter", 5000, 5, 2, ["1 concept", "PNG file"]),
        ("premium", "Premium", 25000, 3, -1, []),
    ]
    assert row["extras"] == [("Fast delivery", 3000, -2)] and row["faqs"] == [
        ("Do I own the rights?", "Yes.")
    ]

    token = web.csrf_token(client, f"/seller/gigs/{gig_id}/edit")
    upload = client.post(
        f"/seller/gigs/{gig_id}/images",
        data={"csrf_token": token, "image": (io.BytesIO(kit.png()), "cover.png")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 303 and len(gig_row(acme, gig_id)["images"]) == 1

    token = web.csrf_token(client, "/seller/gigs")
    assert client.post(f"/seller/gigs/{gig_id}/publish", data={"csrf_token": token}).status_code == 303
    assert gig_row(acme, gig_id)["status"] == "active"

    page = client.get(f"/gigs/{row['slug']}").get_data(as_text=True)
    assert 'data-testid="package-table"' in page and "50.00" in page and "Unlimited" in page
    assert "Fast delivery" in page and "Do I own the rights?" in page and "<strong>clean</strong>" in page


def test_edit_form_errors_are_shown_and_change_nothing(acme, seller_client, web, make_gig, gig_row):
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    before = gig_row(acme, gig_id)
    for field, value, message in [
        ("basic-price", "-5", "more than zero"),
        ("basic-price", "0", "more than zero"),
        ("basic-price", "abc", "Enter an amount"),
        ("basic-price", "999999999", "at most"),
        ("basic-delivery_days", "91", "1 to 90 days"),
        ("tags", "a1, b2, c3, d4, e5, f6", "at most 5 tags"),
        ("title", "<script>alert(1)</script> a long enough title", "cannot contain HTML"),
        ("faqs-0-answer", "<b>bold</b>", "cannot contain HTML"),
        ("category_id", "999999", "category does not exist"),
    ]:
        response = _edit(client, web, gig_id, **{field: value})
        assert response.status_code == 422, (field, value)
        body = response.get_data(as_text=True)
        assert message in body, (field, value)
        assert "<script>alert(1)</script>" not in body
    assert gig_row(acme, gig_id) == before


def test_a_stale_edit_form_is_refused(acme, seller_client, web, make_gig, gig_row, in_tenant):
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    response = _edit(client, web, gig_id, version="1")
    assert response.status_code == 422
    assert "changed since you loaded it" in response.get_data(as_text=True)


def test_non_sellers_are_sent_to_become_a_seller(acme, tenant_client, make_user, web):
    make_user(acme, email="buyer@example.com")
    client = tenant_client("acme")
    web.login(client, "buyer@example.com")
    response = client.get("/seller/gigs/new")
    assert response.status_code == 403 and "Become a seller first" in response.get_data(as_text=True)


def test_someone_elses_gig_is_403_on_every_seller_page(
    acme, seller_client, make_seller, make_gig, web, gig_row
):
    owner_id = make_seller(acme, email="owner@example.com")
    gig_id = make_gig(acme, owner_id)
    client, _ = seller_client(acme, "intruder@example.com")
    before = gig_row(acme, gig_id)
    assert client.get(f"/seller/gigs/{gig_id}/edit").status_code == 403
    token = web.csrf_token(client, "/seller/gigs")
    for path in ("edit", "pause", "archive", "publish", "images", "images/1/delete"):
        response = client.post(f"/seller/gigs/{gig_id}/{path}", data={"csrf_token": token, **EDIT_FIELDS})
        assert response.status_code == 403, path
    assert client.get("/seller/gigs/99999/edit").status_code == 404
    assert gig_row(acme, gig_id) == before


def test_status_buttons_need_csrf(acme, seller_client, make_gig, gig_row):
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    assert client.post(f"/seller/gigs/{gig_id}/pause").status_code == 400
    assert gig_row(acme, gig_id)["status"] == "active"


def test_drafts_are_404_to_others_and_a_preview_to_their_owner(
    acme, seller_client, make_gig, gig_row, tenant_client
):
    client, seller_id = seller_client(acme)
    slugs = {
        s: gig_row(acme, make_gig(acme, seller_id, status=s))["slug"] for s in ("draft", "paused", "archived")
    }
    for slug in slugs.values():
        assert tenant_client("acme").get(f"/gigs/{slug}").status_code == 404
        owner_view = client.get(f"/gigs/{slug}")
        assert owner_view.status_code == 200 and 'data-testid="preview-banner"' in owner_view.get_data(
            as_text=True
        )


def test_public_page_escapes_everything_and_links_the_seller(
    acme, tenant_client, make_seller, make_gig, gig_row, in_tenant
):
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id, description="<script>alert('x')</script> **safe**")
    with in_tenant(acme):
        from app.accounts.models import User
        from tenants.db import db

        handle = db.session.get(User, seller_id).handle
    page = tenant_client("acme").get(f"/gigs/{gig_row(acme, gig_id)['slug']}").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert f'href="/u/{handle}"' in page
    profile = tenant_client("acme").get(f"/u/{handle}").get_data(as_text=True)
    assert 'data-testid="profile-gigs"' in profile and "I will design a modern minimalist logo" in profile


def test_category_page_lists_active_gigs_and_paginates(
    acme, make_seller, make_gig, gig_row, in_tenant, tenant_client
):
    seller_id = make_seller(acme)
    active = make_gig(acme, seller_id, title="I will design a live and visible logo")
    make_gig(acme, seller_id, status="paused", title="I will design a paused hidden logo")
    with in_tenant(acme):
        from app.gigs.models import Gig
        from tenants.db import db

        category = db.session.get(Gig, active).category
        slugs = (category.slug, category.parent.slug)
    client = tenant_client("acme")
    for slug in slugs:
        page = client.get(f"/c/{slug}").get_data(as_text=True)
        assert "I will design a live and visible logo" in page and "paused hidden" not in page
    for page in ("999999999", "99999999999999999999", "-1", "abc"):
        assert client.get(f"/c/{slugs[0]}?page={page}").status_code == 200
    assert client.get("/c/no-such-category").status_code == 404


def test_equal_ids_in_acme_and_globex_never_meet_on_the_web(
    acme, globex, seller_client, make_gig, gig_row, tenant_client, web
):
    acme_client, acme_seller = seller_client(acme, "same@example.com")
    globex_client, globex_seller = seller_client(globex, "same@example.com")
    acme_gig = make_gig(acme, acme_seller, title="I will design an acme logo for you")
    globex_gig = make_gig(globex, globex_seller, title="I will design a globex logo for you")
    assert acme_gig == globex_gig
    acme_slug, globex_slug = gig_row(acme, acme_gig)["slug"], gig_row(globex, globex_gig)["slug"]

    assert tenant_client("globex").get(f"/gigs/{acme_slug}").status_code == 404
    assert tenant_client("acme").get(f"/gigs/{globex_slug}").status_code == 404
    assert "acme logo" in acme_client.get(f"/seller/gigs/{acme_gig}/edit").get_data(as_text=True)
    assert "globex logo" in globex_client.get(f"/seller/gigs/{globex_gig}/edit").get_data(as_text=True)

    globex_before = gig_row(globex, globex_gig)
    token = web.csrf_token(acme_client, "/seller/gigs")
    assert acme_client.post(f"/seller/gigs/{acme_gig}/pause", data={"csrf_token": token}).status_code == 303
    assert gig_row(acme, acme_gig)["status"] == "paused"
    assert gig_row(globex, globex_gig) == globex_before
    # The acme session cookie is worthless on globex's host.
    acme_cookie = acme_client.get_cookie("session", domain=acme_client.host)
    stranger = tenant_client("globex")
    stranger.set_cookie("session", acme_cookie.value, domain=stranger.host)
    assert stranger.get(f"/seller/gigs/{globex_gig}/edit").status_code == 302  # to the login page


def test_the_public_page_reads_the_seller_level_breadcrumb_and_packages_with_the_gig(
    acme, globex, tenant_client, make_seller, make_gig, gig_row, app
):
    from tests.helpers import statements_of

    slugs = {}
    for tenant in (acme, globex):  # equal gig ids in the two schemas
        seller = make_seller(tenant, display_name=f"{tenant.slug} seller")
        slugs[tenant.slug] = gig_row(
            tenant, make_gig(tenant, seller, title=f"I will draw {tenant.slug} maps")
        )["slug"]
    client = tenant_client("acme")
    client.get(f"/gigs/{slugs['acme']}")  # the tenant's caches filled
    sent = statements_of(app, lambda: client.get(f"/gigs/{slugs['acme']}"))
    lazy = [
        s
        for s in sent
        if "FROM tenant_acme.seller_profiles" in s or s.lstrip().startswith("SELECT tenant_acme.categories.")
    ]
    assert not lazy, lazy  # the seller's profile and the category's parent came with the gig
    packages = [s for s in sent if s.lstrip().startswith("SELECT tenant_acme.gig_packages.")]
    assert not packages, packages  # and the packages
    page = client.get(f"/gigs/{slugs['acme']}").get_data(as_text=True)
    assert "acme seller" in page and "globex" not in page
    assert tenant_client("globex").get(f"/gigs/{slugs['acme']}").status_code == 404
