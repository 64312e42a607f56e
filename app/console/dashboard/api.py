"""Console API: the dashboard's figures (``GET /api/v1/console/dashboard``, moderators and admins).

A bad period is a ``KpiError``: 422 with ``{"errors": {"query": {field: [message]}}}``.
"""

from __future__ import annotations

from flask.views import MethodView

from app.console.access import MODERATOR, api_console_required
from app.console.blueprints import blp
from app.console.dashboard import kpis
from app.console.dashboard.schemas import ConsoleDashboardArgs, DashboardSchema


@blp.route("/dashboard", endpoint="dashboard")
class ConsoleDashboard(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(ConsoleDashboardArgs, location="query")
    @blp.response(200, DashboardSchema)
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Unknown period or a bad range of days")
    def get(self, args):
        """The dashboard's figures for a period, with the previous period and a time series.

        `period`: `7d`, `30d` (default), `90d` or `12m`, ending today (UTC); or `from` and `to`
        (inclusive UTC days, at most three years). GMV is money paid in by buyers (ledger
        payments, milestone payments included); commission is the net fee revenue. The
        jobs-and-contracts figures follow: jobs posted, contracts started, contract milestones
        paid and contract GMV (the payments of contract engagements). See each figure's
        `previous` and `change_pct`. The series is per day, week or month depending on the length.
        """
        return kpis.dashboard(args.get("period"), args.get("date_from"), args.get("date_to"))
