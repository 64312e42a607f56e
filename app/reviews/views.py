"""Review web pages and the review sections of other pages.

Pages (Blueprint ``reviews``): write, edit and reply on the order page; "Helpful" and "Report"
on any list of reviews; the full lists of a gig's reviews (``/gigs/<slug>/reviews``) and of a
person's (``/u/<handle>/reviews?as=seller|buyer``).

Sections, registered in ``app._register_domain_hooks`` with the lower domains that offer the
hook: ``order_section`` (orders: the banner, the form, then both published reviews),
``gig_section`` (gigs: rating summary, histogram, the latest reviews) and ``profile_section``
(accounts: reviews as a seller, reviews from sellers).

Thin: parse the form, call one service, render; the request's unit of work commits. A refused
review, edit or reply re-shows the order page with the messages on the form (``refuse_form``
drops the request's work, so nothing is stored); the refused form travels to the section in
``g`` for this one request. Double-blind is the services' rule: the other side's review reaches
these templates only through ``order_review_state(...).theirs``, which is None until published.
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import ceil
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from app.accounts.services import get_user_by_handle
from app.accounts.views import safe_next
from app.core import unit_of_work
from app.core.domain_errors import refuse_form
from app.gigs import services as gigs
from app.messaging.text import render_body
from app.orders import services as orders
from app.orders.views import render_order_page
from app.reviews import display, services
from app.reviews.forms import HelpfulForm, ReplyForm, ReportForm, review_form_class
from app.reviews.models import REPLY_MAX, TEXT_MAX

bp = Blueprint("reviews", __name__, template_folder="templates")

SECTION_SIZE = 5  # reviews on a gig page or a profile; the full list pages by LIST_SIZE
LIST_SIZE = 20
PAGE_SORTS = {"newest": "Newest", "helpful": "Most helpful"}
DIRECTIONS = {"seller": "of_seller", "buyer": "of_buyer"}


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _viewer(viewer: Any):
    """A signed-in user, or None (the hooks get ``current_user``, anonymous included)."""
    return viewer if viewer is not None and getattr(viewer, "is_authenticated", False) else None


def _render(template: str, **context) -> str:
    return render_template(
        f"reviews/{template}",
        render_body=render_body,
        sub_rating_labels=services.SUB_RATING_LABELS,
        report_reasons=services.REPORT_REASON_LABELS,
        text_max=TEXT_MAX,
        reply_max=REPLY_MAX,
        **context,
    )


def _sort_arg(name: str = "sort") -> str:
    sort = request.args.get(name, "newest")
    return sort if sort in services.SORTS else "newest"


def _page_arg(name: str = "page") -> int:
    raw = request.args.get(name, "1")
    return int(raw) if raw.isdigit() and len(raw) <= 5 and 0 < int(raw) <= 10_000 else 1


def _here() -> str:
    return request.full_path if request.query_string else request.path


def _url_maker(endpoint: str, *, sort_arg: str, page_arg: str, anchor: str | None = None, **values):
    """``(page_url(page), sort_url(sort))`` for a list of reviews at ``endpoint``; the current
    sort is kept when paging, paging restarts when sorting; defaults stay out of the URL."""
    sort = _sort_arg(sort_arg)

    def build(page: int, sort: str) -> str:
        args = dict(values)
        if sort != "newest":
            args[sort_arg] = sort
        if page > 1:
            args[page_arg] = page
        return url_for(endpoint, _anchor=anchor, **args)

    return (lambda page: build(page, sort)), (lambda new_sort: build(1, new_sort))


# --------------------------------------------------------------------------- the order section


def _remember_refusal(key: tuple, form, messages: list[str]) -> None:
    g.review_refused = {"key": key, "form": form, "messages": messages}


def _days_left(closes_at: datetime, now: datetime) -> int:
    return max(1, ceil((closes_at - now).total_seconds() / 86400))


def order_section(order, viewer) -> Markup | None:
    """Registered with orders: the reviews of a completed order as one of its parties sees them
    (nothing for anyone else, nor before completion)."""
    viewer = _viewer(viewer)
    if viewer is None or order.party(viewer.id) is None or order.status != "completed":
        return None
    now = datetime.now(UTC)
    state = services.order_review_state(viewer, order, now=now)
    other_id = order.seller_id if order.party(viewer.id) == "buyer" else order.buyer_id
    form_class = review_form_class(state.direction)
    refusal = g.get("review_refused")  # what this request refused, if anything
    review_form = refusal["form"] if refusal and refusal["key"] == ("review", order.id) else None
    if review_form is None and (state.can_write or state.can_edit):
        mine = state.mine
        data = {name: getattr(mine, name) for name in form_class.review_fields()} if mine else {}
        review_form = form_class(
            formdata=None, data={k: (str(v) if isinstance(v, int) else v) for k, v in data.items()}
        )
    reply_form, reply_messages = None, []
    if state.theirs is not None and state.theirs.reply_text is None:
        if refusal and refusal["key"] == ("reply", state.theirs.id):
            reply_form, reply_messages = refusal["form"], refusal["messages"]
        reply_form = reply_form or ReplyForm(formdata=None)
    # Every other refusal (the review's, a reply to a review with no form here) goes on top.
    messages = refusal["messages"] if refusal and not reply_messages else []
    items = display.listing([r for r in (state.mine, state.theirs) if r is not None], viewer)
    return Markup(  # noqa: S704  (a rendered, autoescaped template)
        _render(
            "_order_section.html",
            order=order,
            state=state,
            me=viewer,
            other=items.people.get(other_id) or display.person(other_id),
            listing=items,
            days_left=_days_left(state.window.closes_at, now) if state.can_write else None,
            review_form=review_form,
            review_messages=messages,
            reply_form=reply_form,
            reply_messages=reply_messages,
        )
    )


def _order_for_review(me, order_id: int):
    try:
        return orders.get_order(me, order_id)
    except orders.OrderNotFound:
        abort(404)


def _reshow_order(order_id: int, key: tuple, form, exc: services.ReviewError | None):
    """The order page again with ``form``'s messages in the reviews section."""
    messages = refuse_form(exc, form) if exc is not None else []
    status = exc.status if exc is not None else 422
    if exc is None:  # the form's own checks (control characters, the CSRF token)
        unit_of_work.abandon()
        if form.csrf_token.errors:
            messages, status = list(form.csrf_token.errors), 400
    # A 409 (already reviewed, window closed, published) says so above the section; the form
    # shown is then the one the state allows, not the refused one.
    keep_form = exc is None or exc.status != 409
    _remember_refusal(key, form if keep_form else None, messages)
    return render_order_page(order_id, status=status)


