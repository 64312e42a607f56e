"""Console pages "Webhooks" (``/console/webhooks``, admins): the endpoints (status, failing
badge, last success), create (the secret is shown once, on the next page), edit, enable /
disable, delete, roll the secret (with an overlap), reveal it, send a test ping; an endpoint's
page with its 24-hour chart of succeeded and failed attempts and its delivery log (filters by
status and type), and a delivery's page (its attempts, request headers, answers and the body)
with a Replay button.

Thin: parse the form, call one console action (``actions.py``: the service plus the audit
entry), redirect; the request's unit of work commits. A secret to show goes through a one-time
Redis key carrying the tenant (never into the session cookie or the URL).
"""

from __future__ import annotations

import secrets as pysecrets

from flask import abort, flash, redirect, render_template, request, url_for
from wtforms import BooleanField, IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.console.access import ADMIN, console_required, console_user
from app.console.blueprints import bp
from app.console.webhooks import actions
from app.core.domain_errors import DomainError, refuse_form
from app.core.forms import Form
from app.extensions import redis_store
from app.webhooks import catalogue, services
from app.webhooks.models import DELIVERY_STATUSES, ENDPOINTS_PER_TENANT
from tenants.db import current_tenant

ID = "<int(max=2147483647):endpoint_id>"
DELIVERY_ID = "<int(max=4611686018427387904):delivery_id>"
SHOWN_TTL = 300  # seconds a just-made secret waits for the page that shows it once


def _type_choices():
    return [(catalogue.ALL, "* Every event type (also future ones)")] + [
        (t.name, t.name) for t in catalogue.CATALOGUE
    ]


