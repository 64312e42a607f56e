"""Console API: users (search, view, suspend, reactivate, role) and gig moderation
(list / queue, review, approve, reject, pause) under ``/api/v1/console``.

Thin: parse with a schema, call one console action (``actions.py``: the domain rule
plus the audit entry), serialize; the request's unit of work commits. Refusals are domain
errors answered by the central handler in the house shape ``{code, status, message,
errors}``; nothing is caught here but the lists' bad filters (query arguments). 403 a role
that may not do this (a moderator acting on an admin, granting roles), 404 an unknown user
or gig (of this marketplace: another marketplace's ids are unknown here), 409 a state
conflict (yourself, the last admin, a gig that is not pending), 412 the gig changed since
the version you reviewed, 422 field errors as ``{"errors": {"json": {field: [msg]}}}``.
Nothing is changed by a refused request.
"""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from app.accounts import moderation as user_rules
from app.accounts.services import AccountError
from app.console.access import ADMIN, MODERATOR, api_console_required
from app.console.blueprints import blp
from app.console.people import actions as people
from app.console.people.schemas import (
    ConsoleApproveSchema,
    ConsoleGigDetailSchema,
    ConsoleGigListArgsSchema,
    ConsoleGigReasonSchema,
    ConsoleGigSchema,
    ConsoleRejectSchema,
    ConsoleRoleSchema,
    ConsoleSuspendSchema,
    ConsoleUserDetailSchema,
    ConsoleUserListArgsSchema,
    ConsoleUserSchema,
)
from app.gigs import moderation as gig_rules
from app.gigs.services import GigError

USER_ID = "/users/<int(max=2147483647):user_id>"
GIG_ID = "/gigs/<int(max=2147483647):gig_id>"


def _filtered_page(search, refusal: type[Exception], pagination_parameters, **filters):
    """One page of ``search(**filters, page=, per_page=)`` -> ``(rows, total)``; the total goes to
    the X-Pagination header. A ``refusal`` of the filters is about the query arguments."""
    try:
        rows, total = search(
            **filters, page=pagination_parameters.page, per_page=pagination_parameters.page_size
        )
    except refusal as exc:
        exc.location = "query"
        raise
    pagination_parameters.item_count = total
    return rows


def _documented(*codes: tuple[int, str]):
    def decorator(view):
        for code, description in codes:
            view = blp.alt_response(code, response="DEFAULT_ERROR", description=description)(view)
        return view

    return decorator


# --------------------------------------------------------------------------- users


