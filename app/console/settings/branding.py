"""Console actions for branding: each calls the settings rule and writes the audit entry
in the same transaction (the request's unit of work commits once)."""

from __future__ import annotations

from app.console.audit import diff, record_audit
from app.settings import services as settings

TARGET = "settings"


def update_branding(actor, **changes):
    """Change name, tagline, hero text, colours; audited as ``branding.update`` when anything changed.

    Raises SettingsError (nothing changed, nothing audited).
    """
    before = settings.branding_snapshot()
    row = settings.update_branding(**changes)
    after = settings.branding_snapshot(row)
    delta = diff(before, after)
    if delta:
        record_audit(
            actor, "branding.update", TARGET, 1, "Branding changed: " + ", ".join(sorted(delta)), delta
        )
    return row


def upload_brand_image(actor, kind: str, upload):
    """Store a new logo or favicon; audited as ``branding.logo`` / ``branding.favicon``.

    Raises SettingsError({kind: ...}) for a bad upload (nothing changed).
    """
    before = settings.branding_snapshot()
    row = settings.set_brand_image(kind, upload)
    after = settings.branding_snapshot(row)
    record_audit(actor, f"branding.{kind}", TARGET, 1, f"New {kind} uploaded", diff(before, after))
    return row


def remove_brand_image(actor, kind: str):
    """Remove the logo or favicon; audited only when there was one."""
    before = settings.branding_snapshot()
    row = settings.remove_brand_image(kind)
    delta = diff(before, settings.branding_snapshot(row))
    if delta:
        record_audit(actor, f"branding.{kind}_removed", TARGET, 1, f"The {kind} was removed", delta)
    return row
