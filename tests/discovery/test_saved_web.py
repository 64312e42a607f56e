"""Saved gigs on the web: hearts on cards and on the gig page (with and without JavaScript),
the "Save to list" chooser, /saved and /saved/<id>, the seller's "Saved by N buyers"."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from app.discovery import saved
from app.discovery.models import SavedList
from app.gigs.models import Gig
from tenants.db import db
from tests.helpers import csrf_token, login

JSON = {"Accept": "application/json"}


@pytest.fixture
def pages(in_tenant):
    """``pages(tenant, gig_id)`` -> (gig page path, its category page path)."""

    def paths(tenant, gig_id):
        with in_tenant(tenant):
            gig = db.session.get(Gig, gig_id)
            return f"/gigs/{gig.slug}", f"/c/{gig.category.slug}"

    return paths


@pytest.fixture
def buyer_client(tenant_client):
    def make(tenant, email=None):
        client = tenant_client(tenant.slug)
        login(client, email or f"buyer@{tenant.slug}.test")
        return client

    return make


def _heart(html: str, gig_id: int) -> str:
    match = re.search(rf'<button[^>]*data-testid="heart-{gig_id}"[^>]*>', html)
    assert match, f"no heart for gig {gig_id}"
    return match.group(0)


def test_cards_and_the_gig_page_carry_a_heart_that_saves_without_javascript(
    acme, saved_shop, pages, buyer_client, as_user
):
    s = saved_shop(acme)
    gig_page, category_page = pages(acme, s.gigs[0])
    client = buyer_client(acme)
    html = client.get(category_page).get_data(as_text=True)
    assert 'aria-pressed="false"' in _heart(html, s.gigs[0]) and "heart-" + str(s.gigs[1]) in html
    token = csrf_token(client, category_page)
    response = client.post(
        f"/saved/gigs/{s.gigs[0]}", data={"csrf_token": token, "action": "save", "next": category_page}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(category_page)
    html = client.get(category_page).get_data(as_text=True)
    assert 'aria-pressed="true"' in _heart(html, s.gigs[0])
    assert 'aria-pressed="false"' in _heart(html, s.gigs[1])
    page = client.get(gig_page).get_data(as_text=True)
    assert 'aria-pressed="true"' in _heart(page, s.gigs[0]) and 'data-testid="save-chooser"' in page
    # Unsave: from every list.
    client.post(f"/saved/gigs/{s.gigs[0]}", data={"csrf_token": token, "action": "unsave", "next": gig_page})
    with as_user(acme, s.buyer) as buyer:
        assert not saved.is_saved(buyer, s.gigs[0])


def test_the_heart_toggles_in_place_with_json(acme, saved_shop, buyer_client, pages, as_user):
    s = saved_shop(acme)
    gig_page, _ = pages(acme, s.gigs[0])
    client = buyer_client(acme)
    token = csrf_token(client, gig_page)
    on = client.post(f"/saved/gigs/{s.gigs[0]}", data={"csrf_token": token, "action": "save"}, headers=JSON)
    assert on.status_code == 200 and on.json == {"gig_id": s.gigs[0], "saved": True, "label": "Saved"}
    off = client.post(
        f"/saved/gigs/{s.gigs[0]}", data={"csrf_token": token, "action": "unsave"}, headers=JSON
    )
    assert off.json["saved"] is False and off.json["label"] == "Save"
    missing = client.post("/saved/gigs/987654", data={"csrf_token": token}, headers=JSON)
    assert missing.status_code == 422 and missing.json["message"] == "This gig does not exist."
    # Without the CSRF token nothing happens.
    assert client.post(f"/saved/gigs/{s.gigs[0]}", data={"action": "save"}, headers=JSON).status_code == 400
    with as_user(acme, s.buyer) as buyer:
        assert not saved.is_saved(buyer, s.gigs[0])


def test_visitors_are_sent_to_log_in_and_back(acme, saved_shop, tenant_client, pages):
    s = saved_shop(acme)
    gig_page, category_page = pages(acme, s.gigs[0])
    client = tenant_client("acme")
    html = client.get(category_page + "?sort=newest").get_data(as_text=True)
    # Every card's heart (the link is built once per page) and the gig page's: back to that page.
    for gig_id in s.gigs[:2]:
        link = re.search(rf'<a href="([^"]+)"[^>]*data-testid="heart-{gig_id}"', html)
        assert link and unquote(link.group(1)) == f"/login?next={category_page}?sort=newest"
    page = client.get(gig_page).get_data(as_text=True)
    link = re.search(rf'<a href="([^"]+)"[^>]*data-testid="heart-{s.gigs[0]}"', page)
    assert link and unquote(link.group(1)) == f"/login?next={gig_page}"
    token = csrf_token(client, "/login")  # a visitor's gig page has no form
    response = client.post(f"/saved/gigs/{s.gigs[0]}", data={"csrf_token": token, "next": gig_page})
    assert response.status_code == 303 and "/login?next=" in response.headers["Location"]
    assert "gigs" in response.headers["Location"]
    as_json = client.post(f"/saved/gigs/{s.gigs[0]}", data={"csrf_token": token}, headers=JSON)
    assert as_json.status_code == 401 and as_json.json["login_url"].startswith("/login")
    assert client.get("/saved").status_code == 302


def test_a_paused_gig_cannot_be_saved_and_the_refusal_is_shown(
    acme, saved_shop, buyer_client, make_gig, pages
):
    s = saved_shop(acme)
    paused = make_gig(acme, s.seller, status="paused", title="I will paint your portrait today")
    gig_page, _ = pages(acme, s.gigs[0])
    client = buyer_client(acme)
    token = csrf_token(client, gig_page)
    response = client.post(
        f"/saved/gigs/{paused}",
        data={"csrf_token": token},
        headers={"Referer": f"http://acme.localhost{gig_page}"},
    )
    assert response.status_code == 303
    assert "not available" in client.get(gig_page).get_data(as_text=True)


def test_save_to_a_chosen_or_a_new_list_from_the_gig_page(acme, saved_shop, buyer_client, pages, as_user):
    s = saved_shop(acme)
    gig_page, _ = pages(acme, s.gigs[0])
    client = buyer_client(acme)
    token = csrf_token(client, gig_page)
    created = client.post(
        f"/saved/gigs/{s.gigs[0]}", data={"csrf_token": token, "new_list": " Logo ideas ", "next": gig_page}
    )
    assert created.status_code == 303
    with as_user(acme, s.buyer) as buyer:
        lists = {x.name: x for x in saved.lists_of(buyer)}
        assert lists["Logo ideas"].count == 1 and lists["Saved"].count == 0
        default_id = lists["Saved"].id
    html = client.get(gig_page).get_data(as_text=True)
    assert f'data-testid="save-to-list-{default_id}"' in html
    client.post(f"/saved/gigs/{s.gigs[0]}", data={"csrf_token": token, "list_id": default_id})
    with as_user(acme, s.buyer) as buyer:
        assert {x.name: x.count for x in saved.lists_of(buyer)} == {"Saved": 1, "Logo ideas": 1}
    dup = client.post(
        f"/saved/gigs/{s.gigs[0]}",
        data={"csrf_token": token, "new_list": "LOGO IDEAS"},
        headers={"Referer": f"http://acme.localhost{gig_page}"},
    )
    assert dup.status_code == 303
    assert "already have a list named" in client.get(gig_page).get_data(as_text=True)


def test_the_lists_page_and_a_list_page(acme, saved_shop, buyer_client, as_user):
    s = saved_shop(acme, gigs=3)
    with as_user(acme, s.buyer) as buyer:
        logos = saved.create_list(buyer, "Logos").id
        saved.save_gig(buyer, s.gigs[0])
        saved.save_gig(buyer, s.gigs[1], logos)
        default_id = saved.default_list(buyer).id
    client = buyer_client(acme)
    html = client.get("/saved").get_data(as_text=True)
    assert 'data-testid="saved-link"' in html
    assert f'data-testid="saved-list-{default_id}"' in html and "Logos" in html
    assert re.search(rf'data-testid="saved-list-count-{logos}">1 gig\b', html)
    page = client.get(f"/saved/{default_id}").get_data(as_text=True)
    assert f'data-testid="saved-item-{s.gigs[0]}"' in page and f"saved-item-{s.gigs[1]}" not in page
    assert 'data-testid="delete-list"' not in page  # the default list
    token = csrf_token(client, f"/saved/{default_id}")
    # Move to Logos, then remove from it.
    moved = client.post(
        f"/saved/{default_id}/gigs/{s.gigs[0]}/move", data={"csrf_token": token, "to_list_id": logos}
    )
    assert moved.status_code == 303
    assert f"saved-item-{s.gigs[0]}" in client.get(f"/saved/{logos}").get_data(as_text=True)
    removed = client.post(f"/saved/{logos}/gigs/{s.gigs[0]}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    with as_user(acme, s.buyer) as buyer:
        assert saved.saved_ids(buyer) == {s.gigs[1]}
    assert client.get("/saved/999999").status_code == 404


def test_create_rename_and_delete_lists_with_errors_on_the_form(acme, saved_shop, buyer_client, as_user):
    s = saved_shop(acme)
    client = buyer_client(acme)
    token = csrf_token(client, "/saved")
    empty = client.post("/saved/lists", data={"csrf_token": token, "name": "   "})
    assert empty.status_code == 422 and "Give the list a name." in empty.get_data(as_text=True)
    made = client.post("/saved/lists", data={"csrf_token": token, "name": "Logos"})
    assert made.status_code == 303
    list_id = int(made.headers["Location"].rsplit("/", 1)[1])
    dup = client.post("/saved/lists", data={"csrf_token": token, "name": "logos"})
    assert dup.status_code == 422 and "already have a list named" in dup.get_data(as_text=True)
    too_long = client.post(f"/saved/{list_id}/rename", data={"csrf_token": token, "name": "x" * 61})
    assert too_long.status_code == 422 and "60 characters" in too_long.get_data(as_text=True)
    renamed = client.post(f"/saved/{list_id}/rename", data={"csrf_token": token, "name": "Brand work"})
    assert renamed.status_code == 303
    assert "Brand work" in client.get(f"/saved/{list_id}").get_data(as_text=True)
    # Delete asks first (no JavaScript: a confirmation page), then deletes.
    ask = client.post(f"/saved/{list_id}/delete", data={"csrf_token": token})
    assert ask.status_code == 200 and "Delete this list?" in ask.get_data(as_text=True)
    done = client.post(f"/saved/{list_id}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303
    with as_user(acme, s.buyer) as buyer:
        assert [x.name for x in saved.lists_of(buyer)] == ["Saved"]
        default_id = saved.default_list(buyer).id
    refused = client.post(
        f"/saved/{default_id}/delete",
        data={"csrf_token": token, "confirm": "yes"},
        headers={"Referer": "http://acme.localhost/saved"},
    )
    assert refused.status_code == 303
    assert "cannot be deleted" in client.get("/saved").get_data(as_text=True)


def test_another_users_list_pages_are_not_found(acme, saved_shop, buyer_client, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.other) as other:
        theirs = saved.create_list(other, "Private").id
        saved.save_gig(other, s.gigs[0], theirs)
    client = buyer_client(acme)
    assert client.get(f"/saved/{theirs}").status_code == 404
    token = csrf_token(client, "/saved")
    for path, data in (
        (f"/saved/{theirs}/rename", {"name": "Mine"}),
        (f"/saved/{theirs}/delete", {"confirm": "yes"}),
        (f"/saved/{theirs}/gigs/{s.gigs[0]}/remove", {}),
    ):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 404
    with as_user(acme, s.other) as other:
        assert (
            saved.list_summary(other, theirs).name == "Private"
            and saved.list_summary(other, theirs).count == 1
        )


def test_sellers_see_how_many_buyers_saved_their_gigs(acme, saved_shop, tenant_client, as_user, pages):
    s = saved_shop(acme)
    for user_id in (s.buyer, s.other, s.seller):
        with as_user(acme, user_id) as user:
            saved.save_gig(user, s.gigs[0])
    gig_page, _ = pages(acme, s.gigs[0])
    seller = tenant_client("acme")
    login(seller, "seller@acme.test")
    listing = seller.get("/seller/gigs").get_data(as_text=True)
    assert re.search(rf'data-testid="saved-by-{s.gigs[0]}">Saved by 2 buyers', listing)
    assert f"saved-by-{s.gigs[1]}" not in listing
    assert re.search(r'data-testid="saved-by">Saved by 2 buyers', seller.get(gig_page).get_data(as_text=True))
    # Buyers do not see the count.
    buyer = tenant_client("acme")
    login(buyer, "buyer@acme.test")
    assert 'data-testid="saved-by"' not in buyer.get(gig_page).get_data(as_text=True)


def test_looking_at_a_gig_writes_nothing_and_the_first_save_makes_the_default_list(
    acme, saved_shop, buyer_client, pages, in_tenant
):
    s = saved_shop(acme)
    gig_page, _ = pages(acme, s.gigs[0])
    client = buyer_client(acme)
    html = client.get(gig_page).get_data(as_text=True)
    assert 'data-testid="save-to-list-default"' in html
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedList)) == 0
    token = csrf_token(client, gig_page)
    client.post(f"/saved/gigs/{s.gigs[0]}", data={"csrf_token": token, "action": "save"})
    html = client.get(gig_page).get_data(as_text=True)
    with in_tenant(acme):
        default_id = db.session.scalar(sa.select(SavedList.id).where(SavedList.is_default))
    assert re.search(rf'data-testid="save-to-list-{default_id}">Saved', html)
