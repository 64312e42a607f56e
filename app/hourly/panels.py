"""Hourly's card in the contract workroom's side panel: this week's logged time against the
weekly limit, and the way to the time and timesheets page.

The workroom sits below hourly (it may not import it), so the card is registered with
``app.workroom.services.register_side_panel`` in ``app/__init__.py::_register_domain_hooks``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template, url_for
from markupsafe import Markup

from app.core import money
from app.hourly import services


def hours_text(minutes: int) -> str:
    hours, mins = divmod(int(minutes), 60)
    return f"{hours} h {mins:02d} min" if mins else f"{hours} h"


def workroom_panel(contract, viewer, *, now: datetime | None = None) -> Markup | None:
    """This week (in the contract's time zone) of an hourly contract: logged vs the weekly
    limit, the amount so far, an over-limit note; None for a fixed-price contract."""
    if contract.payment_model != "hourly":
        return None
    now = now or datetime.now(UTC)
    week = services.week_view(contract, services.current_week(contract, now))
    cap_minutes = week.terms.weekly_cap_hours * 60
    return Markup(  # noqa: S704  (a rendered, autoescaped template)
        render_template(
            "hourly/_workroom_panel.html",
            contract=contract,
            week=week,
            logged=hours_text(week.minutes_logged),
            cap=hours_text(cap_minutes),
            cap_minutes=cap_minutes,
            over=hours_text(week.over_cap_minutes) if week.over_cap_minutes > 0 else None,
            percent=min(100, round(100 * week.minutes_logged / cap_minutes)) if cap_minutes else 0,
            amount=money.format(week.amount_minor, contract.currency),
            rate=money.format(week.terms.rate_minor, contract.currency),
            paused=contract.paused_at is not None,
            time_url=url_for("hourly.time_page", contract_id=contract.id),
        )
    )
