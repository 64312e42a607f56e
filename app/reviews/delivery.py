"""Sellers' latest on-time rates for job matching (registered with ``app.jobs.matching`` by the
composition root: jobs sit below reviews and cannot read reputation snapshots themselves)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from app.reviews.models import ReputationSnapshot


def latest_on_time_rates() -> sa.Subquery:
    """One row per seller: ``user_id`` and ``on_time_rate`` (percent, may be null) of the
    latest snapshot (the ``(user_id, taken_on)`` unique index serves DISTINCT ON)."""
    snapshot = ReputationSnapshot
    return (
        sa.select(snapshot.user_id, snapshot.on_time_rate)
        .ext(distinct_on(snapshot.user_id))
        .order_by(snapshot.user_id, snapshot.taken_on.desc())
        .subquery("delivery")
    )
