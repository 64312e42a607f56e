"""jobs: browse indexes limited to open public jobs; no parallel scans of jobs; the keyword
document kept in the row; sellers' skills lower-case

Revision ID: t0025
Revises: t0024
Create Date: 2026-12-02 23:00:00

Measured with bench.jobs_bench (50,000 open jobs, docs/benchmarks.md): counting the newest
jobs read the whole table (50 ms); ``(published_at, id)`` limited to open public jobs counts
them from the index and serves their order. The skills GIN index covered every job, closed
ones included; limited to open public jobs, a freelancer's "jobs matching my skills" reads
exactly those. With a long list of skills the planner still preferred a parallel sequential
scan of the whole table (5x slower than the bitmap scan of the GIN index on a busy 2-core
box): ``parallel_workers = 0`` on jobs. Ranking a keyword search reads the document of every
match: stored out of line (TOAST) it cost an index lookup and a chunk read per match, so
``search_document`` gets MAIN storage (kept in the row; the descriptions move out first) and
open jobs are rewritten once so that theirs moves in (an UPDATE recomputes the generated
column; closed jobs keep theirs until they change). Matching now compares sellers' skills as
stored (``upsert_seller_profile`` has always lower-cased them); older rows are lower-cased here.
"""

from alembic import op
import sqlalchemy as sa

revision = 't0025'
down_revision = 't0024'
branch_labels = None
depends_on = None

BROWSABLE = sa.text("status = 'open' AND visibility = 'public'")
OPEN = sa.text("status = 'open'")


def upgrade():
    op.drop_index('ix_jobs_open_published_at', table_name='jobs', postgresql_where=OPEN)
    op.drop_index('ix_jobs_skills', table_name='jobs', postgresql_using='gin')
    op.create_index('ix_jobs_public_open_published_at', 'jobs', ['published_at', 'id'], unique=False, postgresql_where=BROWSABLE)
    op.create_index('ix_jobs_open_skills', 'jobs', ['skills'], unique=False, postgresql_using='gin', postgresql_where=BROWSABLE)
    op.execute("ALTER TABLE jobs SET (parallel_workers = 0)")
    op.execute("ALTER TABLE jobs ALTER COLUMN search_document SET STORAGE MAIN")
    op.execute("UPDATE jobs SET title = title WHERE status = 'open'")
    op.execute(
        "UPDATE seller_profiles SET skills = CAST(lower(CAST(skills AS text)) AS varchar(40)[]) "
        "WHERE CAST(skills AS text) <> lower(CAST(skills AS text))"
    )


def downgrade():
    op.execute("ALTER TABLE jobs ALTER COLUMN search_document SET STORAGE EXTENDED")
    op.execute("ALTER TABLE jobs RESET (parallel_workers)")
    op.drop_index('ix_jobs_open_skills', table_name='jobs', postgresql_using='gin', postgresql_where=BROWSABLE)
    op.drop_index('ix_jobs_public_open_published_at', table_name='jobs', postgresql_where=BROWSABLE)
    op.create_index('ix_jobs_skills', 'jobs', ['skills'], unique=False, postgresql_using='gin')
    op.create_index('ix_jobs_open_published_at', 'jobs', ['published_at'], unique=False, postgresql_where=OPEN)
