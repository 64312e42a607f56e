"""Console pages of the reviews area: the moderation queue and every review (one page), a
review's page (hide, restore, approve, dismiss a report) and the reputation settings.

Thin: parse the form, call one console action (``actions.py``), redirect; the request's unit
of work commits. A refusal of a form with a reason (hide, restore, the settings) shows the page
again with the message on the form (``refuse_form``, which also drops the request's work) and
the refusal's status; a button without a form of its own (approve, dismiss) lets the refusal
through to the central handler, which flashes it on the page the operator came from. Unknown
ids are 404 pages. Moderators and admins moderate; only admins change the settings. Hiding
asks for confirmation first (``app/core/confirm.py``).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from app.console.access import ADMIN, MODERATOR, console_required, console_user
from app.console.blueprints import bp
from app.console.errors import ConsoleInputError, refuse_prefixed_form
from app.console.reviews import actions, reads
from app.console.reviews.forms import (
    THRESHOLD_ALIASES,
    ConfirmActionForm,
    HideForm,
    ReputationSettingsForm,
    RestoreForm,
    ReviewFilterForm,
)
from app.core import money
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import DomainError, refuse_form
from app.reviews import services
from app.reviews.settings import LEVELS, describe

THRESHOLD_INPUTS = ("orders", "earnings", "rating", "on_time_rate", "days_active")


def _page_arg(name: str = "page") -> int:
    raw = request.args.get(name, "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@bp.app_template_global()
def console_review_status(status: str) -> tuple[str, str]:
    """``(label, badge class)`` of a review status, for the console's pages."""
    return reads.STATUS_LABELS.get(status, status), reads.STATUS_BADGES.get(status, "")


# --------------------------------------------------------------------------- queue and list


@bp.get("/reviews", endpoint="reviews")
@console_required(MODERATOR)
def review_list():
    """The moderation queue (reported and held reviews) and every review with filters."""
    form = ReviewFilterForm(formdata=request.args)
    loose: list[str] = []
    try:
        filters = reads.review_filters(form.status.data, form.q.data, form.gig_id.data, form.user_id.data)
    except ConsoleInputError as exc:
        filters, loose = None, refuse_form(exc, form)
    page, queue_page = _page_arg(), _page_arg("queue_page")
    queue, queue_total = reads.queue(queue_page, reads.QUEUE_PAGE_SIZE)
    rows, total = reads.search_reviews(filters, page) if filters is not None else ([], 0)
    return render_template(
        "console/reviews.html",
        form=form,
        loose_errors=loose,
        queue=queue,
        queue_total=queue_total,
        queue_page=queue_page,
        queue_pages=_pages(queue_total, reads.QUEUE_PAGE_SIZE),
        reviews=rows,
        total=total,
        page=page,
        pages=_pages(total, reads.REVIEW_PAGE_SIZE),
        args=filters.as_args() if filters is not None else {},
        counts=reads.status_counts(),
        invalid=filters is None,
    ), (422 if filters is None else 200)


# --------------------------------------------------------------------------- one review


def _render_review(review_id: int, status: int = 200, form_errors: list[str] | None = None, **forms):
    item = reads.review_detail(console_user(), review_id)  # an unknown review is a 404 page
    return render_template(
        "console/review.html",
        item=item,
        review=item.review,
        hide_form=forms.get("hide_form") or HideForm(formdata=None),
        restore_form=forms.get("restore_form") or RestoreForm(formdata=None),
        form_errors=form_errors or [],
        report_status_labels=reads.REPORT_STATUS_LABELS,
    ), status


def _refused_review(review_id: int, exc: DomainError, form, form_name: str):
    """The review's page again (as it is now) with the refusal on the form; nothing is kept."""
    if exc.status == 404:
        raise exc
    leftovers = refuse_prefixed_form(exc, form)
    return _render_review(review_id, exc.status, form_errors=leftovers, **{form_name: form})


@bp.get("/reviews/<int(max=9223372036854775807):review_id>")
@console_required(MODERATOR)
def review(review_id: int):
    """A review with its people, gig, reports, moderation and history; the decisions."""
    return _render_review(review_id)


def _confirm_hide(review_id: int) -> Confirmation:
    current = reads.get_review(console_user(), review_id)  # an unknown review: 404, nothing to ask
    return Confirmation(
        f"Hide review #{current.id}?",
        "It disappears from the gig page and the profiles and leaves the averages at once; its open "
        "reports are upheld and the author is told your reason. You can restore it later.",
        "Hide the review",
        url_for("console.review", review_id=review_id),
    )


@bp.post("/reviews/<int(max=9223372036854775807):review_id>/hide")
@console_required(MODERATOR)
@confirmation_required(_confirm_hide)
def hide_review(review_id: int):
    form = HideForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        actions.hide_review(console_user(), review_id, form.reason.data)
    except services.ReviewError as exc:
        return _refused_review(review_id, exc, form, "hide_form")
    flash(f"Review #{review_id} is hidden and out of the averages; the author is told why.", "success")
    return redirect(url_for("console.review", review_id=review_id), 303)


