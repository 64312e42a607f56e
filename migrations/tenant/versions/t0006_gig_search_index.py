"""full-text search expression index on active gigs (the PostgreSQL search backend)

Revision ID: t0006
Revises: t0005
Create Date: 2026-11-22 13:30:00.000000
"""

from alembic import op

revision = 't0006'
down_revision = 't0005'
branch_labels = None
depends_on = None

# A copy of app.search.models.SEARCH_DOCUMENT as of this revision (migrations never
# import app code). The planner uses the index only while the two stay identical.
# PostgreSQL's own rendering of the expression (as reflected): written this way, Alembic's
# autogenerate comparison sees the model and the database agree. Tag slots are spelled out
# because array_to_string is only STABLE (an index expression must be IMMUTABLE); a gig
# holds at most 5 tags (CHECK constraint).
SEARCH_DOCUMENT = (
    '((setweight(to_tsvector(\'english\'::regconfig, title::text), \'A\'::"char") || setweight(to_tsvecto'
    "r('english'::regconfig, (((((((COALESCE(tags[1], ''::character varying)::text || ' '::text) || C"
    "OALESCE(tags[2], ''::character varying)::text) || ' '::text) || COALESCE(tags[3], ''::character "
    "varying)::text) || ' '::text) || COALESCE(tags[4], ''::character varying)::text) || ' '::text) |"
    '| COALESCE(tags[5], \'\'::character varying)::text), \'B\'::"char")) || setweight(to_tsvector(\'engli'
    'sh\'::regconfig, description_source), \'C\'::"char"))'
)


def upgrade():
    op.execute(
        f"CREATE INDEX ix_gigs_search_document ON gigs USING gin (({SEARCH_DOCUMENT})) "
        "WHERE status = 'active'"
    )


def downgrade():
    op.execute("DROP INDEX ix_gigs_search_document")
