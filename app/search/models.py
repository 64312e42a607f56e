"""The search domain's one addition to the database: a full-text expression index on ``gigs``.

Declared here (not in ``app.gigs.models``) because only the PostgreSQL search
backend uses it; attached to the ``gigs`` table so that provisioning's
``create_all`` builds it in every new tenant schema, and migration ``t0006``
adds it to existing ones. Partial (active gigs only): the backend always filters
on ``status = 'active'``.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.gigs.models import Gig

# PostgreSQL's own rendering of the expression (as reflected): written this way, Alembic's
# autogenerate comparison sees the model and the database agree. Tag slots are spelled out
# because array_to_string is only STABLE (an index expression must be IMMUTABLE); a gig
# holds at most 5 tags (CHECK constraint).
SEARCH_DOCUMENT = (
    "((setweight(to_tsvector('english'::regconfig, title::text), 'A'::\"char\") || setweight(to_tsvecto"
    "r('english'::regconfig, (((((((COALESCE(tags[1], ''::character varying)::text || ' '::text) || C"
    "OALESCE(tags[2], ''::character varying)::text) || ' '::text) || COALESCE(tags[3], ''::character "
    "varying)::text) || ' '::text) || COALESCE(tags[4], ''::character varying)::text) || ' '::text) |"
    "| COALESCE(tags[5], ''::character varying)::text), 'B'::\"char\")) || setweight(to_tsvector('engli"
    "sh'::regconfig, description_source), 'C'::\"char\"))"
)

gig_search_index = sa.Index(
    "ix_gigs_search_document",
    sa.text(f"({SEARCH_DOCUMENT})"),
    postgresql_using="gin",
    postgresql_where=sa.text("(status)::text = 'active'::text"),
    _table=Gig.__table__,
)
