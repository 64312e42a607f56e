"""The console's two blueprints. Each area (``dashboard``, ``people``, ``operations``, ``settings``)
attaches its routes to them in its ``views.py`` and ``api.py``."""

from __future__ import annotations

from flask import Blueprint

from app.core.api import Blueprint as ApiBlueprint

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")

blp = ApiBlueprint(
    "console_api",
    __name__,
    url_prefix="/api/v1/console",
    description="The operator console for partners: branding, domains, settings, categories, payments, "
    "users, gig moderation, review moderation and reputation settings, orders and refunds, jobs, job "
    "templates and matching weights, contracts and their milestones, disputes (queue, case, mediation, "
    "decisions, settings, experts), payouts, sellers' payout accounts (KYC) and payout holds, "
    "audit log and KPIs. Bearer token "
    "of an operator admin (or a moderator, for the moderation resources). Every change is written to "
    "the audit log.",
)
