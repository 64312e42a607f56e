"""The dashboard's period selector."""

from __future__ import annotations

from wtforms import SelectChoice, SelectField, StringField

from app.console.dashboard.kpis import PRESETS
from app.core.forms import Form


class PeriodForm(Form):
    """A GET form (no CSRF token). The rules are ``kpis.resolve_period``'s."""

    class Meta:
        csrf = False

    period = SelectField(
        "Period",
        choices=[SelectChoice(key, label) for key, (label, _days) in PRESETS.items()],
        validate_choice=False,
    )
    date_from = StringField("From", name="from", render_kw={"type": "date"})
    date_to = StringField("To", name="to", render_kw={"type": "date"})
