"""What the reviews domain adds to other domains' pages through their hooks.

``profile_stats_section`` is registered with ``accounts.register_profile_section`` (in
``app/__init__.py``): a seller's public profile shows their reputation figures from
``reputation.seller_stats`` (through its short Redis cache, ``cached_seller_stats``).
The templates are loadable through the reviews views blueprint's template folder.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from markupsafe import Markup

from app.accounts.models import User
from app.core.reference import LANGUAGES
from app.reviews.reputation import cached_seller_stats


def response_time_label(seconds: int | None) -> str | None:
    """A first-response time as buyers read it: "within 20 minutes", "within 3 hours", "within 2 days"."""
    if seconds is None:
        return None
    minutes = max(1, -(-seconds // 60))
    if minutes < 60:
        return f"within {minutes} minute{'s' if minutes != 1 else ''}"
    hours = -(-minutes // 60)
    if hours < 48:
        return f"within {hours} hour{'s' if hours != 1 else ''}"
    days = -(-hours // 24)
    return f"within {days} days"


def profile_stats_section(person: User, viewer: Any) -> Markup | None:
    """The "Seller stats" section of ``person``'s public profile (None for a non-seller); order and
    response figures may be ``reputation.STATS_CACHE_SECONDS`` old."""
    stats = cached_seller_stats(person.id)
    if stats is None:
        return None
    # render_template's output is autoescaped HTML: it is the section as it must appear.
    return Markup(  # noqa: S704
        render_template(
            "reviews/_profile_stats.html",
            stats=stats,
            languages=[LANGUAGES.get(code, code) for code in stats.languages],
            response_time=response_time_label(stats.response_seconds),
        )
    )