@bp.post("/orders/<int:order_id>/review")
@login_required
def write_review(order_id: int):
    """A party of a completed order writes their review (both publish once both are written)."""
    me = _me()
    order = _order_for_review(me, order_id)
    party = order.party(me.id)
    if party is None:  # an operator sees the order but has nothing to review
        abort(404)
    form = review_form_class("of_seller" if party == "buyer" else "of_buyer")()
    if not form.validate_on_submit():
        return _reshow_order(order_id, ("review", order_id), form, None)
    try:
        review = services.submit_review(me, order_id, form.review_data())
    except services.ReviewError as exc:
        if exc.status == 404:
            abort(404)
        return _reshow_order(order_id, ("review", order_id), form, exc)
    if review.status == "submitted":
        flash("Thank you! Your review is saved: it publishes with the other side's review.", "success")
    else:
        flash("Thank you! Both reviews are now published.", "success")
    return redirect(url_for("orders.order_page", order_id=order_id, _anchor="reviews"), 303)


def _own_review_or_404(me, review_id: int):
    try:
        review = services.get_review(me, review_id)
    except services.ReviewNotFound:
        abort(404)
    return review


@bp.post("/reviews/<int:review_id>/edit")
@login_required
def edit_review(review_id: int):
    """The author changes their review while it is unpublished."""
    me = _me()
    review = _own_review_or_404(me, review_id)
    if review.author_id != me.id:
        abort(404)
    form = review_form_class(review.direction)()
    if not form.validate_on_submit():
        return _reshow_order(review.order_id, ("review", review.order_id), form, None)
    try:
        services.edit_review(me, review_id, form.review_data())
    except services.ReviewError as exc:
        if exc.status == 404:
            abort(404)
        return _reshow_order(review.order_id, ("review", review.order_id), form, exc)
    flash("Your review is updated.", "success")
    return redirect(url_for("orders.order_page", order_id=review.order_id, _anchor="reviews"), 303)


