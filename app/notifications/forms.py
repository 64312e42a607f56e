"""The notification preferences form: two checkboxes (in-app, email) per kind."""

from __future__ import annotations

from wtforms import BooleanField

from app.core.forms import Form
from app.notifications.kinds import KINDS


def field_name(kind: str, channel: str) -> str:
    return f"{channel}__{kind}"


def preferences_form(preferences, formdata=None) -> Form:
    """A form with the user's current choices as defaults (``preferences`` from services)."""

    class PreferencesForm(Form):
        pass

    for kind in KINDS:
        for channel, label in (("in_app", "In the app"), ("email", "By email")):
            setattr(PreferencesForm, field_name(kind, channel), BooleanField(label))
    current = {p.kind: p for p in preferences}
    data = {field_name(k, c): getattr(current[k], c) for k in KINDS for c in ("in_app", "email")}
    if formdata is None:
        return PreferencesForm(data=data)
    return PreferencesForm(formdata=formdata)


def changes_from(form) -> dict[str, dict[str, bool]]:
    """``{kind: {"in_app": bool, "email": bool}}`` from a submitted form (unchecked = False)."""
    return {
        kind: {channel: bool(form[field_name(kind, channel)].data) for channel in ("in_app", "email")}
        for kind in KINDS
    }