@bp.post("/reviews/<int(max=9223372036854775807):review_id>/restore")
@console_required(MODERATOR)
def restore_review(review_id: int):
    form = RestoreForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        actions.restore_review(console_user(), review_id, form.reason.data)
    except services.ReviewError as exc:
        return _refused_review(review_id, exc, form, "restore_form")
    flash(f"Review #{review_id} is published again and counts in the averages.", "success")
    return redirect(url_for("console.review", review_id=review_id), 303)


@bp.post("/reviews/<int(max=9223372036854775807):review_id>/approve")
@console_required(MODERATOR)
def approve_review(review_id: int):
    ConfirmActionForm().validate_on_submit() or abort(400)
    actions.approve_review(console_user(), review_id)  # a refusal is flashed on the page (central handler)
    flash(f"Review #{review_id} is approved and published.", "success")
    return _back(url_for("console.review", review_id=review_id))


@bp.post("/reviews/reports/<int(max=9223372036854775807):report_id>/dismiss")
@console_required(MODERATOR)
def dismiss_report(report_id: int):
    ConfirmActionForm().validate_on_submit() or abort(400)
    report = actions.dismiss_report(console_user(), report_id)
    flash(f"The report on review #{report.review_id} is dismissed.", "success")
    return _back(url_for("console.review", review_id=report.review_id))


def _back(default: str):
    """The queue when the button was pressed there (``next=queue``), else the review's page."""
    if request.form.get("next") == "queue":
        return redirect(url_for("console.reviews", _anchor="queue-heading"), 303)
    return redirect(default, 303)


# --------------------------------------------------------------------------- settings


def _settings_form(current: dict) -> ReputationSettingsForm:
    currency = current["currency"]
    data = {
        "window_days": str(current["window_days"]),
        "hold_banned_words": current["hold_banned_words"],
        "banned_words": "\n".join(current["banned_words"]),
    }
    for level in LEVELS:
        values = current["level_thresholds"][level]
        data[level] = {
            "orders": str(values["orders"]),
            "earnings": money.input_value(int(values["earnings_minor"]), currency),
            "rating": f"{values['rating']:g}",
            "on_time_rate": f"{values['on_time_rate']:g}",
            "days_active": str(values["days_active"]),
        }
    return ReputationSettingsForm(formdata=None, data=data)


def _settings_page(form=None, status=200, form_errors=()):
    current = reads.reputation_settings()
    defaults = {
        level: {field: describe(field, value, current["currency"]) for field, value in values.items()}
        for level, values in current["default_level_thresholds"].items()
    }
    return render_template(
        "console/reputation_settings.html",
        form=form or _settings_form(current),
        form_errors=list(form_errors),
        currency=current["currency"],
        defaults=defaults,
        level_labels=reads.LEVEL_LABELS,
        # (the form's input, the threshold it sets): earnings are typed as money
        fields=[(name, "earnings_minor" if name == "earnings" else name) for name in THRESHOLD_INPUTS],
    ), status


@bp.get("/reputation", endpoint="reputation_settings")
@console_required(ADMIN)
def reputation_settings_page():
    return _settings_page()


@bp.post("/reputation")
@console_required(ADMIN)
def update_reputation_settings():
    form = ReputationSettingsForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _settings_page(form, 422)
    currency = reads.reputation_settings()["currency"]
    thresholds: dict[str, dict] = {}
    money_errors: dict[str, str] = {}
    for level, sub in form.levels:
        values = {
            "orders": sub.orders.data,
            "rating": sub.rating.data,
            "on_time_rate": sub.on_time_rate.data,
            "days_active": sub.days_active.data,
        }
        try:
            values["earnings_minor"] = money.parse(sub.earnings.data, currency)
        except money.MoneyError as exc:
            money_errors[f"level_thresholds.{level}.earnings_minor"] = exc.message
        thresholds[level] = values
    review_settings = {
        "window_days": form.window_days.data,
        "hold_banned_words": bool(form.hold_banned_words.data),
        "banned_words": form.banned_words.data or "",
    }
    try:
        actions.update_reputation_settings(console_user(), review_settings, thresholds)
        if money_errors:  # the rest was fine: still nothing is kept, and every error shows
            raise services.ReviewError("Please correct the settings.", money_errors)
    except services.ReviewError as exc:
        refusal = services.ReviewError("Please correct the settings.", {**exc.errors, **money_errors})
        leftovers = refuse_form(refusal, form, aliases=THRESHOLD_ALIASES)
        # The form is long: say at the top that something below needs correcting.
        return _settings_page(
            form, exc.status, leftovers or ["Nothing was saved: correct the fields marked below."]
        )
    flash(
        "Review and reputation settings saved. Seller levels follow the new thresholds from the next "
        "daily update.",
        "success",
    )
    return redirect(url_for("console.reputation_settings"), 303)
