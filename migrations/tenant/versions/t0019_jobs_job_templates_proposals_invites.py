"""jobs, job templates, proposals, invites; the nine starter templates seeded into existing tenants

Revision ID: t0019
Revises: t0018
Create Date: 2026-12-02 18:22:32.942355
"""

import json

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 't0019'
down_revision = 't0018'
branch_labels = None
depends_on = None

# A copy of app.jobs.starter_templates.STARTER_TEMPLATES as of this revision (migrations never
# import app code): existing tenants get the same nine templates a new tenant is seeded with.
STARTER_TEMPLATES = json.loads(r'''[{"key": "saas-mvp", "name": "SaaS MVP", "summary": "A first sellable version of a web product: sign-up, core feature, billing.", "scope": "Build the minimum viable version of a SaaS product: user sign-up and login, the one core workflow, subscription billing and an admin view, deployed to production.", "skills": ["python", "react", "postgresql", "stripe"], "duration": "1_to_3_months", "milestones": [{"title": "Specification and design", "deliverable": "Clickable prototype and data model", "dod": ["User flows agreed", "Wireframes approved", "Data model reviewed"], "share_percent": 20}, {"title": "Core feature", "deliverable": "Working core workflow on staging", "dod": ["Feature complete on staging", "Automated tests pass", "Demo recorded"], "share_percent": 50}, {"title": "Billing and launch", "deliverable": "Production deployment with billing", "dod": ["Payments tested end to end", "Deployed to production", "Handover notes written"], "share_percent": 30}]}, {"key": "shopify-app", "name": "Shopify app", "summary": "A public or custom Shopify app with an embedded admin.", "scope": "Build a Shopify app: OAuth install, an embedded admin page built with Polaris, the webhooks it needs, and app-store ready listing material.", "skills": ["shopify", "javascript", "node.js", "graphql"], "duration": "1_to_4_weeks", "milestones": [{"title": "Install and auth", "deliverable": "App installs on a development store", "dod": ["OAuth install works", "Webhooks registered", "Uninstall cleans up"], "share_percent": 30}, {"title": "App features", "deliverable": "Embedded admin with the agreed features", "dod": ["Features work on a test store", "Polaris UI", "Errors handled"], "share_percent": 50}, {"title": "Review readiness", "deliverable": "Listing and review checklist", "dod": ["Shopify review checklist met", "Privacy policy linked", "Source handed over"], "share_percent": 20}]}, {"key": "nextjs-site", "name": "Next.js site", "summary": "A fast marketing or content site on Next.js.", "scope": "Build a responsive Next.js website from the provided designs, with a headless CMS for content, SEO metadata and good Core Web Vitals.", "skills": ["next.js", "react", "typescript", "css"], "duration": "1_to_4_weeks", "milestones": [{"title": "Layout and pages", "deliverable": "All pages built from the designs", "dod": ["Matches designs at phone and desktop widths", "Accessible markup"], "share_percent": 50}, {"title": "CMS and launch", "deliverable": "Content editable and site live", "dod": ["CMS connected", "Lighthouse performance above 90", "Deployed on the client's domain"], "share_percent": 50}]}, {"key": "rest-api", "name": "REST API", "summary": "A documented, tested HTTP API.", "scope": "Design and build a REST API with authentication, validation, pagination, OpenAPI documentation and automated tests, deployed with CI.", "skills": ["python", "rest", "openapi", "postgresql"], "duration": "1_to_4_weeks", "milestones": [{"title": "API design", "deliverable": "OpenAPI specification", "dod": ["Resources and errors specified", "Spec approved"], "share_percent": 20}, {"title": "Implementation", "deliverable": "Endpoints implemented", "dod": ["All endpoints match the spec", "Test coverage above 80 %", "Auth enforced"], "share_percent": 60}, {"title": "Deployment", "deliverable": "Running service with CI", "dod": ["CI green", "Deployed", "Runbook written"], "share_percent": 20}]}, {"key": "data-pipeline", "name": "Data pipeline", "summary": "Move, clean and load data on a schedule.", "scope": "Build a scheduled data pipeline that extracts from the named sources, cleans and validates the data and loads it into the warehouse, with monitoring and alerts.", "skills": ["python", "sql", "airflow", "etl"], "duration": "1_to_3_months", "milestones": [{"title": "Sources and schema", "deliverable": "Source connectors and target schema", "dod": ["Each source extracts", "Target schema reviewed"], "share_percent": 30}, {"title": "Transformations", "deliverable": "Clean, validated data in the warehouse", "dod": ["Data quality checks pass", "Backfill complete"], "share_percent": 50}, {"title": "Operations", "deliverable": "Scheduled runs with alerting", "dod": ["Runs on schedule", "Failures alert", "Documentation delivered"], "share_percent": 20}]}, {"key": "llm-app", "name": "LLM app", "summary": "An application built on a large language model, with evaluation.", "scope": "Build an application on a large language model: prompt and retrieval design, an evaluation set with measured quality, guardrails, cost limits and a simple interface.", "skills": ["python", "llm", "rag", "openai"], "duration": "1_to_3_months", "milestones": [{"title": "Prototype and evaluation set", "deliverable": "Working prototype and an evaluation set", "dod": ["Evaluation set agreed", "Baseline score measured"], "share_percent": 30}, {"title": "Retrieval and guardrails", "deliverable": "Improved pipeline", "dod": ["Score improves on the baseline", "Guardrails tested", "Cost per request measured"], "share_percent": 40}, {"title": "Interface and deployment", "deliverable": "Deployed application", "dod": ["Interface usable", "Monitoring in place", "Handover notes written"], "share_percent": 30}]}, {"key": "mobile-app", "name": "Mobile app", "summary": "An iOS and Android app from one code base.", "scope": "Build a cross-platform mobile app (iOS and Android) from the provided designs, with authentication, the core screens, push notifications and store submission.", "skills": ["react native", "typescript", "ios", "android"], "duration": "3_to_6_months", "milestones": [{"title": "Core screens", "deliverable": "Navigable app with the core screens", "dod": ["Runs on both platforms", "Matches designs"], "share_percent": 40}, {"title": "Backend integration", "deliverable": "App connected to the API", "dod": ["Auth works", "Offline states handled", "Push notifications arrive"], "share_percent": 40}, {"title": "Store release", "deliverable": "Apps submitted to the stores", "dod": ["Store listings ready", "Builds submitted", "Crash reporting on"], "share_percent": 20}]}, {"key": "devops-task", "name": "DevOps task", "summary": "CI/CD, infrastructure as code or a migration to the cloud.", "scope": "Set up or improve infrastructure: infrastructure as code, CI/CD pipelines, monitoring and backups for the named services.", "skills": ["docker", "kubernetes", "terraform", "ci/cd"], "duration": "under_1_week", "milestones": [{"title": "Infrastructure as code", "deliverable": "Reproducible infrastructure", "dod": ["Applies cleanly from scratch", "Secrets kept out of the repository"], "share_percent": 50}, {"title": "Pipelines and monitoring", "deliverable": "CI/CD and dashboards", "dod": ["Deploys from the main branch", "Alerts configured", "Backups restore"], "share_percent": 50}]}, {"key": "security-audit", "name": "Security audit", "summary": "A review of an application's security with a prioritised report.", "scope": "Audit the application's security: threat model, code review and penetration test of the agreed scope, a report with findings ranked by severity, and a retest after fixes.", "skills": ["security", "penetration testing", "owasp"], "duration": "1_to_4_weeks", "milestones": [{"title": "Threat model and testing", "deliverable": "Findings report", "dod": ["Scope covered", "Each finding reproducible", "Severity ranked"], "share_percent": 70}, {"title": "Retest", "deliverable": "Retest report", "dod": ["Fixes verified", "Residual risks listed"], "share_percent": 30}]}]''')


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('job_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('summary', sa.String(length=300), server_default='', nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('skills', postgresql.ARRAY(sa.String(length=40)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('milestones', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('budget_type', sa.String(length=8), server_default='fixed', nullable=False),
    sa.Column('duration', sa.String(length=16), nullable=True),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("budget_type in ('fixed', 'hourly')", name=op.f('ck_job_templates_budget_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_templates')),
    sa.UniqueConstraint('key', name=op.f('uq_job_templates_key'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description_source', sa.Text(), server_default='', nullable=False),
    sa.Column('description_html', sa.Text(), server_default='', nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('skills', postgresql.ARRAY(sa.String(length=40)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('budget_type', sa.String(length=8), nullable=False),
    sa.Column('budget_min_minor', sa.BigInteger(), nullable=True),
    sa.Column('budget_max_minor', sa.BigInteger(), nullable=True),
    sa.Column('rate_min_minor', sa.BigInteger(), nullable=True),
    sa.Column('rate_max_minor', sa.BigInteger(), nullable=True),
    sa.Column('hours_per_week', sa.SmallInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('duration', sa.String(length=16), nullable=False),
    sa.Column('experience_level', sa.String(length=16), nullable=False),
    sa.Column('visibility', sa.String(length=16), server_default='public', nullable=False),
    sa.Column('nda_required', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('ip_assignment', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('screening_questions', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='draft', nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('search_document', postgresql.TSVECTOR(), sa.Computed('(setweight(to_tsvector(\'english\'::regconfig, (title)::text), \'A\'::"char") || setweight(to_tsvector(\'english\'::regconfig, description_source), \'C\'::"char"))', persisted=True), nullable=True),
    sa.CheckConstraint("(budget_type = 'fixed' and budget_min_minor > 0 and budget_max_minor >= budget_min_minor and rate_min_minor is null and rate_max_minor is null and hours_per_week is null) or (budget_type = 'hourly' and rate_min_minor > 0 and rate_max_minor >= rate_min_minor and hours_per_week between 1 and 80 and budget_min_minor is null and budget_max_minor is null)", name=op.f('ck_jobs_budget')),
    sa.CheckConstraint("budget_type in ('fixed', 'hourly')", name=op.f('ck_jobs_budget_type')),
    sa.CheckConstraint("duration in ('under_1_week', '1_to_4_weeks', '1_to_3_months', '3_to_6_months', 'over_6_months')", name=op.f('ck_jobs_duration')),
    sa.CheckConstraint("experience_level in ('entry', 'intermediate', 'expert')", name=op.f('ck_jobs_experience_level')),
    sa.CheckConstraint("status in ('draft', 'open', 'in_progress', 'completed', 'cancelled')", name=op.f('ck_jobs_status')),
    sa.CheckConstraint("visibility in ('public', 'invite_only')", name=op.f('ck_jobs_visibility')),
    sa.CheckConstraint('cardinality(skills) <= 15', name=op.f('ck_jobs_skill_count')),
    sa.CheckConstraint('char_length(title) between 10 and 120', name=op.f('ck_jobs_title_length')),
    sa.CheckConstraint('jsonb_array_length(screening_questions) <= 5', name=op.f('ck_jobs_question_count')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_jobs_category_id_categories'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['users.id'], name=op.f('fk_jobs_client_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['job_templates.id'], name=op.f('fk_jobs_template_id_job_templates'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    op.create_index(op.f('ix_jobs_category_id'), 'jobs', ['category_id'], unique=False)
    op.create_index('ix_jobs_client_status', 'jobs', ['client_id', 'status'], unique=False)
    op.create_index('ix_jobs_open_published_at', 'jobs', ['published_at'], unique=False, postgresql_where=sa.text("status = 'open'"))
    op.create_index('ix_jobs_open_search', 'jobs', ['search_document'], unique=False, postgresql_using='gin', postgresql_where=sa.text("status = 'open'"))
    op.create_index('ix_jobs_skills', 'jobs', ['skills'], unique=False, postgresql_using='gin')
    op.create_index('ix_jobs_status_published_at', 'jobs', ['status', 'published_at'], unique=False)
    op.create_table('job_invites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='sent', nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('sent', 'accepted', 'declined', 'expired')", name=op.f('ck_job_invites_status')),
    sa.ForeignKeyConstraint(['freelancer_id'], ['users.id'], name=op.f('fk_job_invites_freelancer_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_invites_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_invites')),
    sa.UniqueConstraint('job_id', 'freelancer_id', name=op.f('uq_job_invites_job_id_freelancer_id'))
    )
    op.create_index('ix_job_invites_freelancer_id', 'job_invites', ['freelancer_id'], unique=False)
    op.create_table('proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('freelancer_id', sa.Integer(), nullable=False),
    sa.Column('cover_letter', sa.Text(), nullable=False),
    sa.Column('answers', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('payment_type', sa.String(length=8), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=True),
    sa.Column('milestones', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('rate_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('delivery_days', sa.SmallInteger(), nullable=False),
    sa.Column('portfolio_item_ids', postgresql.ARRAY(sa.Integer()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='submitted', nullable=False),
    sa.Column('decline_message', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(payment_type = 'fixed' and total_minor > 0 and rate_minor is null) or (payment_type = 'hourly' and rate_minor > 0 and total_minor is null)", name=op.f('ck_proposals_price')),
    sa.CheckConstraint("payment_type in ('fixed', 'hourly')", name=op.f('ck_proposals_payment_type')),
    sa.CheckConstraint("status in ('submitted', 'shortlisted', 'archived', 'declined', 'withdrawn', 'hired')", name=op.f('ck_proposals_status')),
    sa.CheckConstraint('delivery_days between 1 and 365', name=op.f('ck_proposals_delivery_days')),
    sa.ForeignKeyConstraint(['freelancer_id'], ['users.id'], name=op.f('fk_proposals_freelancer_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_proposals_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposals'))
    )
    op.create_index('ix_proposals_freelancer_id', 'proposals', ['freelancer_id'], unique=False)
    op.create_index('ix_proposals_job_status', 'proposals', ['job_id', 'status'], unique=False)
    op.create_index('uq_proposals_live', 'proposals', ['job_id', 'freelancer_id'], unique=True, postgresql_where=sa.text("status in ('submitted', 'shortlisted', 'archived', 'hired')"))
    # ### end Alembic commands ###
    templates = sa.table(
        "job_templates",
        sa.column("key", sa.String), sa.column("name", sa.String), sa.column("summary", sa.String),
        sa.column("scope", sa.Text), sa.column("skills", postgresql.ARRAY(sa.String)),
        sa.column("milestones", postgresql.JSONB), sa.column("duration", sa.String), sa.column("position", sa.Integer),
    )
    op.bulk_insert(templates, [{**spec, "position": n} for n, spec in enumerate(STARTER_TEMPLATES)])


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index('uq_proposals_live', table_name='proposals', postgresql_where=sa.text("status in ('submitted', 'shortlisted', 'archived', 'hired')"))
    op.drop_index('ix_proposals_job_status', table_name='proposals')
    op.drop_index('ix_proposals_freelancer_id', table_name='proposals')
    op.drop_table('proposals')
    op.drop_index('ix_job_invites_freelancer_id', table_name='job_invites')
    op.drop_table('job_invites')
    op.drop_index('ix_jobs_status_published_at', table_name='jobs')
    op.drop_index('ix_jobs_skills', table_name='jobs', postgresql_using='gin')
    op.drop_index('ix_jobs_open_search', table_name='jobs', postgresql_using='gin', postgresql_where=sa.text("status = 'open'"))
    op.drop_index('ix_jobs_open_published_at', table_name='jobs', postgresql_where=sa.text("status = 'open'"))
    op.drop_index('ix_jobs_client_status', table_name='jobs')
    op.drop_index(op.f('ix_jobs_category_id'), table_name='jobs')
    op.drop_table('jobs')
    op.drop_table('job_templates')
    # ### end Alembic commands ###
