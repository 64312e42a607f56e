"""Discovery's event handlers: keep the cached home page (``app/discovery/home.py``) fresh.

The home generation (the tenant cache's ``home`` stamp) is renewed twice for each of these
events: by a commit listener, in the committing process right after the commit (the next
request of any process, on any node, shows the change: the anonymous home page kept per process
has no other check), and by the handler when the event is delivered (a process that died between
its commit and its listener). Idempotent: a second renewal only costs one more recomputation.
The events and who publishes them:

- ``gig.published`` / ``gig.updated`` / ``gig.paused`` / ``gig.archived`` /
  ``gig.rating_changed`` (app/gigs/services.py), ``gig.approved`` (app/gigs/moderation.py);
- ``review.published`` (app/reviews/services.py);
- ``job.posted`` / ``job.updated`` / ``job.closed`` / ``job.filled`` (app/jobs/services.py);
- ``seller.updated`` (app/accounts: a seller's name, status, level or rating);
- ``home.changed`` (app/discovery/featured.py: the featured list was edited);
- ``category.changed`` (app/gigs/categories.py: created, renamed, hidden, moved);
- ``branding.changed`` (app/settings/services.py: name, tagline, hero text, colours, images).
"""

from __future__ import annotations

import contextlib

from app.discovery.home import bump_generation
from app.events import handles
from app.events.services import register_commit_listener
from tenants.db import TenantNotBound

HOME_EVENTS = (
    "gig.published",
    "gig.updated",
    "gig.paused",
    "gig.archived",
    "gig.rating_changed",
    "gig.approved",
    "review.published",
    "job.posted",
    "job.updated",
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


def _renew_on_commit(committed: list[tuple[str, dict]]) -> None:
    """After a commit in this process: renew the home generation at once when the commit
    published any of ``HOME_EVENTS`` (the tenant that committed is still bound)."""
    if any(name in _HOME_EVENT_NAMES for name, _payload in committed):
        with contextlib.suppress(TenantNotBound):  # a commit outside any tenant: the handler renews it
            bump_generation()


_HOME_EVENT_NAMES = frozenset(HOME_EVENTS)
register_commit_listener(_renew_on_commit)
