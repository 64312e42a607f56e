"""Reviews REST API: reviews of orders, replies, helpful votes, reports; reviews of gigs and
members with their rating summaries; a seller's reputation.

Thin: parse with a schema, call a service of ``app.reviews.services`` (or ``reputation``),
serialize; the request's unit of work commits. Refusals come from the services and are
answered by the central handler in the house shape ``{code, status, message, errors}``:
404 unknown, not yours, or not published yet (double-blind: an unpublished review exists
only for its author); 403 your own review (vote, report) or someone else's to reply to; 409
not allowed now, with ``errors.current_status`` (order not completed, window closed, already
reviewed, replied or reported, already published); 422 field errors in
``errors.json.<field>``, the same shape whether the schema or the service refused.

Reads of published reviews, gig and member reviews, summaries and reputation are public (a
token is optional; a bad one is a 401); every write needs a bearer token. No
``Idempotency-Key`` here: no money moves, and a repeated write is refused by the rules
themselves (a second review, reply or report is a 409; votes are a set).
"""

from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_smorest import abort
from webargs.flaskparser import FlaskParser

from app.accounts import tokens
from app.accounts.moderation import get_user
from app.core.api import Blueprint
from app.core.http import LOCATION, created
from app.gigs.services import get_visible_gig
from app.orders.services import get_order
from app.reviews import reputation, schemas, services


class _Parser(FlaskParser):
    """webargs' refusal plus a ``message``, as the services' refusals carry one: a client reads
    ``{code, status, message, errors: {json: {field: [..]}}}`` whoever refused."""

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        fields = [
            (field, messages)
            for location in error.messages.values()
            if isinstance(location, dict)
            for field, messages in location.items()
        ]
        message = "The request has invalid fields."
        if len(fields) == 1 and isinstance(fields[0][1], list) and len(fields[0][1]) == 1:
            field, (text,) = fields[0]
            message = text if text[:1].isupper() else f"{field}: {text}"
        abort(
            error_status_code or self.DEFAULT_VALIDATION_STATUS,
            exc=error,
            messages=error.messages,
            message=message,
            schema=schema,
            headers=error_headers,
        )


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()
    PAGINATION_ARGUMENTS_PARSER = _Parser()


blp = _Blueprint(
    "reviews_api",
    __name__,
    url_prefix="/api/v1",
    description="Reviews: both sides of a completed order review each other within the review window "
    "(double-blind: neither sees the other's review until both are written or the window closes). "
    "Replies, helpful votes, reports; reviews and rating summaries of gigs and members; a seller's "
    "reputation and level.",
)

ORDER_ID = "/orders/<int(max=9223372036854775807):order_id>"
REVIEW_ID = "/reviews/<int(max=9223372036854775807):review_id>"
GIG_ID = "/gigs/<int(max=2147483647):gig_id>"
USER_ID = "/users/<int(max=2147483647):user_id>"
EDITABLE = ("rating", "text", *services.SUB_RATINGS)
REVIEW_EXAMPLE = {
    "rating": 5,
    "communication": 5,
    "as_described": 5,
    "would_recommend": 5,
    "text": "Great work, delivered a day early.",
}


def auth_required(view):
    """A view for signed-in API clients: checks the bearer token and documents it."""
    view = blp.alt_response(401, response="UNAUTHORIZED")(view)
    view = blp.doc(security=[{"bearerAuth": []}])(view)
    return tokens.token_auth_required(view)


def public(view):
    """A read anyone may make; a token, when sent, must be valid (it may show more)."""
    view = blp.alt_response(401, response="UNAUTHORIZED", description="A token was sent and is invalid")(view)
    return blp.doc(security=[{}, {"bearerAuth": []}])(view)


def refusals(*codes: int):
    descriptions = {
        403: "Not allowed to you (your own review, someone else's to reply to)",
        404: "Not found (or not yours, or a review not published yet)",
        409: "Not allowed now (named in the message and errors.current_status)",
        422: "Invalid fields (errors.json.<field>)",
    }

    def decorate(view):
        for code in codes:
            view = blp.alt_response(code, response="DEFAULT_ERROR", description=descriptions[code])(view)
        return view

    return decorate


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


