"""reviews: list indexes that match the lists' order (published_at, id) per gig and direction;
the published_at index as BRIN

Revision ID: t0021
Revises: t0020
Create Date: 2026-12-02 19:00:00

The t0018 indexes left the id tiebreaker (and, for gigs, the direction) out, so PostgreSQL
walked the global ``published_at`` index filtering tens of thousands of rows for a seller's
latest five reviews (bench.reviews: 6 ms of a 22 ms profile page). Even with the right index
the planner kept choosing that walk (it cannot know a seller's reviews are old), so the
console's ``published_at`` index becomes BRIN: it serves the dashboard's date ranges and no
ORDER BY.
"""

from alembic import op
import sqlalchemy as sa

revision = 't0021'
down_revision = 't0020'
branch_labels = None
depends_on = None

PUBLISHED = sa.text("status = 'published'")


def upgrade():
    op.drop_index('ix_reviews_published_at', table_name='reviews')
    op.create_index('ix_reviews_published_at_brin', 'reviews', ['published_at'], unique=False, postgresql_using='brin')
    op.drop_index('ix_reviews_gig_published', table_name='reviews', postgresql_where=PUBLISHED)
    op.drop_index('ix_reviews_subject_published', table_name='reviews', postgresql_where=PUBLISHED)
    op.create_index('ix_reviews_gig_direction_published', 'reviews', ['gig_id', 'direction', 'published_at', 'id'], unique=False, postgresql_where=PUBLISHED)
    op.create_index('ix_reviews_subject_direction_published', 'reviews', ['subject_id', 'direction', 'published_at', 'id'], unique=False, postgresql_where=PUBLISHED)


def downgrade():
    op.drop_index('ix_reviews_published_at_brin', table_name='reviews', postgresql_using='brin')
    op.create_index('ix_reviews_published_at', 'reviews', ['published_at'], unique=False)
    op.drop_index('ix_reviews_subject_direction_published', table_name='reviews', postgresql_where=PUBLISHED)
    op.drop_index('ix_reviews_gig_direction_published', table_name='reviews', postgresql_where=PUBLISHED)
    op.create_index('ix_reviews_subject_published', 'reviews', ['subject_id', 'direction', 'published_at'], unique=False, postgresql_where=PUBLISHED)
    op.create_index('ix_reviews_gig_published', 'reviews', ['gig_id', 'published_at'], unique=False, postgresql_where=PUBLISHED)
