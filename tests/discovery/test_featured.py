"""The operator's featured gigs: the console page (list with thumbnails, add by id or from a title
search, move up / down, remove) and the console API (GET / PUT), for moderators and admins only.
Every change is audited and publishes ``home.changed``; bad input (an unknown or paused gig, a
repeated id, more than 24) is refused with field errors and nothing is stored; tenants never meet.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.console.models import AuditEntry
from app.discovery import featured
from app.discovery.models import FEATURED_MAX, FeaturedGig
from app.events.models import OutboxEvent
from app.gigs import services as gig_services
from app.gigs.models import Gig
from tenants.db import db
from tests.conftest import ADMIN_PASSWORD
from tests.discovery.home_kit import bearer_headers, csrf_token, login

PAGE = "/console/featured-gigs"
API = "/api/v1/console/featured-gigs"


def admin_web(tenant_client, tenant):
    return login(tenant_client(tenant.slug), f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def admin_api(tenant_client, tenant):
    client = tenant_client(tenant.slug)
    return client, bearer_headers(client, f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def stored(in_tenant, tenant) -> list[int]:
    with in_tenant(tenant):
        return featured.featured_ids()


def audits(in_tenant, tenant) -> list[tuple[str, str | None, dict]]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.startswith("featured.")).order_by(AuditEntry.id)
        )
        return [(row.action, row.target_id, row.changes) for row in rows]


def home_events(in_tenant, tenant) -> int:
    with in_tenant(tenant):
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxEvent).where(OutboxEvent.name == "home.changed")
        )


def add(client, gig_id):
    return client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE), "gig_id": str(gig_id)})


# --------------------------------------------------------------------------- the console page


def test_an_operator_features_gigs_reorders_and_removes_them_on_the_page(
    acme, tenant_client, in_tenant, shop
):
    s = shop(acme)
    client = admin_web(tenant_client, acme)
    assert 'data-testid="featured-empty"' in client.get(PAGE).get_data(as_text=True)

    assert add(client, s.logo).status_code == 303
    assert add(client, f"#{s.site}").status_code == 303  # "#42" as the console shows ids
    assert stored(in_tenant, acme) == [s.logo, s.site]
    html = client.get(PAGE).get_data(as_text=True)
    assert html.index(f'data-testid="featured-{s.logo}"') < html.index(f'data-testid="featured-{s.site}"')
    assert re.search(
        rf'id="featured-{s.logo}".*?<img src="[^"]+" alt="" class="featured-admin-thumb"', html, re.S
    )

    token = csrf_token(client, PAGE)
    response = client.post(f"{PAGE}/{s.site}/move", data={"csrf_token": token, "position": "0"})
    assert response.status_code == 303
    assert stored(in_tenant, acme) == [s.site, s.logo]
    assert client.post(f"{PAGE}/{s.site}/remove", data={"csrf_token": token}).status_code == 303
    assert stored(in_tenant, acme) == [s.logo]

    assert [(a, t) for a, t, _ in audits(in_tenant, acme)] == [
        ("featured.add", str(s.logo)),
        ("featured.add", str(s.site)),
        ("featured.move", str(s.site)),
        ("featured.remove", str(s.site)),
    ]
    assert audits(in_tenant, acme)[2][2] == {"gig_ids": [[s.logo, s.site], [s.site, s.logo]]}
    assert home_events(in_tenant, acme) == 4


def test_the_page_finds_live_gigs_by_title_to_feature(acme, tenant_client, in_tenant, shop):
    s = shop(acme)
    with in_tenant(acme):
        gig_services.pause_gig(db.session.get(User, s.ada), db.session.get(Gig, s.cards))
        db.session.commit()
    client = admin_web(tenant_client, acme)
    html = client.get(PAGE, query_string={"q": "design"}).get_data(as_text=True)
    assert f'data-testid="feature-{s.logo}"' in html
    assert f'data-testid="result-{s.cards}"' not in html  # paused: not offered
    assert f'data-testid="result-{s.site}"' not in html  # no "design" in its title
    html = client.get(PAGE, query_string={"q": f"#{s.site}"}).get_data(as_text=True)
    assert f'data-testid="feature-{s.site}"' in html


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("999999", "There is no gig #999999."),
        ("paused", "is paused: only live gigs can be featured."),
        ("twice", "is already featured."),
        ("logo design", "Enter a gig id (a number)."),
        ("", "Enter a gig id (a number)."),
    ],
)
def test_a_refused_add_shows_the_reason_and_stores_nothing(
    acme, tenant_client, in_tenant, shop, add_gig, value, message
):
    s = shop(acme)
    paused = add_gig(acme, s.bob, "I will write a paused product description", status="paused")
    client = admin_web(tenant_client, acme)
    assert add(client, s.logo).status_code == 303
    value = {"paused": str(paused), "twice": str(s.logo)}.get(value, value)
    response = add(client, value)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert stored(in_tenant, acme) == [s.logo]
    assert len(audits(in_tenant, acme)) == 1 and home_events(in_tenant, acme) == 1


def test_a_paused_featured_gig_stays_listed_with_its_status(acme, tenant_client, in_tenant, shop):
    s = shop(acme)
    with in_tenant(acme):
        featured.set_featured(None, [s.logo, s.site])
        gig_services.pause_gig(db.session.get(User, s.bob), db.session.get(Gig, s.site))
        db.session.commit()
    html = admin_web(tenant_client, acme).get(PAGE).get_data(as_text=True)
    assert f'data-testid="featured-status-{s.site}"' in html
    with in_tenant(acme):
        assert [g.id for g in featured.featured_gigs()] == [s.logo]


# --------------------------------------------------------------------------- the API


def test_api_reads_and_replaces_the_featured_gigs(acme, tenant_client, in_tenant, shop):
    s = shop(acme)
    client, headers = admin_api(tenant_client, acme)
    assert client.get(API, headers=headers).json == {"gig_ids": [], "gigs": [], "max": FEATURED_MAX}

    response = client.put(API, json={"gig_ids": [s.site, s.logo]}, headers=headers)
    assert response.status_code == 200
    assert response.json["gig_ids"] == [s.site, s.logo]
    first, second = response.json["gigs"]
    assert (first["position"], first["title"], first["shown"]) == (
        0,
        "I will build a fast landing page website",
        True,
    )
    assert second["thumb_url"] and first["thumb_url"] is None  # only the logo gig has an image
    assert stored(in_tenant, acme) == [s.site, s.logo]
    [(action, _target, changes)] = audits(in_tenant, acme)
    assert action == "featured.update" and changes == {"gig_ids": [[], [s.site, s.logo]]}
    with in_tenant(acme):
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "featured.update"))
        assert entry.via == "api"

    # The same list again changes nothing worth auditing; [] features none.
    assert client.put(API, json={"gig_ids": [s.site, s.logo]}, headers=headers).status_code == 200
    assert len(audits(in_tenant, acme)) == 1
    assert client.put(API, json={"gig_ids": []}, headers=headers).json["gig_ids"] == []
    assert stored(in_tenant, acme) == []


def test_api_refuses_bad_lists_with_field_errors_and_stores_nothing(
    acme, tenant_client, in_tenant, shop, add_gig
):
    s = shop(acme)
    paused = add_gig(acme, s.bob, "I will write a paused product description", status="paused")
    client, headers = admin_api(tenant_client, acme)
    assert client.put(API, json={"gig_ids": [s.icon]}, headers=headers).status_code == 200

    def refused(body):
        response = client.put(API, json=body, headers=headers)
        assert response.status_code == 422, response.json
        return response.json["errors"]["json"]

    assert refused({"gig_ids": [s.logo, 999999]}) == {"gig_ids": {"1": ["There is no gig #999999."]}}
    errors = refused({"gig_ids": [paused]})
    assert errors["gig_ids"]["0"] == [f"Gig #{paused} is paused: only live gigs can be featured."]
    errors = refused({"gig_ids": [s.logo, s.site, s.logo]})
    assert errors["gig_ids"]["2"] == [f"Gig #{s.logo} is already in the list."]
    assert "repeated" in errors["gig_ids"]["_schema"][0]
    errors = refused({"gig_ids": list(range(1, FEATURED_MAX + 2))})
    assert errors["gig_ids"]["_schema"] == [
        f"Feature at most {FEATURED_MAX} gigs (this list has {FEATURED_MAX + 1})."
    ]
    assert "gig_ids" in refused({"gig_ids": ["one"]})
    assert "gig_ids" in refused({"gig_ids": 5})
    assert "gig_ids" in refused({})

    assert stored(in_tenant, acme) == [s.icon]
    assert len(audits(in_tenant, acme)) == 1


# --------------------------------------------------------------------------- who may


def test_moderators_may_feature_gigs_members_and_strangers_may_not(
    acme, tenant_client, in_tenant, shop, make_user
):
    s = shop(acme)
    make_user(acme, email="mod@example.com", role="moderator")
    moderator = login(tenant_client("acme"), "mod@example.com")
    assert moderator.get(PAGE).status_code == 200
    assert 'href="/console/featured-gigs"' in moderator.get("/console/").get_data(as_text=True)
    assert add(moderator, s.logo).status_code == 303
    client = tenant_client("acme")
    headers = bearer_headers(client, "mod@example.com")
    assert client.put(API, json={"gig_ids": [s.site]}, headers=headers).status_code == 200

    member = login(tenant_client("acme"), "buyer@example.com")
    assert member.get(PAGE).status_code == 403
    token = csrf_token(member, "/recently-viewed")
    assert member.post(PAGE, data={"csrf_token": token, "gig_id": str(s.logo)}).status_code == 403
    assert member.post(f"{PAGE}/{s.site}/remove", data={"csrf_token": token}).status_code == 403
    headers = bearer_headers(client, "buyer@example.com")
    assert client.get(API, headers=headers).status_code == 403
    assert client.put(API, json={"gig_ids": []}, headers=headers).status_code == 403
    assert tenant_client("acme").get(API).status_code == 401
    anonymous = tenant_client("acme").get(PAGE)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert stored(in_tenant, acme) == [s.site]


def test_featured_gigs_of_equal_ids_stay_in_their_tenant(acme, globex, tenant_client, in_tenant, shop):
    a, g = shop(acme), shop(globex)
    assert a.logo == g.logo  # the same ids in both schemas
    client, headers = admin_api(tenant_client, acme)
    assert client.put(API, json={"gig_ids": [a.logo]}, headers=headers).status_code == 200
    assert stored(in_tenant, globex) == []
    globex_client, globex_headers = admin_api(tenant_client, globex)
    assert globex_client.get(API, headers=globex_headers).json["gig_ids"] == []
    # The acme admin's token means nothing on globex.
    assert globex_client.get(API, headers=headers).status_code == 401
    assert audits(in_tenant, globex) == []
    with in_tenant(globex):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FeaturedGig)) == 0
