"""Console pages of the payouts area (admins only): every payout (filters; Retry on a failed
one), sellers' payout accounts (KYC status, requirements, last checked, holds; the sandbox's
simulated verification: verify or reject), one seller's account page (KYC decision, hold with
a reason, release, history), and the holds (active ones, with Release).

Thin: parse the form, call the console action (``actions.py``) or a read (``reads.py``),
redirect; the request's unit of work commits. The retry moves money: its form carries
``idempotency_field()`` and the view is ``@idempotent`` (a double click pays once; the back
office retries a failed payout once anyway). A refusal shows the page again with the message
on the form (``refuse_form``, which drops the request's work) and the refusal's status; unknown
ids are 404 pages.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from app.console.access import ADMIN, console_required, console_user
from app.console.blueprints import bp
from app.console.errors import ConsoleInputError
from app.console.payouts import actions, reads
from app.console.payouts.forms import (
    AccountFilterForm,
    HoldForm,
    KycDecisionForm,
    PayoutFilterForm,
    ReleaseHoldForm,
    RetryPayoutForm,
)
from app.core import money
from app.core.domain_errors import DomainError, refuse_form
from app.core.idempotency import idempotent

MAX_ID = "int(max=2147483647)"


def _back(default: str) -> str:
    """The console page a form came from (``next``), never another site."""
    target = request.form.get("next") or ""
    return target if target.startswith("/console/") and "//" not in target and "\\" not in target else default


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@bp.app_template_global()
def console_payout_status(status: str) -> tuple[str, str]:
    return status.capitalize(), reads.STATUS_BADGES.get(status, "")


@bp.app_template_global()
def console_kyc_status(status: str) -> tuple[str, str]:
    return reads.KYC_LABELS.get(status, status), reads.KYC_BADGES.get(status, "")


@bp.app_template_global()
def console_payout_block(code: str | None) -> str:
    return reads.BLOCK_LABELS.get(code, "") if code else ""


# --------------------------------------------------------------------------- payouts


@bp.get("/payouts", endpoint="payouts")
@console_required(ADMIN)
def payout_list(retry_form=None, loose=None, status=200):
    form = PayoutFilterForm(formdata=request.args)
    filter_errors: list[str] = []
    try:
        filters = reads.payout_filters(form.status.data, form.q.data, form.date_from.data, form.date_to.data)
    except ConsoleInputError as exc:
        filters, filter_errors = None, refuse_form(exc, form)
    page = _page_arg()
    rows, total = reads.search_payouts(filters, page) if filters is not None else ([], 0)
    return render_template(
        "console/payouts.html",
        form=form,
        loose_errors=filter_errors + (loose or []),
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, reads.PAYOUT_PAGE_SIZE),
        args=filters.as_args() if filters is not None else {},
        counts=reads.payout_status_counts(),
        invalid=filters is None,
        retry_form=retry_form or RetryPayoutForm(formdata=None),
    ), (422 if filters is None else status)


@bp.post(f"/payouts/<{MAX_ID}:payout_id>/retry")
@console_required(ADMIN)
@idempotent
def retry_payout(payout_id: int):
    form = RetryPayoutForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        new = actions.retry_payout(console_user(), payout_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        loose = refuse_form(exc, form)
        return payout_list(
            retry_form=form, loose=[f"Payout #{payout_id}: {m}" for m in loose], status=exc.status
        )
    flash(
        f"Payout #{payout_id} retried as payout #{new.id} ({money.format(new.amount_minor, new.currency)}, "
        f"{new.status}).",
        "success",
    )
    return redirect(_back(url_for("console.payouts")), 303)


# --------------------------------------------------------------------------- accounts


@bp.get("/payout-accounts", endpoint="payout_accounts")
@console_required(ADMIN)
def payout_account_list():
    form = AccountFilterForm(formdata=request.args)
    loose: list[str] = []
    try:
        filters = reads.account_filters(form.kyc.data, form.q.data, form.held.data)
    except ConsoleInputError as exc:
        filters, loose = None, refuse_form(exc, form)
    page = _page_arg()
    rows, total = reads.search_accounts(filters, page) if filters is not None else ([], 0)
    return render_template(
        "console/payout_accounts.html",
        form=form,
        loose_errors=loose,
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, reads.ACCOUNT_PAGE_SIZE),
        args=filters.as_args() if filters is not None else {},
        counts=reads.kyc_counts(),
        blocked=reads.blocked_summary(),
        provider=reads.provider_name(),
        invalid=filters is None,
    ), (422 if filters is None else 200)


def _render_account(
    user_id: int, *, kyc_form=None, hold_form=None, release_form=None, loose=None, status=200
):
    detail = reads.account_detail(user_id)  # unknown: 404; not a seller: 409
    return render_template(
        "console/payout_account.html",
        d=detail,
        row=detail.row,
        provider=reads.provider_name(),
        kyc_form=kyc_form or KycDecisionForm(formdata=None),
        hold_form=hold_form or HoldForm(formdata=None),
        release_form=release_form or ReleaseHoldForm(formdata=None),
        retry_form=RetryPayoutForm(formdata=None),
        loose_errors=loose or [],
    ), status


@bp.get(f"/payout-accounts/<{MAX_ID}:user_id>")
@console_required(ADMIN)
def payout_account(user_id: int):
    return _render_account(user_id)


def _form_post(form, name: str, user_id: int, run, done: str):
    """Validate ``form``, run the action, flash ``done`` and go back to the account page; a
    refusal shows the page again with the errors on the form."""
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _render_account(user_id, **{name: form}, status=422)
    try:
        run()
    except DomainError as exc:
        if exc.status == 404:
            raise
        loose = refuse_form(exc, form)
        return _render_account(user_id, **{name: form}, loose=loose, status=exc.status)
    flash(done, "success")
    return redirect(_back(url_for("console.payout_account", user_id=user_id)), 303)


@bp.post(f"/payout-accounts/<{MAX_ID}:user_id>/kyc")
@console_required(ADMIN)
def decide_kyc(user_id: int):
    form = KycDecisionForm()
    return _form_post(
        form,
        "kyc_form",
        user_id,
        lambda: actions.decide_kyc(console_user(), user_id, form.status.data, form.note.data),
        f"Identity check {'verified' if form.status.data == 'verified' else 'rejected'}; the seller is told.",
    )


@bp.post(f"/payout-accounts/<{MAX_ID}:user_id>/hold")
@console_required(ADMIN)
def place_hold(user_id: int):
    form = HoldForm()
    return _form_post(
        form,
        "hold_form",
        user_id,
        lambda: actions.place_hold(console_user(), user_id, form.reason.data),
        "Payouts held. The seller is told to contact support; their balance stays available.",
    )


@bp.post(f"/payout-accounts/<{MAX_ID}:user_id>/release")
@console_required(ADMIN)
def release_hold(user_id: int):
    form = ReleaseHoldForm()
    return _form_post(
        form,
        "release_form",
        user_id,
        lambda: actions.release_hold(console_user(), user_id, form.note.data),
        "Hold released: the seller can be paid out again.",
    )


# --------------------------------------------------------------------------- holds


@bp.get("/payout-holds", endpoint="payout_holds")
@console_required(ADMIN)
def payout_hold_list():
    state = request.args.get("state", "active")
    active = {"active": True, "released": False, "all": None}.get(state, True)
    page = _page_arg()
    rows, total = reads.list_holds(active, page)
    return render_template(
        "console/payout_holds.html",
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, 50),
        state=state if state in ("active", "released", "all") else "active",
        release_form=ReleaseHoldForm(formdata=None),
    )
