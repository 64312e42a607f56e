"""Console API of the featured gigs under ``/api/v1/console``: ``GET /featured-gigs`` (the list
in home page order, any status) and ``PUT /featured-gigs`` ``{gig_ids: [...]}`` (replace it).

Thin: parse with a schema, call one console action (``actions.py``: discovery's rule plus the
audit entry), serialize; the request's unit of work commits. A refused list (an unknown or
inactive gig, more than 24, a repeated id) is a 422 with field errors in
``errors.json.gig_ids`` (the list) and ``errors.json.gig_ids.<index>`` (one id); nothing is
stored then. Moderators and admins, as for gig moderation.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask.views import MethodView

from app.console.access import MODERATOR, api_console_required, console_user
from app.console.blueprints import blp
from app.console.featured import actions
from app.console.featured import schemas as s
from app.discovery import featured
from app.discovery.models import FEATURED_MAX
from app.gigs.services import image_url


def _listing() -> dict:
    gigs = featured.featured_entries()
    return {
        "gig_ids": [gig.id for gig in gigs],
        "max": FEATURED_MAX,
        "gigs": [
            SimpleNamespace(
                id=gig.id,
                position=position,
                title=gig.title,
                slug=gig.slug,
                status=gig.status,
                shown=gig.status == "active" and gig.seller.status == "active",
                seller_name=gig.seller.display_name,
                category_name=gig.category.name if gig.category else None,
                thumb_url=image_url(gig.cover.thumb_key) if gig.cover else None,
            )
            for position, gig in enumerate(gigs)
        ],
    }


@blp.route("/featured-gigs", endpoint="featured_gigs")
class ConsoleFeaturedGigs(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, s.ConsoleFeaturedListSchema)
    def get(self):
        """The featured gigs in home page order, whatever their status (`shown`: whether the home
        page shows it now; a paused gig stays listed until removed)."""
        return _listing()

    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleFeaturedInputSchema, example={"gig_ids": [42, 7]})
    @blp.response(200, s.ConsoleFeaturedListSchema)
    @blp.alt_response(
        422,
        response="DEFAULT_ERROR",
        description="An unknown or inactive gig (`errors.json.gig_ids.<index>`), more than "
        f"{FEATURED_MAX} or a repeated id (`errors.json.gig_ids`)",
    )
    def put(self, body):
        """Replace the featured gigs: exactly these, in this order. The home page shows them at
        once. Written to the audit log as `featured.update`."""
        actions.set_featured(console_user(), body["gig_ids"])
        return _listing()