def _member(user_id: int):
    """An active member of the marketplace (404 otherwise: suspended accounts show nothing)."""
    person = get_user(user_id)
    if not person.is_active:
        abort(404, message="This user does not exist.")
    return person


# --------------------------------------------------------------------------- orders


@blp.route(f"{ORDER_ID}/reviews")
class OrderReviews(MethodView):
    @auth_required
    @blp.response(200, schemas.OrderReviewsSchema)
    @refusals(404)
    def get(self, order_id):
        """The reviews of an order you take part in, as you may see them.

        `window`: when reviews can be written (null until the order is completed); `mine`:
        your review in any status; `theirs`: the other side's, only once published;
        `can_write` / `can_edit`: what you may do now.
        """
        return services.order_review_state(g.api_user, get_order(g.api_user, order_id))

    @auth_required
    @blp.arguments(schemas.ReviewInputSchema, example=REVIEW_EXAMPLE)
    @blp.response(201, schemas.ReviewSchema, headers=LOCATION)
    @refusals(404, 409, 422)
    def post(self, body, order_id):
        """Review the other side of a completed order, once, while the review window is open.

        The buyer rates the seller (`rating`, `communication`, `as_described`,
        `would_recommend`: 1 to 5) and writes `text`; the seller rates the buyer (`rating`,
        `text`). The review stays unseen by the other side (`submitted`) until both have
        written theirs or the window closes; then both are published at once. Refused: not a
        party (404), order not completed or window closed or already reviewed (409).
        """
        review = services.submit_review(g.api_user, order_id, body)
        return created(review, "reviews_api.ReviewResource", review_id=review.id)


# --------------------------------------------------------------------------- one review


@blp.route(REVIEW_ID)
class ReviewResource(MethodView):
    @public
    @blp.response(200, schemas.ReviewSchema)
    @refusals(404)
    def get(self, review_id):
        """A published review; its author also reads it before publication."""
        return services.get_review(_optional_user(), review_id)

    @auth_required
    @blp.arguments(schemas.ReviewPatchSchema, example={"rating": 4, "text": "Good work, one day late."})
    @blp.response(200, schemas.ReviewSchema)
    @refusals(404, 409, 422)
    def patch(self, body, review_id):
        """Change your review before it is published (the fields sent; the others stay).

        Refused once it is published or the window closed (409).
        """
        review = services.get_review(g.api_user, review_id)
        current = {field: getattr(review, field) for field in EDITABLE}
        return services.edit_review(g.api_user, review_id, {**current, **body})


@blp.route(f"{REVIEW_ID}/reply")
class ReviewReply(MethodView):
    @auth_required
    @blp.arguments(schemas.ReplyInputSchema, example={"text": "Thank you, it was a pleasure!"})
    @blp.response(201, schemas.ReviewSchema, headers=LOCATION)
    @refusals(403, 404, 409, 422)
    def post(self, body, review_id):
        """The reviewed side answers a published review publicly, once (a second reply is a 409)."""
        review = services.reply_to_review(g.api_user, review_id, body["text"])
        return created(review, "reviews_api.ReviewResource", review_id=review_id)  # the reply is on it


@blp.route(f"{REVIEW_ID}/helpful")
class ReviewHelpful(MethodView):
    @auth_required
    @blp.response(200, schemas.ReviewSchema)
    @refusals(403, 404)
    def put(self, review_id):
        """Mark a published review as helpful (once per member; again changes nothing)."""
        return services.vote_helpful(g.api_user, review_id, True)

    @auth_required
    @blp.response(200, schemas.ReviewSchema)
    @refusals(403, 404)
    def delete(self, review_id):
        """Take your helpful vote back."""
        return services.vote_helpful(g.api_user, review_id, False)


