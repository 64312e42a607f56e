"""Console API: review moderation (the queue, every review, hide, restore, approve, dismiss a
report) and the reputation settings under ``/api/v1/console``.

Thin: parse with a schema, call one console action (``actions.py``: the domain rule plus the
audit entry), serialize; the request's unit of work commits. Refusals are domain errors
answered by the central handler in the house shape ``{code, status, message, errors}``: 404 a
review or report this marketplace does not have (another marketplace's ids included), 409 a
decision the review's state does not allow (``errors.current_status`` names it), 422 field
errors as ``{"errors": {"json": {field: [msg]}}}`` (``errors.query`` for the list's filters).
Nothing is changed by a refused request. Moderators and admins moderate; the settings are
the admins'.
"""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from app.console.access import ADMIN, MODERATOR, api_console_required
from app.console.blueprints import blp
from app.console.reviews import actions, reads
from app.console.reviews.schemas import (
    ConsoleReportDismissedSchema,
    ConsoleReputationSettingsPatchSchema,
    ConsoleReputationSettingsSchema,
    ConsoleReviewDetailSchema,
    ConsoleReviewListArgsSchema,
    ConsoleReviewReasonSchema,
    ConsoleReviewSchema,
)

REVIEW_ID = "/reviews/<int(max=9223372036854775807):review_id>"


def _documented(*codes: tuple[int, str]):
    def decorator(view):
        for code, description in codes:
            view = blp.alt_response(code, response="DEFAULT_ERROR", description=description)(view)
        return view

    return decorator


def _detail(review_id) -> reads.ReviewItem:
    return reads.review_detail(g.api_user, review_id)


@blp.route("/reviews")
class ConsoleReviews(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(ConsoleReviewListArgsSchema, location="query")
    @blp.response(200, ConsoleReviewSchema(many=True))
    @blp.paginate()
    @_documented((422, "Unknown status, an overlong query, or an id that is not a number"))
    def get(self, args, pagination_parameters):
        """Every review of the marketplace in any status, newest first, with its reports.

        Filter by `status`, `q` (gig, people, text or an id), `gig_id` and `user_id` (author or
        reviewed) to find, say, a hidden review to restore. Paginated: `page`, `page_size`; the
        total is in the `X-Pagination` header.
        """
        filters = reads.review_filters(
            args.get("status"), args.get("q"), args.get("gig_id"), args.get("user_id")
        )
        rows, total = reads.search_reviews(
            filters, pagination_parameters.page, pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return rows


@blp.route("/reviews/queue")
class ConsoleReviewQueue(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, ConsoleReviewSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """The moderation queue: reviews with open reports (reasons, reporters, details) and
        reviews held for a banned word (`held_words`), most reported first. Decide with hide,
        restore, approve, or dismiss a report. Paginated (`X-Pagination`)."""
        rows, total = reads.queue(pagination_parameters.page, pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return rows


@blp.route(REVIEW_ID)
class ConsoleReview(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, ConsoleReviewDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, review_id):
        """A review in any status with every report and the console's decisions about it."""
        return _detail(review_id)


_REFUSALS = ((404, "No such review"), (409, "Not possible in the review's status (`errors.current_status`)"))


@blp.route(f"{REVIEW_ID}/hide")
class ConsoleReviewHide(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(ConsoleReviewReasonSchema, example={"reason": "Advertises another website."})
    @blp.response(200, ConsoleReviewDetailSchema)
    @_documented(*_REFUSALS, (422, "Empty, overlong or HTML reason"))
    def post(self, body, review_id):
        """Hide a published or held review. It leaves the gig page, the profiles and the
        averages (gig and seller) at once; its open reports are upheld; the author is notified
        with the reason."""
        actions.hide_review(g.api_user, review_id, body["reason"])
        return _detail(review_id)


@blp.route(f"{REVIEW_ID}/restore")
class ConsoleReviewRestore(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(ConsoleReviewReasonSchema, example={"reason": "Checked with the buyer: a genuine review."})
    @blp.response(200, ConsoleReviewDetailSchema)
    @_documented(*_REFUSALS, (422, "Empty, overlong or HTML reason"))
    def post(self, body, review_id):
        """Publish a hidden review again: it counts in the averages again."""
        actions.restore_review(g.api_user, review_id, body["reason"])
        return _detail(review_id)


@blp.route(f"{REVIEW_ID}/approve")
class ConsoleReviewApprove(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, ConsoleReviewDetailSchema)
    @_documented(*_REFUSALS)
    def post(self, review_id):
        """Publish a review held for a banned word."""
        actions.approve_review(g.api_user, review_id)
        return _detail(review_id)


@blp.route("/reviews/reports/<int(max=9223372036854775807):report_id>/dismiss")
class ConsoleReviewReportDismiss(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, ConsoleReportDismissedSchema)
    @_documented((404, "No such report"), (409, "The report is already upheld or dismissed"))
    def post(self, report_id):
        """Dismiss one open report: nothing wrong with the review. The review stays as it is."""
        report = actions.dismiss_report(g.api_user, report_id)
        item = _detail(report.review_id)
        return next(r for r in item.reports if r.report.id == report.id)


@blp.route("/reviews/settings")
class ConsoleReputationSettings(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, ConsoleReputationSettingsSchema)
    def get(self):
        """The review window, the banned-word hold and list, and the seller level thresholds
        (with the defaults; earnings in minor units of `currency`)."""
        return reads.reputation_settings()

    @api_console_required(ADMIN)
    @blp.arguments(
        ConsoleReputationSettingsPatchSchema,
        example={
            "window_days": 21,
            "hold_banned_words": True,
            "banned_words": ["scam"],
            "level_thresholds": {"level_1": {"orders": 5, "earnings_minor": 20000}},
        },
    )
    @blp.response(200, ConsoleReputationSettingsSchema)
    @_documented((422, "A value out of range, or a higher level asking less than a lower one"))
    def patch(self, body):
        """Change any of the settings; the rest keep their values.

        `window_days` 1-90 applies to orders completed from now on; levels follow new
        thresholds from the next daily reputation update. Thresholds must ascend field by
        field: Level 1 <= Level 2 <= Top Rated.
        """
        review_settings = {
            k: body[k] for k in ("window_days", "hold_banned_words", "banned_words") if k in body
        }
        return actions.update_reputation_settings(g.api_user, review_settings, body.get("level_thresholds"))
