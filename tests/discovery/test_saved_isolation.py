"""Saved gigs never cross tenants: acme and globex hold equal ids (the same user id, gig id and
list id), and each marketplace only ever sees its own lists, gigs, hearts and counts."""

from __future__ import annotations

import re

import pytest

from app.discovery import saved
from app.discovery.errors import DiscoveryNotFound
from app.gigs.models import Gig
from tenants.db import db
from tests.helpers import bearer_headers, login


def test_equal_ids_meet_only_their_own_tenant(
    acme, globex, saved_shop, as_user, in_tenant, tenant_client, make_gig
):
    a = saved_shop(acme, gigs=1)
    b = saved_shop(globex, gigs=1)
    # A second gig only globex has: its id names nothing in acme.
    only_globex = make_gig(globex, b.seller, title="I will build a globex-only landing page")
    assert (a.buyer, a.gigs) == (b.buyer, b.gigs), "the two tenants should hold equal ids"
    with as_user(acme, a.buyer) as buyer:
        a_list = saved.create_list(buyer, "Acme picks").id
        saved.save_gig(buyer, a.gigs[0], a_list)
    with as_user(globex, b.buyer) as buyer:
        b_list = saved.create_list(buyer, "Globex picks").id
        second = saved.create_list(buyer, "Globex only list").id
    assert a_list == b_list

    with as_user(globex, b.buyer) as buyer:
        assert saved.saved_ids(buyer) == set() and not saved.is_saved(buyer, a.gigs[0])
        assert saved.list_summary(buyer, b_list).name == "Globex picks"
        assert saved.list_gigs(buyer, b_list).total == 0
        assert saved.save_counts(a.gigs) == {}
    with as_user(acme, a.buyer) as buyer:
        assert saved.save_counts(a.gigs) == {a.gigs[0]: 1}
        with pytest.raises(DiscoveryNotFound):
            saved.list_gigs(buyer, second)  # globex's list id is unknown in acme

    # The API: globex's gig id saved on acme names acme's gig, or nothing.
    client = tenant_client("acme")
    auth = bearer_headers(client, "buyer@acme.test")
    lists = client.get("/api/v1/saved-lists", headers=auth).json
    assert [x["name"] for x in lists] == ["Saved", "Acme picks"]
    with in_tenant(acme):
        acme_title = db.session.get(Gig, a.gigs[0]).title
    item = client.post(f"/api/v1/saved-lists/{lists[0]['id']}/gigs", json={"gig_id": b.gigs[0]}, headers=auth)
    assert item.status_code == 201 and item.json["gig"]["title"] == acme_title
    foreign = client.post(
        f"/api/v1/saved-lists/{lists[0]['id']}/gigs", json={"gig_id": only_globex}, headers=auth
    )
    assert foreign.status_code == 422
    assert client.get(f"/api/v1/saved-lists/{second}", headers=auth).status_code == 404
    with as_user(globex, b.buyer) as buyer:
        assert saved.saved_ids(buyer) == set()  # acme's saves wrote nothing in globex

    # The web: hearts and pages of globex show globex's state only.
    with in_tenant(globex):
        gig = db.session.get(Gig, b.gigs[0])
        category_page, gig_page = f"/c/{gig.category.slug}", f"/gigs/{gig.slug}"
    web = login(tenant_client("globex"), "buyer@globex.test")
    html = web.get(category_page).get_data(as_text=True)
    heart = re.search(rf'<button[^>]*data-testid="heart-{b.gigs[0]}"[^>]*>', html).group(0)
    assert 'aria-pressed="false"' in heart
    listing = web.get(f"/saved/{b_list}").get_data(as_text=True)
    assert "Globex picks" in listing and "Acme picks" not in listing and "saved-item-" not in listing
    seller = login(tenant_client("globex"), "seller@globex.test")
    assert 'data-testid="saved-by"' in (page := seller.get(gig_page).get_data(as_text=True))
    assert "No buyer saved this gig yet" in page
