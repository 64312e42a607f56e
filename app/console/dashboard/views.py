"""The console's dashboard: KPI tiles with the change against the previous period, and charts.

Moderators may see it. The figures come from ``kpis.py`` (definitions there);
the charts are server-rendered SVG macros in ``console/_charts.html`` whose axis helpers
are the Jinja globals below.
"""

from __future__ import annotations

import math

from flask import render_template, request

from app.console.access import MODERATOR, console_required
from app.console.blueprints import bp
from app.console.dashboard import kpis
from app.console.dashboard.forms import PeriodForm
from app.core import money
from app.core.domain_errors import refuse_form


@bp.app_template_global()
def chart_axis(values, kind: str = "count") -> dict:
    """A rounded top and 4–5 evenly spaced ticks covering ``values`` (never an empty axis).
    A rating's axis is always its whole scale, 0 to 5 stars."""
    if kind == "rating":
        return {"top": 5, "ticks": [0, 1, 2, 3, 4, 5]}
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
    """A short number for an axis or a bar: 1.5k, 2M; money in major units (``exact``: in full);
    a rating with two decimals (``exact``) or as few as it needs."""
    if kind == "rating":
        return f"{float(value):.2f}" if exact else f"{float(value):g}"
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
    """GMV, commission, refunds, orders, users, sellers and reviews over a period, with charts."""
    form = PeriodForm(formdata=request.args)
    status = 200
    try:
        board = kpis.dashboard(form.period.data, form.date_from.data, form.date_to.data)
    except kpis.KpiError as exc:
        refuse_form(exc, form)  # the fields are named period, from and to, like the refusal's
        board = kpis.dashboard()  # the default period, with the refusal on the form
        status = exc.status
    if board.period.key != "custom" and status == 200:
        form.period.data = board.period.key
    return render_template("console/dashboard.html", board=board, form=form, presets=kpis.PRESETS), status
