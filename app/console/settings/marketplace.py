"""Console actions for marketplace settings, categories and payments.

Each calls the owning domain's rule (app/settings, app/gigs/categories.py,
app/payments) and writes the audit entry in the same transaction; the request's
unit of work commits once. Secrets never reach the audit log: a changed key is ``"(changed)"``.
"""

from __future__ import annotations

from app.accounts import two_factor
from app.console.audit import diff, record_audit
from app.console.errors import ConsoleError
from app.gigs import categories
from app.payments import services as payments
from app.settings import services as settings

# --------------------------------------------------------------------------- settings


def update_settings(actor, **changes):
    """Change currency, commission, delays, payout schedule, approval, support email;
    audited as ``settings.update``. Raises SettingsError (nothing changed)."""
    before = settings.settings_snapshot()
    turning_on_2fa = changes.get("require_2fa_staff") is True and not before["require_2fa_staff"]
    if turning_on_2fa and not two_factor.has_two_factor(actor):
        raise ConsoleError(
            {
                "require_2fa_staff": "Turn on two-factor sign-in for your own account first "
                "(Account → Security): the console would refuse you too."
            }
        )
    row = settings.update_marketplace_settings(**changes)
    delta = diff(before, settings.settings_snapshot(row))
    if delta:
        record_audit(
            actor, "settings.update", "settings", 1, "Settings changed: " + ", ".join(sorted(delta)), delta
        )
    return row


# --------------------------------------------------------------------------- categories


def create_category(actor, name, *, parent_id=None, slug=None, description=None):
    """Add a category or subcategory; audited as ``category.create``. Raises CategoryError."""
    category = categories.create_category(name, parent_id=parent_id, slug=slug, description=description)
    where = f" under #{category.parent_id}" if category.parent_id else ""
    record_audit(
        actor,
        "category.create",
        "category",
        category.id,
        f"Category {category.name!r}{where} created",
        diff({}, categories.snapshot(category)),
    )
    return category


def update_category(actor, category_id, **changes):
    """Rename, re-slug, describe, hide/show or move a category; audited as ``category.update``
    (``category.hide`` / ``category.show`` when only the visibility changed)."""
    before = categories.snapshot(categories.get_category(category_id)) if isinstance(category_id, int) else {}
    category = categories.update_category(category_id, **changes)
    delta = diff(before, categories.snapshot(category))
    if delta:
        action = "category.update"
        if set(delta) == {"is_hidden"}:
            action = "category.hide" if category.is_hidden else "category.show"
        record_audit(
            actor,
            action,
            "category",
            category.id,
            f"Category {category.name!r}: " + ", ".join(sorted(delta)),
            delta,
        )
    return category


def reorder_categories(actor, parent_id, ordered_ids):
    """Set the order of one level at once; audited as ``category.reorder``."""
    before = [c.id for c in categories.tree()] if parent_id is None else None
    if parent_id is not None:
        before = [c.id for c in categories.get_category(parent_id).children]
    rows = categories.reorder(parent_id, ordered_ids)
    after = [c.id for c in rows]
    if before != after:
        record_audit(
            actor,
            "category.reorder",
            "category",
            parent_id,
            "Categories reordered" + (f" under #{parent_id}" if parent_id else " (top level)"),
            {"order": [before, after]},
        )
    return rows


# --------------------------------------------------------------------------- payments


def _payments_audit_view() -> dict:
    overview = settings.payment_overview()
    return {
        "provider": overview["provider"],
        "publishable_key": overview["publishable_key"],
        "secret_key": overview["secret_key"],
        "webhook_secret": overview["webhook_secret"],
    }


def configure_payments(actor, provider, *, publishable_key=None, secret_key=None, webhook_secret=None):
    """Choose the payment provider: ``sandbox``, or ``stripe`` with its keys.

    For Stripe, a blank secret keeps the stored one (so an operator can change one key
    without re-entering the others); the publishable key, the secret key and the webhook
    secret must all be present in the end, have Stripe's shapes and the same mode
    (test/live). Audited as ``payments.update`` with secrets as ``"(changed)"``.
    Raises ConsoleError 422 with field errors (nothing changed).
    """
    before = _payments_audit_view()
    changed_secrets: list[str] = []
    if provider == "sandbox":
        settings.use_sandbox_payments()
    elif provider == "stripe":
        row = settings.settings_row()
        stored_secret, stored_webhook = settings.stored_stripe_secrets(row)
        publishable_key = (publishable_key or "").strip() or row.stripe_publishable_key or ""
        secret_key = (secret_key or "").strip() or stored_secret or ""
        webhook_secret = (webhook_secret or "").strip() or stored_webhook or ""
        errors = {}
        for field, value in (
            ("publishable_key", publishable_key),
            ("secret_key", secret_key),
            ("webhook_secret", webhook_secret),
        ):
            if not value:
                errors[field] = "is required to use Stripe"
        errors.update(settings.stripe_mode_errors(publishable_key, secret_key))
        if errors:
            raise ConsoleError("Check the Stripe keys.", errors)
        payments.configure_stripe(publishable_key, secret_key, webhook_secret)
        changed_secrets = [
            field
            for field, new, old in (
                ("secret_key", secret_key, stored_secret),
                ("webhook_secret", webhook_secret, stored_webhook),
            )
            if new != old
        ]
    else:
        raise ConsoleError("Choose a payment provider.", {"provider": "must be sandbox or stripe"})
    after = _payments_audit_view()
    delta: dict = {
        field: [before[field], after[field]]
        for field in ("provider", "publishable_key")
        if before[field] != after[field]
    }
    for field in changed_secrets:
        delta[field] = "(changed)"  # never the value, nor its masked form
    if delta:
        record_audit(
            actor,
            "payments.update",
            "settings",
            1,
            f"Payments: provider {after['provider']}"
            + (f" ({', '.join(changed_secrets)} changed)" if changed_secrets else ""),
            delta,
        )
    return settings.settings_row()