@bp.post("/reviews/<int:review_id>/reply")
@login_required
def reply(review_id: int):
    """The reviewed side answers a published review, once."""
    me = _me()
    review = _own_review_or_404(me, review_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _reshow_order(review.order_id, ("reply", review_id), form, None)
    try:
        services.reply_to_review(me, review_id, form.text.data)
    except services.ReviewError as exc:
        if exc.status == 404:
            abort(404)
        return _reshow_order(review.order_id, ("reply", review_id), form, exc)
    flash("Your reply is published.", "success")
    return redirect(url_for("orders.order_page", order_id=review.order_id, _anchor="reviews"), 303)


# --------------------------------------------------------------------------- helpful and report


def _back(form_next: str | None, review) -> str:
    """Where a vote or a report returns: the page it came from, else the review's gig page."""
    target = safe_next(form_next)
    if target:
        return target
    gig = gigs.get_gig(review.gig_id) if review.gig_id else None
    if gig is not None and gigs.can_view(gig, _me()):
        return url_for("reviews.gig_reviews", slug=gig.slug)
    subject = display.person(review.subject_id)
    if subject is not None and subject.handle:
        return url_for("accounts.public_profile", handle=subject.handle)
    return url_for("dashboard.dashboard")


def _published_or_404(review_id: int):
    review = _own_review_or_404(_me(), review_id)
    if review.status != "published":
        abort(404)
    return review


@bp.post("/reviews/<int:review_id>/helpful")
@login_required
def helpful(review_id: int):
    """Mark a review helpful (``helpful=0``: take the vote back); never your own."""
    review = _published_or_404(review_id)
    form = HelpfulForm()
    if not form.validate_on_submit():
        abort(400)
    back = _back(form.next.data, review)
    try:
        services.vote_helpful(_me(), review_id, helpful=form.helpful.data != "0")
    except services.ReviewError as exc:
        unit_of_work.abandon()  # the answer is a redirect: without this it would be committed
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return redirect(back, 303)
    return redirect(f"{back.split('#')[0]}#review-{review_id}", 303)


@bp.route("/reviews/<int:review_id>/report", methods=["GET", "POST"])
@login_required
def report(review_id: int):
    """Report a published review to the moderators (the form is also inline under each review)."""
    me = _me()
    review = _published_or_404(review_id)
    form = ReportForm()
    messages: list[str] = []
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.report_review(me, review_id, form.reason.data, form.details.data)
            except services.ReviewError as exc:
                if exc.status == 404:
                    abort(404)
                messages = refuse_form(exc, form)
                status = exc.status
            else:
                flash("Thank you: the moderators will look at this review.", "success")
                return redirect(_back(form.next.data, review), 303)
        else:
            unit_of_work.abandon()
            status = 400 if form.csrf_token.errors else 422
            messages = list(form.csrf_token.errors)
    elif not form.next.data:
        form.next.data = safe_next(request.args.get("next")) or ""
    items = display.listing([review], me)
    return _render(
        "report.html",
        review=review,
        listing=items,
        form=form,
        messages=messages,
        me=me,
        back=_back(form.next.data, review),
    ), status


# --------------------------------------------------------------------------- the gig section and list


def _gig_reviews_context(gig, viewer, *, sort: str, page: int, per_page: int) -> dict:
    breakdown = services.rating_breakdown(gig_id=gig.id)
    histogram = breakdown["histogram"]
    reviews = services.gig_reviews(gig.id, sort=sort, page=page, per_page=per_page, breakdown=breakdown)
    return {
        "gig": gig,
        "count": sum(histogram.values()),
        "average": display.histogram_average(histogram),
        "bars": display.histogram_bars(histogram),
        "sub_ratings": breakdown["sub_ratings"],
        "page": reviews,
        "listing": display.listing(reviews.items, viewer),
        "sort": sort,
        "sorts": PAGE_SORTS,
        "me": viewer,
        "here": _here(),
    }


def gig_section(gig, viewer) -> Markup | None:
    """Registered with gigs: the gig's rating and its latest reviews (``?reviews_sort=`` and
    ``?reviews_page=`` page through them on the gig page itself)."""
    viewer = _viewer(viewer)
    context = _gig_reviews_context(
        gig, viewer, sort=_sort_arg("reviews_sort"), page=_page_arg("reviews_page"), per_page=SECTION_SIZE
    )
    context["page_url"], context["sort_url"] = _url_maker(
        "gigs.gig_page", sort_arg="reviews_sort", page_arg="reviews_page", anchor="reviews", slug=gig.slug
    )
    return Markup(_render("_gig_section.html", **context))  # noqa: S704  (autoescaped template)


@bp.get("/gigs/<slug>/reviews")
def gig_reviews(slug: str):
    """All published reviews of a gig, by newest or most helpful."""
    try:
        gig = gigs.get_public_gig(slug, _me())
    except gigs.GigNotFound:
        abort(404)
    context = _gig_reviews_context(gig, _me(), sort=_sort_arg(), page=_page_arg(), per_page=LIST_SIZE)
    page_url, sort_url = _url_maker("reviews.gig_reviews", sort_arg="sort", page_arg="page", slug=gig.slug)
    return _render("gig_reviews.html", page_url=page_url, sort_url=sort_url, **context)


# --------------------------------------------------------------------------- the profile section and list


def _person_block(person, viewer, direction: str, *, sort: str, page: int, per_page: int) -> dict:
    breakdown = services.rating_breakdown(subject_id=person.id, direction=direction)
    histogram = breakdown["histogram"]
    reviews = services.reviews_of(
        person.id, direction, sort=sort, page=page, per_page=per_page, breakdown=breakdown
    )
    return {
        "direction": direction,
        "count": sum(histogram.values()),
        "average": display.histogram_average(histogram),
        "bars": display.histogram_bars(histogram),
        "sub_ratings": breakdown["sub_ratings"],
        "page": reviews,
        "listing": display.listing(reviews.items, viewer),
    }


def profile_section(person, viewer) -> Markup | None:
    """Registered with accounts: a seller's reviews (across their gigs) and, for everyone, the
    reviews sellers wrote about them as a buyer."""
    viewer = _viewer(viewer)
    blocks = []
    if person.seller_profile is not None:
        blocks.append(
            _person_block(person, viewer, "of_seller", sort="newest", page=1, per_page=SECTION_SIZE)
        )
    blocks.append(_person_block(person, viewer, "of_buyer", sort="newest", page=1, per_page=SECTION_SIZE))
    return Markup(  # noqa: S704  (autoescaped template)
        _render("_profile_section.html", person=person, blocks=blocks, me=viewer, here=_here())
    )


@bp.get("/u/<handle>/reviews")
def person_reviews(handle: str):
    """All published reviews of a person: ``?as=seller`` (by their buyers) or ``?as=buyer``."""
    person = get_user_by_handle(handle)
    if person is None:
        abort(404)
    role = request.args.get("as", "seller" if person.seller_profile is not None else "buyer")
    if role not in DIRECTIONS:
        role = "buyer"
    if person.handle != handle:
        return redirect(url_for("reviews.person_reviews", handle=person.handle, **request.args), 301)
    sort = _sort_arg()
    block = _person_block(person, _me(), DIRECTIONS[role], sort=sort, page=_page_arg(), per_page=LIST_SIZE)
    page_url, sort_url = _url_maker(
        "reviews.person_reviews", sort_arg="sort", page_arg="page", handle=person.handle, **{"as": role}
    )
    return _render(
        "person_reviews.html",
        page_url=page_url,
        sort_url=sort_url,
        person=person,
        role=role,
        block=block,
        sort=sort,
        sorts=PAGE_SORTS,
        me=_me(),
        here=_here(),
    )
