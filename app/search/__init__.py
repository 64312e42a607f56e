"""Search: per-tenant gig index (Whoosh or PostgreSQL), the /search pages and GET /api/v1/gigs."""
