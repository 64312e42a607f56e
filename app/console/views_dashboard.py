"""The console's dashboard: KPI tiles with the change against the previous period, and charts.

Moderators may see it. The figures come from ``app.console.kpis`` (definitions there);
the charts are server-rendered SVG macros in ``console/_charts.html`` whose axis helpers
are the Jinja globals below.
"""

from __future__ import annotations

import math

from flask import render_template, request
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField

from app.console import kpis
from app.console.access import MODERATOR, console_required
from app.console.blueprints import bp
from app.core import money


class PeriodForm(FlaskForm):
    """The period selector (a GET form: no CSRF token). The rules are ``kpis.resolve_period``'s."""

    class Meta:
        csrf = False

    period = SelectField(
        "Period",
        choices=[SelectChoice(key, label) for key, (label, _days) in kpis.PRESETS.items()],
        validate_choice=False,
    )
    date_from = StringField("From", name="from", render_kw={"type": "date"})
    date_to = StringField("To", name="to", render_kw={"type": "date"})


@bp.app_template_global()
def chart_axis(values, kind: str = "count") -> dict:
    """A rounded top and 4–5 evenly spaced ticks covering ``values`` (never an empty axis)."""
    high = max([v for v in values if v is not None] or [0])
    if high <= 0:
        step = 100 if kind == "money" else 1
    else:
        raw = high / 4
        magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
        step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude)
        step = max(1, math.ceil(step))
    top = step * max(1, math.ceil(high / step))
    return {"top": top, "ticks": [step * i for i in range(int(top // step) + 1)]}


@bp.app_template_global()
def axis_value(value, kind: str = "count", currency: str | None = None, exact: bool = False) -> str:
    """A short number for an axis or a bar: 1.5k, 2M; money in major units (``exact``: in full)."""
    if kind == "money":
        if exact:
            return money.format(int(value), currency)
        major = float(money.to_decimal(int(value), currency))
    else:
        major = value
        if exact:
            return f"{int(value):,}"
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if abs(major) >= limit:
            return f"{major / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{major:.2f}".rstrip("0").rstrip(".") if major != int(major) else f"{int(major)}"


@bp.get("/")
@console_required(MODERATOR)
def dashboard():
    """GMV, commission, refunds, orders, users and sellers over a period, with charts."""
    form = PeriodForm(formdata=request.args)
    status = 200
    try:
        board = kpis.dashboard(form.period.data, form.date_from.data, form.date_to.data)
    except kpis.KpiError as exc:
        for name, message in exc.errors.items():
            target = {"period": form.period, "from": form.date_from, "to": form.date_to}[name]
            target.errors = [*target.errors, message]
        board = kpis.dashboard()  # the default period, with the refusal on the form
        status = 422
    if board.period.key != "custom" and not form.errors:
        form.period.data = board.period.key
    return render_template("console/dashboard.html", board=board, form=form, presets=kpis.PRESETS), status