@blp.route(f"{REVIEW_ID}/reports")
class ReviewReports(MethodView):
    @auth_required
    @blp.arguments(
        schemas.ReportInputSchema, example={"reason": "spam", "details": "It advertises another site."}
    )
    @blp.response(201, schemas.ReportSchema, headers=LOCATION)
    @refusals(403, 404, 409, 422)
    def post(self, body, review_id):
        """Report a published review to the marketplace's moderators (not your own; once)."""
        report = services.report_review(g.api_user, review_id, body["reason"], body.get("details"))
        return created(report, "reviews_api.ReviewResource", review_id=review_id)  # the review reported


# --------------------------------------------------------------------------- gigs


@blp.route(f"{GIG_ID}/reviews")
class GigReviews(MethodView):
    @public
    @blp.arguments(schemas.ReviewListArgs, location="query")
    @blp.response(200, schemas.ReviewSchema(many=True))
    @refusals(404)
    @blp.paginate(page_size=10, max_page_size=services.PER_PAGE_MAX)
    def get(self, args, gig_id, pagination_parameters):
        """The published reviews of a gig (by its buyers).

        Sorted by `sort` (newest first by default). Paginated: `page`, `page_size`; the total
        is in the `X-Pagination` header. 404 for a gig that is not public.
        """
        gig = get_visible_gig(gig_id, _optional_user())
        page = services.gig_reviews(
            gig.id,
            sort=args["sort"],
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
        )
        return _items(page, pagination_parameters)


def _items(page, pagination_parameters) -> list:
    """A page of reviews for a paginated response: the total in ``X-Pagination``, the people
    the schema names loaded in one query."""
    pagination_parameters.item_count = page.total
    schemas.preload_people(page.items)
    return page.items


@blp.route(f"{GIG_ID}/reviews/summary")
class GigReviewSummary(MethodView):
    @public
    @blp.response(200, schemas.RatingSummarySchema)
    @refusals(404)
    def get(self, gig_id):
        """A gig's rating: average, count, reviews per star and the sub-rating averages."""
        gig = get_visible_gig(gig_id, _optional_user())
        return schemas.rating_summary(gig_id=gig.id, direction="of_seller")


# --------------------------------------------------------------------------- members


@blp.route(f"{USER_ID}/reviews")
class UserReviews(MethodView):
    @public
    @blp.arguments(schemas.UserReviewListArgs, location="query")
    @blp.response(200, schemas.ReviewSchema(many=True))
    @refusals(404)
    @blp.paginate(page_size=10, max_page_size=services.PER_PAGE_MAX)
    def get(self, args, user_id, pagination_parameters):
        """The published reviews of a member, as a seller or as a buyer.

        `as=seller` (default): what buyers wrote of them, across all their gigs; `as=buyer`:
        what sellers wrote of them. Paginated: `page`, `page_size`; the total is in the
        `X-Pagination` header.
        """
        _optional_user()
        person = _member(user_id)
        page = services.reviews_of(
            person.id,
            schemas.DIRECTION_OF[args["as_"]],
            sort=args["sort"],
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
        )
        return _items(page, pagination_parameters)


@blp.route(f"{USER_ID}/reviews/summary")
class UserReviewSummary(MethodView):
    @public
    @blp.arguments(schemas.UserSummaryArgs, location="query")
    @blp.response(200, schemas.RatingSummarySchema)
    @refusals(404)
    def get(self, args, user_id):
        """A member's rating as a seller (`as=seller`, with sub-ratings) or as a buyer."""
        _optional_user()
        person = _member(user_id)
        return schemas.rating_summary(subject_id=person.id, direction=schemas.DIRECTION_OF[args["as_"]])


@blp.route(f"{USER_ID}/reputation")
class UserReputation(MethodView):
    @public
    @blp.response(200, schemas.ReputationSchema)
    @refusals(404)
    def get(self, user_id):
        """A seller's reputation and level.

        Level and label, orders completed, on-time and completion rates, rating, response
        rate and time, languages. Rates are percentages, null while there is nothing to
        measure. 404 for a member who is not a seller.
        """
        _optional_user()
        stats = reputation.seller_stats(_member(user_id).id)
        if stats is None:
            abort(404, message="This member is not a seller.")
        return stats
