"""Gig cards with a cover image render on every page that lists gigs."""

import io

from PIL import Image

from app.accounts.models import User
from app.gigs import services as gigs
from app.gigs.models import Gig
from tenants.db import db


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_search_category_and_profile_pages_show_gig_cards_with_images(
    acme, seller, make_gig, in_tenant, run_jobs, tenant_client
):
    gig_id = make_gig(acme, seller, title="I will design a bold watercolor logo")
    with in_tenant(acme):
        gig = db.session.get(Gig, gig_id)
        gigs.add_gig_image(db.session.get(User, seller), gig, _png())
        db.session.commit()
        category_slug = gig.category.slug
        handle = db.session.get(User, seller).handle
    run_jobs()
    client = tenant_client("acme")
    for path in ("/search?q=watercolor", f"/c/{category_slug}", f"/u/{handle}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"gig-card-image" in response.data, path
