"""The console's side navigation: the areas the signed-in operator may open."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user

from app.console.access import ADMIN, MODERATOR, has_console_role
from app.console.blueprints import bp

# (endpoint, label, role needed). Areas whose routes are not registered are skipped.
NAV = (
    ("console.dashboard", "Dashboard", MODERATOR),
    ("console.branding", "Branding", ADMIN),
    ("console.domains", "Domains", ADMIN),
    ("console.settings", "Settings", ADMIN),
    ("console.categories", "Categories", ADMIN),
    ("console.payments", "Payments", ADMIN),
    ("console.users", "Users", MODERATOR),
    ("console.gigs", "Gigs", MODERATOR),
    ("console.featured_gigs", "Featured gigs", MODERATOR),
    ("console.reviews", "Reviews", MODERATOR),
    ("console.reputation_settings", "Reputation", ADMIN),
    ("console.orders", "Orders", MODERATOR),
    ("console.jobs", "Jobs", MODERATOR),
    ("console.contracts", "Contracts", MODERATOR),
    ("console.milestones", "Milestones", MODERATOR),
    ("console.payouts", "Payouts", ADMIN),
    ("console.payout_accounts", "Payout accounts", ADMIN),
    ("console.payout_holds", "Payout holds", ADMIN),
    ("console.disputes", "Disputes", MODERATOR),
    ("console.quarantine", "Quarantine", MODERATOR),
    ("console.dispute_settings", "Dispute settings", ADMIN),
    ("console.job_templates", "Job templates", ADMIN),
    ("console.matching_settings", "Matching", ADMIN),
    ("console.audit_log", "Audit log", MODERATOR),
    ("console.api_keys", "API keys", ADMIN),
    ("console.webhooks", "Webhooks", ADMIN),
    ("console.identity_providers", "Sign-in methods", ADMIN),
)


@bp.app_context_processor
def _console_nav():
    def console_nav():
        return [
            (endpoint, label)
            for endpoint, label, role in NAV
            if endpoint in current_app.view_functions and has_console_role(current_user, role)
        ]

    def can_use_console():
        return "console.dashboard" in current_app.view_functions and has_console_role(current_user)

    return {"console_nav": console_nav, "can_use_console": can_use_console}