class EndpointForm(Form):
    url = StringField("URL", description="https:// (http:// only to localhost in development).")
    description = TextAreaField("Description", description="Optional: what this endpoint is for.")
    event_types = SelectMultipleField(
        "Event types",
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,  # unknown names are the service's to refuse, with its message
    )
    enabled = BooleanField("Enabled", default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.event_types.choices = _type_choices()


class RollForm(Form):
    overlap_hours = IntegerField("Old secret keeps signing for (hours)", default=24, validators=[Optional()])


class ActionForm(Form):
    """A button that only needs the CSRF token."""


def _show_once(value: str) -> str:
    token = pysecrets.token_urlsafe(16)
    redis_store.client.set(f"t:{current_tenant().id}:wh:shown:{token}", value.encode(), ex=SHOWN_TTL)
    return token


def _take_shown(token: str | None) -> str | None:
    if not token or len(token) > 64:
        return None
    value = redis_store.client.getdel(f"t:{current_tenant().id}:wh:shown:{token}")
    return value.decode() if value else None


def console_webhook_status(endpoint) -> tuple[str, str]:
    if endpoint.status == "disabled":
        if endpoint.disabled_reason == "failing":
            return "Disabled: failing", "badge-bad"
        return "Disabled", ""
    if endpoint.failing_since is not None:
        return "Failing", "badge-warn"
    return "Enabled", "badge-ok"


bp.add_app_template_global(console_webhook_status, "console_webhook_status")


@bp.app_template_global()
def console_delivery_status(status: str) -> tuple[str, str]:
    return status.capitalize(), {"succeeded": "badge-ok", "failed": "badge-bad", "pending": "badge-warn"}.get(
        status, ""
    )


@bp.get("/webhooks", endpoint="webhooks")
@console_required(ADMIN)
def webhooks_page():
    endpoints = services.list_endpoints()
    return render_template(
        "console/webhooks.html",
        endpoints=endpoints,
        pending=services.pending_count(e.id for e in endpoints),
        limit=ENDPOINTS_PER_TENANT,
    )


def _form_page(form, endpoint=None, loose=(), status=200):
    return render_template(
        "console/webhook_form.html",
        form=form,
        endpoint=endpoint,
        form_errors=list(loose),
        groups=_groups(),
    ), status


def _groups():
    groups: dict[str, list] = {}
    for t in catalogue.CATALOGUE:
        groups.setdefault(t.object, []).append(t)
    return groups


def _types_from(form) -> list[str]:
    return [name for name in (form.event_types.data or []) if isinstance(name, str)]


@bp.route("/webhooks/new", methods=["GET", "POST"], endpoint="new_webhook")
@console_required(ADMIN)
def new_webhook():
    form = EndpointForm()
    if request.method == "GET":
        form = EndpointForm(formdata=None)
        return _form_page(form)
    if not form.validate_on_submit() and form.csrf_token.errors:
        abort(400)
    try:
        endpoint, secret = actions.create_endpoint(
            console_user(),
            url=form.url.data,
            event_types=_types_from(form),
            description=form.description.data or "",
            enabled=bool(form.enabled.data),
        )
    except DomainError as exc:
        loose = refuse_form(exc, form)
        return _form_page(form, loose=loose, status=exc.status)
    flash("The endpoint is registered. Copy its signing secret now: it is shown only once.", "success")
    return redirect(
        url_for("console.webhook_endpoint", endpoint_id=endpoint.id, shown=_show_once(secret)), 303
    )


@bp.route(f"/webhooks/{ID}/edit", methods=["GET", "POST"], endpoint="edit_webhook")
@console_required(ADMIN)
def edit_webhook(endpoint_id: int):
    endpoint = services.get_endpoint(endpoint_id)
    if request.method == "GET":
        form = EndpointForm(formdata=None, obj=endpoint)
        form.enabled.data = endpoint.status == "enabled"
        return _form_page(form, endpoint)
    form = EndpointForm()
    if not form.validate_on_submit() and form.csrf_token.errors:
        abort(400)
    try:
        actions.update_endpoint(
            console_user(),
            endpoint_id,
            url=form.url.data or "",
            event_types=_types_from(form),
            description=form.description.data or "",
            enabled=bool(form.enabled.data),
        )
    except DomainError as exc:
        loose = refuse_form(exc, form)
        return _form_page(form, endpoint, loose, exc.status)
    flash("The endpoint is saved.", "success")
    return redirect(url_for("console.webhook_endpoint", endpoint_id=endpoint_id), 303)


@bp.get(f"/webhooks/{ID}", endpoint="webhook_endpoint")
@console_required(ADMIN)
def webhook_endpoint(endpoint_id: int):
    endpoint = services.get_endpoint(endpoint_id)
    status = request.args.get("status") or None
    event_type = request.args.get("type") or None
    filter_error = None
    if status not in (None, *DELIVERY_STATUSES):
        filter_error, status = "Choose a status from the list.", None
    if event_type is not None and event_type != services.PING and event_type not in catalogue.BY_NAME:
        filter_error, event_type = "Choose an event type from the list.", None
    before = request.args.get("before", "")
    before_id = int(before) if before.isdigit() and len(before) < 18 else None
    rows = services.list_deliveries(endpoint_id, status, event_type, limit=50, before_id=before_id)
    stats = services.endpoint_stats(endpoint_id)
    return render_template(
        "console/webhook_endpoint.html",
        endpoint=endpoint,
        secret=_take_shown(request.args.get("shown")),
        rows=rows,
        stats=stats,
        labels=[f"{s['hour']:%H}:00" for s in stats],
        status=status,
        event_type=event_type,
        filter_error=filter_error,
        statuses=DELIVERY_STATUSES,
        types=[services.PING, *catalogue.BY_NAME],
        next_before=rows[-1].delivery.id if len(rows) == 50 else None,
        action_form=ActionForm(),
        roll_form=RollForm(formdata=None),
    )


@bp.get(f"/webhooks/{ID}/deliveries/{DELIVERY_ID}", endpoint="webhook_delivery")
@console_required(ADMIN)
def webhook_delivery(endpoint_id: int, delivery_id: int):
    detail = services.get_delivery(delivery_id, endpoint_id=endpoint_id)
    return render_template("console/webhook_delivery.html", detail=detail, action_form=ActionForm())


def _button() -> None:
    ActionForm().validate_on_submit() or abort(400)


@bp.post(f"/webhooks/{ID}/enable", endpoint="enable_webhook")
@console_required(ADMIN)
def enable_webhook(endpoint_id: int):
    _button()
    actions.update_endpoint(console_user(), endpoint_id, enabled=True)
    flash("The endpoint is enabled: waiting deliveries are being sent.", "success")
    return redirect(url_for("console.webhook_endpoint", endpoint_id=endpoint_id), 303)


@bp.post(f"/webhooks/{ID}/disable", endpoint="disable_webhook")
@console_required(ADMIN)
def disable_webhook(endpoint_id: int):
    _button()
    actions.update_endpoint(console_user(), endpoint_id, enabled=False)
    flash("The endpoint is disabled: it receives nothing until enabled again.", "success")
    return redirect(url_for("console.webhook_endpoint", endpoint_id=endpoint_id), 303)


@bp.post(f"/webhooks/{ID}/delete", endpoint="delete_webhook")
@console_required(ADMIN)
def delete_webhook(endpoint_id: int):
    _button()
    actions.delete_endpoint(console_user(), endpoint_id)
    flash("The endpoint and its delivery log are deleted.", "success")
    return redirect(url_for("console.webhooks"), 303)


@bp.post(f"/webhooks/{ID}/roll-secret", endpoint="roll_webhook_secret")
@console_required(ADMIN)
def roll_webhook_secret(endpoint_id: int):
    form = RollForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash("Enter a whole number of hours from 0 to 168.", "error")
        return redirect(url_for("console.webhook_endpoint", endpoint_id=endpoint_id), 303)
    hours = 24 if form.overlap_hours.data is None else form.overlap_hours.data
    secret = actions.roll_secret(console_user(), endpoint_id, overlap_hours=hours)
    flash(
        f"New signing secret below (shown once). The old one keeps signing for {hours} h."
        if hours
        else "New signing secret below (shown once). The old one no longer signs.",
        "success",
    )
    return redirect(
        url_for("console.webhook_endpoint", endpoint_id=endpoint_id, shown=_show_once(secret)), 303
    )


@bp.post(f"/webhooks/{ID}/reveal-secret", endpoint="reveal_webhook_secret")
@console_required(ADMIN)
def reveal_webhook_secret(endpoint_id: int):
    _button()
    secret = actions.reveal_secret(console_user(), endpoint_id)
    return redirect(
        url_for("console.webhook_endpoint", endpoint_id=endpoint_id, shown=_show_once(secret)), 303
    )


@bp.post(f"/webhooks/{ID}/ping", endpoint="ping_webhook")
@console_required(ADMIN)
def ping_webhook(endpoint_id: int):
    _button()
    delivery = actions.send_test_ping(console_user(), endpoint_id)
    flash("A test ping is on its way: its delivery is at the top of the log.", "success")
    return redirect(
        url_for("console.webhook_endpoint", endpoint_id=endpoint_id, _anchor=f"delivery-{delivery.id}"), 303
    )


@bp.post(f"/webhooks/{ID}/deliveries/{DELIVERY_ID}/replay", endpoint="replay_webhook_delivery")
@console_required(ADMIN)
def replay_webhook_delivery(endpoint_id: int, delivery_id: int):
    _button()
    services.get_delivery(delivery_id, endpoint_id=endpoint_id)
    actions.replay_delivery(console_user(), delivery_id)
    flash(f"Delivery #{delivery_id} is sent again.", "success")
    return redirect(
        url_for("console.webhook_delivery", endpoint_id=endpoint_id, delivery_id=delivery_id), 303
    )
