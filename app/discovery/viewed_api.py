"""Recently viewed gigs in the REST API: ``GET /api/v1/me/recently-viewed`` (the caller's last
viewed live gigs, most recent first) and ``DELETE /api/v1/me/recently-viewed`` (forget them).

Views are recorded by the gig page (``app/discovery/viewed.py``), not through the API. Thin: one
service call each; the request's unit of work commits.
"""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import fields

from app.accounts import tokens
from app.core.api import Blueprint
from app.discovery import viewed
from app.discovery.models import RECENTLY_VIEWED_KEPT
from app.gigs.schemas import GigSchema

blp = Blueprint(
    "recently_viewed_api",
    __name__,
    url_prefix="/api/v1",
    description="Discovery: the gigs you viewed last (kept per user, the 30 most recent).",
)

auth_required = tokens.api_auth(blp, {})

CARD_FIELDS = (
    "id",
    "slug",
    "url",
    "title",
    "category",
    "tags",
    "currency",
    "min_price_minor",
    "min_delivery_days",
    "rating_avg",
    "rating_count",
    "images",
    "seller",
)


class RecentlyViewedGigSchema(GigSchema):
    """A live gig as a card, with when the caller last opened its page."""

    viewed_at = fields.DateTime()

    class Meta:
        fields = (*CARD_FIELDS, "viewed_at")


@blp.route("/me/recently-viewed")
class RecentlyViewed(MethodView):
    @auth_required()
    @blp.response(200, RecentlyViewedGigSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """The live gigs you opened last, most recent first (up to 30; paused or archived ones
        are left out). Opening a gig's page on the web records it; your own gigs never appear."""
        return viewed.recently_viewed(g.api_user, RECENTLY_VIEWED_KEPT)

    @auth_required()
    @blp.response(204)
    def delete(self):
        """Forget every gig you viewed (the home page's "Recently viewed" and "Because you viewed"
        rows are empty until you open gigs again)."""
        viewed.clear_recently_viewed(g.api_user)
