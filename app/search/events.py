"""Event handlers of the search domain: keep each tenant's index in step with its gigs.

Payloads carry ids only; every handler loads the rows fresh (``index_gigs``) and
upserts an active gig or deletes anything else, so a handler may run any number
of times and in any order. Handlers of one tenant coalesce: whoever holds the
writer lock writes every gig waiting, and the others return at once. A writer
lock that stays busy (or a rebuild in progress) raises, and RQ retries the event.
"""

from __future__ import annotations

from app.events import handles
from app.search import models as _models  # noqa: F401  (the gigs full-text index)
from app.search import services


def _gig_changed(event) -> None:
    gig_id = event.payload.get("gig_id")
    if isinstance(gig_id, int):
        services.index_gig(gig_id)


for _name in ("gig.published", "gig.updated", "gig.paused", "gig.archived", "gig.rating_changed"):
    handles(_name)(_gig_changed)


@handles("seller.updated")
def seller_changed(event) -> None:
    """From accounts (display name, handle or status of a seller changed): ``{"user_id": id}``."""
    user_id = event.payload.get("user_id")
    if isinstance(user_id, int):
        services.index_seller_gigs(user_id)
