"""Catalog REST API: the category tree and gigs (CRUD for their seller, read for everyone).

Views are thin: parse with a schema, call one service, serialize; the request's unit of
work commits. Service refusals (``GigError`` and subclasses, all ``DomainError``) go to the
central handler with their HTTP status: 403 someone else's gig or not a seller, 404
unknown, 409 wrong state (an archived gig), 412 stale version, 422 field errors. Field
errors come in smorest's shape ``{"errors": {"json": {...}}}``; the services' dotted names
are nested (``packages.basic.price_minor`` -> ``{"packages": {"basic": {"price_minor": [msg]}}}``;
package errors are keyed by tier, extras and FAQ entries by index).

Gig resources carry an ETag that follows the gig's ``version``. ``PATCH``
requires ``If-Match`` (428 without it, 412 when the gig changed since).
``GET /api/v1/gigs`` (search) belongs to ``app/search``.
"""

from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_smorest import abort

from app.accounts import tokens
from app.core.api import Blueprint, cached_answer
from app.core.http import LOCATION, created
from app.gigs import services
from app.gigs.schemas import CategorySchema, GigInputSchema, GigPatchSchema, GigSchema, gig_etag_data

blp = Blueprint(
    "categories_api",
    __name__,
    url_prefix="/api/v1/categories",
    description="The marketplace's category tree (category -> subcategory).",
)

gigs_blp = Blueprint(
    "gigs_api",
    __name__,
    url_prefix="/api/v1",
    description="Gigs: create, edit, publish, pause and archive your gigs; read anyone's active gigs. "
    "Prices are integer minor units of the marketplace currency.",
)


@blp.route("")
class Categories(MethodView):
    @cached_answer(services.CATEGORY_CACHE)  # the JSON made once per change of the tree
    @blp.response(200, CategorySchema(many=True))
    @blp.paginate_list()
    def get(self):
        """List the visible categories with their subcategories."""
        return services.api_category_tree()


# --- helpers -----------------------------------------------------------------------


def auth_required(view):
    """A view for signed-in API clients: checks the bearer token and documents it."""
    view = gigs_blp.alt_response(401, response="UNAUTHORIZED")(view)
    view = gigs_blp.doc(security=[{"bearerAuth": []}])(view)
    return tokens.token_auth_required(view)