@blp.route("/users")
class ConsoleUsers(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(ConsoleUserListArgsSchema, location="query")
    @blp.response(200, ConsoleUserSchema(many=True))
    @blp.paginate()
    @_documented((422, "Unknown role or status, or an overlong query"))
    def get(self, args, pagination_parameters):
        """Search the marketplace's users (admins and moderators).

        Filter by `q` (email, name, handle or id), `role` and `status`; newest first.
        Paginated: `page`, `page_size`; the total is in the `X-Pagination` header.
        """
        return _filtered_page(
            user_rules.search_users,
            AccountError,
            pagination_parameters,
            q=args.get("q"),
            role=args.get("role"),
            status=args.get("status"),
        )


@blp.route(USER_ID)
class ConsoleUser(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, ConsoleUserDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, user_id):
        """One user with their gigs, order counts and the audit entries about them."""
        return people.user_overview(user_id)


@blp.route(f"{USER_ID}/suspend")
class ConsoleUserSuspend(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(
        ConsoleSuspendSchema, example={"reason": "Repeated off-platform payment requests after two warnings."}
    )
    @blp.response(200, ConsoleUserSchema)
    @_documented(
        (403, "A moderator may only suspend members"),
        (404, "No such user"),
        (409, "Yourself, the last admin, or an account already suspended or deleted"),
        (422, "Empty or overlong reason"),
    )
    def post(self, body, user_id):
        """Suspend a user: they are logged out everywhere, their API tokens are revoked,
        their gigs leave search, and they are emailed the reason."""
        return people.suspend_user(g.api_user, user_id, body["reason"])


@blp.route(f"{USER_ID}/reactivate")
class ConsoleUserReactivate(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, ConsoleUserSchema)
    @_documented(
        (403, "A moderator may only reactivate members"),
        (404, "No such user"),
        (409, "The account is not suspended"),
    )
    def post(self, user_id):
        """Lift a suspension: the user can log in again and their gigs return to search."""
        return people.reactivate_user(g.api_user, user_id)


@blp.route(f"{USER_ID}/role")
class ConsoleUserRole(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(ConsoleRoleSchema, example={"role": "moderator"})
    @blp.response(200, ConsoleUserSchema)
    @_documented(
        (404, "No such user"),
        (409, "Demoting the last admin, or a suspended or deleted account"),
        (422, "Unknown role"),
    )
    def put(self, body, user_id):
        """Set a user's role: `member`, `moderator` or `admin` (admins only).

        Setting the role the user already has changes nothing (and records nothing).
        """
        return people.set_user_role(g.api_user, user_id, body["role"])


# --------------------------------------------------------------------------- gigs


@blp.route("/gigs")
class ConsoleGigs(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(ConsoleGigListArgsSchema, location="query")
    @blp.response(200, ConsoleGigSchema(many=True))
    @blp.paginate()
    @_documented((422, "Unknown status, or an overlong query"))
    def get(self, args, pagination_parameters):
        """Every gig of the marketplace, in any status. `status=pending_approval` is the
        moderation queue, oldest first. Paginated: `page`, `page_size` (`X-Pagination`)."""
        return _filtered_page(
            gig_rules.list_gigs_for_operators,
            GigError,
            pagination_parameters,
            status=args.get("status"),
            q=args.get("q"),
        )


@blp.route(GIG_ID)
class ConsoleGig(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, ConsoleGigDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, gig_id):
        """A gig in any status with its full content, what it lacks to go live, and its audit entries."""
        return gig_rules.get_gig_for_review(gig_id)


_GIG_REFUSALS = (
    (403, "Not an operator, or a moderator's own gig"),
    (404, "No such gig"),
    (409, "Not possible in the gig's status (named in the message)"),
)


@blp.route(f"{GIG_ID}/approve")
class ConsoleGigApprove(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(ConsoleApproveSchema, example={"version": 4})
    @blp.response(200, ConsoleGigSchema)
    @_documented(*_GIG_REFUSALS, (412, "The gig changed since the version you reviewed"))
    def post(self, body, gig_id):
        """Approve a gig pending approval: it goes live and the seller is notified."""
        return people.approve_gig(g.api_user, gig_id, expected_version=body.get("version"))


@blp.route(f"{GIG_ID}/reject")
class ConsoleGigReject(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(
        ConsoleRejectSchema,
        example={"reason": "The images show another company's logo. Replace them with your own work."},
    )
    @blp.response(200, ConsoleGigSchema)
    @_documented(
        *_GIG_REFUSALS,
        (412, "The gig changed since the version you reviewed"),
        (422, "Empty or overlong reason"),
    )
    def post(self, body, gig_id):
        """Reject a gig pending approval with a reason the seller is told; they can edit it
        and publish it again, which sends it back to the queue."""
        return people.reject_gig(g.api_user, gig_id, body["reason"], expected_version=body.get("version"))


@blp.route(f"{GIG_ID}/pause")
class ConsoleGigPause(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(
        ConsoleGigReasonSchema, example={"reason": "Reported by buyers: the samples are not the seller's."}
    )
    @blp.response(200, ConsoleGigSchema)
    @_documented(*_GIG_REFUSALS, (422, "Empty or overlong reason"))
    def post(self, body, gig_id):
        """Pause a live gig with a reason the seller is told. It leaves search; when the
        seller publishes it again it goes through review."""
        return people.pause_gig(g.api_user, gig_id, body["reason"])
