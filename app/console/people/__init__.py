"""Console area: users (search, suspend, reactivate, roles) and gig moderation (queue, approve, reject,
pause) — ``/console/users``, ``/console/gigs`` and the same under ``/api/v1/console``."""