def _optional_user():
    """The token's user when an Authorization header is sent (401 if it is bad), else None."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    user = tokens.authenticate_bearer(header)
    if user is None:
        abort(
            401, message="The access token is invalid or has expired.", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


def _own_gig(gig_id: int):
    return services.get_gig_for_owner(g.api_user, gig_id)


GIG_EXAMPLE = {
    "title": "I will design a minimalist logo for your brand",
    "description": "A **clean** logo.\n\n- three concepts\n- vector files",
    "category_id": 9,
    "tags": ["logo", "branding"],
    "packages": [
        {
            "tier": "basic",
            "title": "Starter",
            "price_minor": 5000,
            "delivery_days": 5,
            "revisions": 2,
            "features": ["1 concept"],
        },
        {
            "tier": "premium",
            "title": "Brand kit",
            "price_minor": 25000,
            "delivery_days": 7,
            "revisions": -1,
            "features": ["5 concepts", "Brand guide"],
        },
    ],
    "extras": [{"title": "Fast delivery", "price_minor": 3000, "extra_days": -2}],
    "faqs": [{"question": "Do I own the rights?", "answer": "Yes, all of them."}],
}


# --- gigs -----------------------------------------------------------------------------


@gigs_blp.route("/gigs")
class Gigs(MethodView):
    @auth_required
    @gigs_blp.etag
    @gigs_blp.arguments(GigInputSchema, example=GIG_EXAMPLE)
    @gigs_blp.response(201, GigSchema, headers=LOCATION)
    @gigs_blp.alt_response(403, response="FORBIDDEN", description="You have no seller profile")
    def post(self, body):
        """Create a gig (as a draft). Only the title is required now; publishing checks the rest."""
        gig = services.create_gig(g.api_user, body)
        gigs_blp.set_etag(gig_etag_data(gig))
        return created(gig, "gigs_api.GigResource", gig_id=gig.id)


@gigs_blp.route("/gigs/<int(max=2147483647):gig_id>")
class GigResource(MethodView):
    @gigs_blp.etag
    @gigs_blp.response(200, GigSchema)
    @gigs_blp.alt_response(404, response="NOT_FOUND")
    @gigs_blp.doc(security=[{}, {"bearerAuth": []}])
    def get(self, gig_id):
        """Read a gig. Anyone reads an active gig; its seller (signed in) reads every status."""
        gig = services.get_visible_gig(gig_id, _optional_user())
        gigs_blp.set_etag(gig_etag_data(gig))
        return gig

    @auth_required
    @gigs_blp.etag
    @gigs_blp.arguments(GigPatchSchema(partial=True), example={"title": "I will design a bold vintage logo"})
    @gigs_blp.response(200, GigSchema)
    @gigs_blp.alt_response(403, response="FORBIDDEN", description="Not your gig")
    @gigs_blp.alt_response(404, response="NOT_FOUND")
    @gigs_blp.alt_response(409, response="CONFLICT", description="The gig is archived")
    def patch(self, body, gig_id):
        """Change some fields of your gig. `If-Match` must carry the ETag of your last read.

        `packages`, `extras` and `faqs` replace the whole list when given. A published
        gig stays published and must keep its basic package, description and category.
        """
        gig = _own_gig(gig_id)
        gigs_blp.check_etag(gig_etag_data(gig))
        services.update_gig(g.api_user, gig, body, expected_version=gig.version)
        gigs_blp.set_etag(gig_etag_data(gig))
        return gig

    @auth_required
    @gigs_blp.response(204)
    @gigs_blp.alt_response(403, response="FORBIDDEN", description="Not your gig")
    @gigs_blp.alt_response(404, response="NOT_FOUND")
    def delete(self, gig_id):
        """Archive your gig: it leaves the catalog for good (orders keep referring to it)."""
        gig = _own_gig(gig_id)
        services.archive_gig(g.api_user, gig)


def _transition(action: str, doc: str):
    service = {"publish": services.publish_gig, "pause": services.pause_gig, "archive": services.archive_gig}[
        action
    ]

    class Transition(MethodView):
        @auth_required
        @gigs_blp.etag
        @gigs_blp.response(200, GigSchema)
        @gigs_blp.alt_response(403, response="FORBIDDEN", description="Not your gig")
        @gigs_blp.alt_response(404, response="NOT_FOUND")
        @gigs_blp.alt_response(409, response="CONFLICT", description="Not possible in the gig's status")
        def post(self, gig_id):
            gig = _own_gig(gig_id)
            service(g.api_user, gig)
            gigs_blp.set_etag(gig_etag_data(gig))
            return gig

    Transition.post.__doc__ = doc
    Transition.__name__ = f"Gig{action.title()}"
    gigs_blp.route(f"/gigs/<int(max=2147483647):gig_id>/{action}", endpoint=f"gig_{action}")(Transition)


_transition(
    "publish",
    "Publish a draft or paused gig.\n\nRefused with 422 and the missing fields when the gig is "
    "incomplete (title, description, category, basic package). Publishing an active gig changes nothing.",
)
_transition("pause", "Pause an active gig: it leaves the catalog until you publish it again.")
_transition("archive", "Archive a gig for good (same as DELETE, but answers with the gig).")


@gigs_blp.route("/me/gigs")
class MyGigs(MethodView):
    @auth_required
    @gigs_blp.response(200, GigSchema(many=True))
    @gigs_blp.paginate()
    def get(self, pagination_parameters):
        """Your gigs in every status but archived, newest first (paginated: `page`, `page_size`)."""
        gigs, total = services.list_seller_gigs(
            g.api_user,
            include_drafts=True,
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return gigs
