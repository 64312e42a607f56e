"""The local-services demo (#18): HomeHero is seeded with its own category tree, location search
on, GBP, and on-site gigs around real cities; "plumber near Manchester within 10 km" finds
plumbers with distances on the page and through the API. The tenant is dropped afterwards (the
suite's other tests know only acme and globex)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core import geo
from app.demo import local
from app.demo.seed import DEMO_TENANTS, seed_demo
from app.gigs.models import Category, Gig
from app.settings.services import get_branding
from tenants.db import db
from tenants.provisioning import drop_tenant
from tenants.resolver import get_tenant_by_slug

SPEC = next(spec for spec in DEMO_TENANTS if spec.get("local"))


@pytest.fixture
def homehero(app, search_index_dir):
    with app.app_context():
        lines = seed_demo(sellers_per_tenant=12, gigs_per_tenant=60, orders_per_tenant=0, tenants=[SPEC])
        ref = get_tenant_by_slug(SPEC["slug"])
    app.extensions["tenants"].invalidate()
    yield lines, ref
    with app.app_context():
        drop_tenant(SPEC["slug"])
    app.extensions["tenants"].invalidate()


def test_the_local_demo_has_service_areas_and_answers_near_searches(homehero, in_tenant, tenant_client):
    lines, ref = homehero
    assert any(line.startswith("homehero: added 12 sellers, 60 gigs") for line in lines), lines
    with in_tenant(ref):
        branding = get_branding()
        assert branding.location_enabled and branding.default_country == "GB" and branding.currency == "GBP"
        visible = {c.name for c in db.session.scalars(sa.select(Category)) if c.is_visible}
        assert {top for top, _children in local.TREE} <= visible and "Graphics & Design" not in visible
        gigs = db.session.scalars(sa.select(Gig).where(Gig.status == "active")).all()
        on_site = [g for g in gigs if g.delivery_mode == "on_site"]
        assert len(on_site) >= len(gigs) // 2
        for gig in on_site:
            assert gig.location_name in local.CITIES and gig.location_country == "GB"
            city = geo.find_city(gig.location_name, prefer_country="GB")
            assert geo.haversine_km(city.lat, city.lng, gig.latitude, gig.longitude) <= 4.01
            assert gig.service_radius_km in local.RADII
        plumber = next(
            g for g in on_site if g.category.parent is not None and g.category.parent.name == "Plumbing"
        )
        city, gig_id = plumber.location_name, plumber.id
    # The buyer's search near the plumber's city within 10 km: the city centre is at most ~4 km
    # from the base and every radius is at least 5 km, so the plumber is listed, with a distance.
    client = tenant_client("homehero")
    api = client.get(f"/api/v1/gigs?q=plumber&near={city}&within_km=10&sort=distance&mode=on_site")
    assert api.status_code == 200, api.json
    items = api.json["items"] if isinstance(api.json, dict) else api.json
    distances = [item["distance_km"] for item in items]
    assert gig_id in [item["id"] for item in items]
    assert distances == sorted(distances) and all(0 <= d <= 10 for d in distances)
    html = client.get(f"/search?q=plumber&near={city}&within=10&sort=distance").get_data(as_text=True)
    assert f'data-gig-id="{gig_id}"' in html or f"/gigs/{gig_id}" in html or "km away" in html
    assert "km away" in html
