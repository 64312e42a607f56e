"""Saved lists REST API: a user's lists of saved gigs.

Thin: parse with a schema, call one service, serialize; the request's unit of work commits.
Refusals: 404 an unknown list (another user's too: ids tell nothing) or a gig not in the
list, 409 deleting the default list, 422 field errors (an empty or taken name, a gig that does
not exist in this marketplace or is not available, an unknown ``to_list_id``, a full list).
"""

from __future__ import annotations

from flask import g, url_for
from flask.views import MethodView

from app.accounts import tokens
from app.core import http
from app.core.api import Blueprint
from app.core.http import created
from app.discovery import saved, saved_schemas

blp = Blueprint(
    "saved_lists_api",
    __name__,
    url_prefix="/api/v1",
    description='Saved gigs: your named lists (the default one, "Saved", is made on first use) and '
    "the gigs in them. A gig paused after it was saved stays in its lists with `available: false`.",
)

LIST = "/saved-lists/<int(max=2147483647):list_id>"
GIG = "/gigs/<int(max=2147483647):gig_id>"
DESCRIPTIONS = {
    404: "No such list (or not yours), or the gig is not in it",
    409: "The default list cannot be deleted",
    422: "Invalid fields (errors.json.<field>)",
}
LOCATION = {"Location": {"description": "The new list's URL", "schema": {"type": "string"}}}

auth_required = tokens.api_auth(blp, DESCRIPTIONS)


@blp.route("/saved-lists")
class SavedLists(MethodView):
    @auth_required()
    @blp.response(200, saved_schemas.SavedListSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """Your lists, the default one first, then oldest first, each with its gig count and
        a cover (at most 50 lists: not paginated)."""
        return saved.lists_of(g.api_user)

    @auth_required(422)
    @blp.arguments(saved_schemas.SavedListInputSchema, example={"name": "Logo ideas"})
    @blp.response(201, saved_schemas.SavedListSchema, headers=LOCATION)
    def post(self, body):
        """Create a list (at most 50). The `Location` header is the new list's URL."""
        created = saved.create_list(g.api_user, body["name"])
        location = url_for("saved_lists_api.SavedList", list_id=created.id)
        return saved.list_summary(g.api_user, created.id), {"Location": location}


def _version(summary) -> dict:
    """What a list's ETag follows: its name, gig count and cover (not the cover's signed URL)."""
    return {"id": summary.id, "name": summary.name, "count": summary.count, "cover": summary.cover_key}


@blp.route(LIST)
class SavedList(MethodView):
    @auth_required(404)
    @http.conditional(blp)
    @blp.response(200, saved_schemas.SavedListSchema)
    def get(self, list_id):
        """One of your lists. `ETag`; `If-None-Match` answers 304 while it is current."""
        summary = saved.list_summary(g.api_user, list_id)
        http.tag(_version(summary))
        return summary

    @auth_required(404, 422)
    @http.conditional(blp)
    @blp.arguments(saved_schemas.SavedListInputSchema, example={"name": "Logos for the launch"})
    @blp.response(200, saved_schemas.SavedListSchema)
    def patch(self, body, list_id):
        """Rename a list (the default one too). `If-Match` (optional): 412 when it changed since."""
        http.check(_version(saved.list_summary(g.api_user, list_id)))
        saved.rename_list(g.api_user, list_id, body["name"])
        summary = saved.list_summary(g.api_user, list_id)
        http.tag(_version(summary))
        return summary

    @auth_required(404, 409)
    @http.conditional(blp)
    @blp.response(204)
    def delete(self, list_id):
        """Delete a list and the gigs saved in it (they stay in your other lists). The default
        list cannot be deleted (409). `If-Match` (optional): 412 when it changed since."""
        http.check(_version(saved.list_summary(g.api_user, list_id)))
        saved.delete_list(g.api_user, list_id)


@blp.route(f"{LIST}/gigs")
class SavedListGigs(MethodView):
    @auth_required(404)
    @blp.response(200, saved_schemas.SavedGigSchema(many=True))
    @blp.paginate(page_size=saved.PER_PAGE, max_page_size=saved.PER_PAGE_MAX)
    def get(self, list_id, pagination_parameters):
        """The gigs in a list: available ones first, then paused or withdrawn ones, each group
        most recently saved first. Paginated (`page`, `page_size`); the total is in `X-Pagination`."""
        page = saved.list_gigs(
            g.api_user, list_id, page=pagination_parameters.page, per_page=pagination_parameters.page_size
        )
        pagination_parameters.item_count = page.total
        return page.items

    @auth_required(404, 422)
    @blp.arguments(saved_schemas.SaveGigSchema, example={"gig_id": 42})
    @blp.response(201, saved_schemas.SavedGigSchema, headers=LOCATION)
    def post(self, body, list_id):
        """Save a gig in the list (idempotent: a gig already there is answered as it is). Only an
        active gig of this marketplace can be saved; a list holds at most 500 gigs."""
        saved_gig = saved.save_gig(g.api_user, body["gig_id"], list_id)
        return created(saved_gig, "saved_lists_api.SavedListGigs", list_id=list_id)  # the list's gigs


@blp.route(f"{LIST}{GIG}")
class SavedListGig(MethodView):
    @auth_required(404)
    @blp.response(204)
    def delete(self, list_id, gig_id):
        """Take a gig out of the list (404 when it is not in it)."""
        saved.unsave_gig(g.api_user, gig_id, list_id)


@blp.route(f"{LIST}{GIG}/move")
class SavedListGigMove(MethodView):
    @auth_required(404, 422)
    @blp.arguments(saved_schemas.MoveGigSchema, example={"to_list_id": 8})
    @blp.response(200, saved_schemas.SavedGigSchema)
    def post(self, body, list_id, gig_id):
        """Move a gig to another of your lists (already there too: it only leaves this one)."""
        return saved.move_gig(g.api_user, gig_id, list_id, body["to_list_id"])
