"""Code & CI web pages and the inbound webhook.

- ``webhooks_bp``: ``POST /webhooks/code/github`` and ``/webhooks/code/gitlab`` on the tenant's
  host. Signed by the provider, not by a session: CSRF-exempt (``app._register_blueprints``),
  the body bounded (``WEBHOOK_MAX_BYTES``) before it is read. Always JSON.
- ``bp``: the contract page's "Repository" section (``contract_section``, registered with
  ``contracts.services.register_contract_section``), linking a repository (the secret shown
  once, on the answer to the POST, never stored in a cookie), unlinking; and the note under a
  milestone with its pull requests, CI and previews (``milestone_note``, registered with
  ``orders.services.register_milestone_note``).
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectChoice, SelectField, StringField

from app.code import services
from app.contracts import services as contracts
from app.core import unit_of_work
from app.core.domain_errors import DomainError, refuse_form
from app.core.forms import Form

log = logging.getLogger(__name__)

bp = Blueprint("code", __name__, template_folder="templates")
webhooks_bp = Blueprint("code_webhooks", __name__)

# GitHub caps payloads at 25 MB, but a pull request or check event is a few dozen KB.
WEBHOOK_MAX_BYTES = 1024 * 1024


class LinkRepoForm(Form):
    provider = SelectField(
        "Provider",
        choices=[SelectChoice(p, label) for p, label in services.PROVIDER_LABELS.items()],
        validate_choice=False,
    )
    full_name = StringField("Repository (owner/name)")


class CsrfForm(Form):
    """Only the CSRF token."""


def _me():
    return current_user._get_current_object()


def webhook_url(provider: str) -> str:
    return url_for("code_webhooks.receive", provider=provider, _external=True)


# --------------------------------------------------------------------------- the webhook


@webhooks_bp.before_request
def _bound_body():
    length = request.content_length
    if length is not None and length > WEBHOOK_MAX_BYTES:
        return jsonify(
            error="too_large", message=f"The body may have at most {WEBHOOK_MAX_BYTES:,} bytes."
        ), 413
    request.max_content_length = min(request.max_content_length or WEBHOOK_MAX_BYTES, WEBHOOK_MAX_BYTES)
    return None


@webhooks_bp.post("/webhooks/code/<any(github, gitlab):provider>")
def receive(provider: str):
    """One delivery of GitHub or GitLab for a repository linked to a contract of this
    marketplace. 200 applied / duplicate / ignored; 401 refused (one body whatever the reason);
    400 a validly signed body that is not the event's JSON; 413 too large."""
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return jsonify(
            error="too_large", message=f"The body may have at most {WEBHOOK_MAX_BYTES:,} bytes."
        ), 413
    try:
        result = services.receive_webhook(provider, request.headers, body)
    except services.WebhookRefused as exc:
        log.info("code webhook (%s) refused", provider)
        return jsonify(error=exc.code, message=exc.message), 401
    except DomainError as exc:
        if exc.status >= 500:
            raise
        return jsonify(error=exc.code, message=exc.message), exc.status
    return jsonify(result.body), result.status


# --------------------------------------------------------------------------- contract page


def contract_section(contract, viewer) -> Markup | None:
    """The "Repository" section of the contract page (its parties only): the linked
    repositories with recent pull requests and CI, unlink, and the form to link one while the
    contract is awaiting signatures or active."""
    if viewer is None or contract.party(viewer.id) is None:
        return None
    can_link = contract.status in services.LINKABLE_STATUSES
    panels = services.repo_summary(contract.id, open_only=False)
    if not panels and not can_link:
        return None
    return Markup(  # noqa: S704  (a rendered, autoescaped template)
        render_template(
            "code/_contract_section.html",
            contract=contract,
            panels=panels,
            can_link=can_link,
            form=LinkRepoForm(formdata=None),
            csrf_form=CsrfForm(formdata=None),
            labels=services.PROVIDER_LABELS,
        )
    )


def milestone_note(order, milestone) -> Markup | None:
    """Under a contract milestone with submission links: each pull request's state and its
    head's latest CI, and the preview links labelled (Vercel, Netlify, Render, Preview)."""
    links = getattr(milestone, "submission_links", None)
    if not links or order.kind != "contract":
        return None
    contract = contracts.contract_of_order(order.id)
    if contract is None:
        return None
    items = services.submission_links(contract, links)
    if not items:
        return None
    return Markup(  # noqa: S704  (a rendered, autoescaped template)
        render_template("code/_milestone_note.html", items=items, milestone=milestone)
    )


def _link_page(contract, form, *, messages=(), status=200):
    return render_template(
        "code/link.html",
        contract=contract,
        form=form,
        messages=list(messages),
        labels=services.PROVIDER_LABELS,
    ), status


@bp.route("/contracts/<int:contract_id>/repos/new", methods=["GET", "POST"])
@login_required
def link_repo(contract_id: int):
    """Link a repository; the answer shows its webhook secret once, with the webhook address and
    the provider's setup steps. A refusal is shown on the form."""
    me = _me()
    contract = contracts.get_contract(me, contract_id)
    form = LinkRepoForm()
    if request.method == "GET":
        return _link_page(contract, form)
    if not form.validate_on_submit():
        return _link_page(contract, form, status=422)
    try:
        link, secret = services.link_repo(me, contract_id, form.provider.data, form.full_name.data)
    except DomainError as exc:
        if exc.status == 404:
            unit_of_work.abandon()
            abort(404)
        messages = refuse_form(exc, form)
        if exc.status in (403, 409):
            messages = [exc.message]
        return _link_page(contract, form, messages=messages, status=exc.status)
    response = render_template(
        "code/linked.html",
        contract=contract,
        link=link,
        secret=secret,
        webhook_url=webhook_url(link.provider),
        labels=services.PROVIDER_LABELS,
    )
    # The secret is on this page only: never cached, never in a cookie.
    return response, 200, {"Cache-Control": "no-store"}


@bp.post("/contracts/<int:contract_id>/repos/<int:link_id>/remove")
@login_required
def unlink_repo(contract_id: int, link_id: int):
    if not CsrfForm().validate_on_submit():
        abort(400)
    link = services.unlink(_me(), contract_id, link_id)
    flash(f"{link.full_name} is no longer linked: its webhook is refused from now on.", "success")
    return redirect(url_for("contracts.contract_page", contract_id=contract_id, _anchor="repository"), 303)
