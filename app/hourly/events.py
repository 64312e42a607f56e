"""Handlers the hourly domain runs for other domains' events.

``escrow.funded`` ``{"order_id", "milestone_id"}``: a week charged later by the provider (a
Stripe charge still processing when it was made, confirmed by its webhook) is released to the
freelancer and its timesheet billed (``services.funded_by_provider``; idempotent, and nothing
for any other milestone). ``milestone.dispute_resolved``: a disputed week settled by the
resolution centre (``services.dispute_settled``). ``milestone.dispute_dismissed``: a week's
dispute withdrawn or dismissed, so the held week is paid (``services.dispute_dismissed``).
"""

from __future__ import annotations

from app.core.ids import parse_id
from app.events import handles
from app.hourly import services


@handles("escrow.funded")
def bill_funded_week(event) -> None:
    milestone_id = parse_id((event.payload or {}).get("milestone_id"))
    if milestone_id is not None:
        services.funded_by_provider(milestone_id)


@handles("milestone.dispute_resolved")
def settle_disputed_week(event) -> None:
    milestone_id = parse_id((event.payload or {}).get("milestone_id"))
    if milestone_id is not None:
        services.dispute_settled(milestone_id)


@handles("milestone.dispute_dismissed")
def pay_undisputed_week(event) -> None:
    milestone_id = parse_id((event.payload or {}).get("milestone_id"))
    if milestone_id is not None:
        services.dispute_dismissed(milestone_id)
