"""Discovery's event handlers: keep the cached home page (``app/discovery/home.py``) fresh.

Each handler bumps the event's tenant's home generation (``t:<tenant_id>:home:gen``, an INCR):
the next home page computes its cached part afresh. Idempotent (a second bump only costs one
more recomputation). The events and who publishes them:

- ``gig.published`` / ``gig.updated`` / ``gig.paused`` / ``gig.archived`` /
  ``gig.rating_changed`` (app/gigs/services.py), ``gig.approved`` (app/gigs/moderation.py);
- ``review.published`` (app/reviews/services.py);
- ``job.posted`` / ``job.closed`` / ``job.filled`` (app/jobs/services.py);
- ``seller.updated`` (app/accounts: a seller's name, status, level or rating);
- ``home.changed`` (app/discovery/featured.py: the featured list was edited);
- ``category.changed`` (app/gigs/categories.py: created, renamed, hidden, moved);
- ``branding.changed`` (app/settings/services.py: name, tagline, hero text, colours, images).
"""

from __future__ import annotations

from app.discovery.home import bump_generation
from app.events import handles

HOME_EVENTS = (
    "gig.published",
    "gig.updated",
    "gig.paused",
    "gig.archived",
    "gig.rating_changed",
    "gig.approved",
    "review.published",
    "job.posted",
    "job.closed",
    "job.filled",
    "seller.updated",
    "home.changed",
    "category.changed",
    "branding.changed",
)


def home_changed(event) -> None:
    """Something the home page shows changed: its cached part is stale."""
    bump_generation()  # the event's tenant is bound


for _name in HOME_EVENTS:
    handles(_name)(home_changed)
