"""The brief's nine job templates, seeded into every tenant (``seed_job_templates``) and into
existing tenants by migration t0019 (which keeps its own copy: migrations never import app code).
The receiver lives here, beside its data, on the models alone: ``flask tenants create`` does not
import the jobs' services (docs/design/performance.md, "CLI startup").

Each milestone: title, deliverable, a Definition-of-Done checklist and its share of the budget
(shares sum to 100).
"""

from __future__ import annotations

from app.jobs.models import JobTemplate


def _m(title: str, deliverable: str, dod: list[str], share: int) -> dict:
    return {"title": title, "deliverable": deliverable, "dod": dod, "share_percent": share}


STARTER_TEMPLATES: list[dict] = [
    {
        "key": "saas-mvp",
        "name": "SaaS MVP",
        "summary": "A first sellable version of a web product: sign-up, core feature, billing.",
        "scope": "Build the minimum viable version of a SaaS product: user sign-up and login, the one "
        "core workflow, subscription billing and an admin view, deployed to production.",
        "skills": ["python", "react", "postgresql", "stripe"],
        "duration": "1_to_3_months",
        "milestones": [
            _m(
                "Specification and design",
                "Clickable prototype and data model",
                ["User flows agreed", "Wireframes approved", "Data model reviewed"],
                20,
            ),
            _m(
                "Core feature",
                "Working core workflow on staging",
                ["Feature complete on staging", "Automated tests pass", "Demo recorded"],
                50,
            ),
            _m(
                "Billing and launch",
                "Production deployment with billing",
                ["Payments tested end to end", "Deployed to production", "Handover notes written"],
                30,
            ),
        ],
    },
    {
        "key": "shopify-app",
        "name": "Shopify app",
        "summary": "A public or custom Shopify app with an embedded admin.",
        "scope": "Build a Shopify app: OAuth install, an embedded admin page built with Polaris, the "
        "webhooks it needs, and app-store ready listing material.",
        "skills": ["shopify", "javascript", "node.js", "graphql"],
        "duration": "1_to_4_weeks",
        "milestones": [
            _m(
                "Install and auth",
                "App installs on a development store",
                ["OAuth install works", "Webhooks registered", "Uninstall cleans up"],
                30,
            ),
            _m(
                "App features",
                "Embedded admin with the agreed features",
                ["Features work on a test store", "Polaris UI", "Errors handled"],
                50,
            ),
            _m(
                "Review readiness",
                "Listing and review checklist",
                ["Shopify review checklist met", "Privacy policy linked", "Source handed over"],
                20,
            ),
        ],
    },
    {
        "key": "nextjs-site",
        "name": "Next.js site",
        "summary": "A fast marketing or content site on Next.js.",
        "scope": "Build a responsive Next.js website from the provided designs, with a headless CMS "
        "for content, SEO metadata and good Core Web Vitals.",
        "skills": ["next.js", "react", "typescript", "css"],
        "duration": "1_to_4_weeks",
        "milestones": [
            _m(
                "Layout and pages",
                "All pages built from the designs",
                ["Matches designs at phone and desktop widths", "Accessible markup"],
                50,
            ),
            _m(
                "CMS and launch",
                "Content editable and site live",
                ["CMS connected", "Lighthouse performance above 90", "Deployed on the client's domain"],
                50,
            ),
        ],
    },
    {
        "key": "rest-api",
        "name": "REST API",
        "summary": "A documented, tested HTTP API.",
        "scope": "Design and build a REST API with authentication, validation, pagination, OpenAPI "
        "documentation and automated tests, deployed with CI.",
        "skills": ["python", "rest", "openapi", "postgresql"],
        "duration": "1_to_4_weeks",
        "milestones": [
            _m(
                "API design", "OpenAPI specification", ["Resources and errors specified", "Spec approved"], 20
            ),
            _m(
                "Implementation",
                "Endpoints implemented",
                ["All endpoints match the spec", "Test coverage above 80 %", "Auth enforced"],
                60,
            ),
            _m("Deployment", "Running service with CI", ["CI green", "Deployed", "Runbook written"], 20),
        ],
    },
    {
        "key": "data-pipeline",
        "name": "Data pipeline",
        "summary": "Move, clean and load data on a schedule.",
        "scope": "Build a scheduled data pipeline that extracts from the named sources, cleans and "
        "validates the data and loads it into the warehouse, with monitoring and alerts.",
        "skills": ["python", "sql", "airflow", "etl"],
        "duration": "1_to_3_months",
        "milestones": [
            _m(
                "Sources and schema",
                "Source connectors and target schema",
                ["Each source extracts", "Target schema reviewed"],
                30,
            ),
            _m(
                "Transformations",
                "Clean, validated data in the warehouse",
                ["Data quality checks pass", "Backfill complete"],
                50,
            ),
            _m(
                "Operations",
                "Scheduled runs with alerting",
                ["Runs on schedule", "Failures alert", "Documentation delivered"],
                20,
            ),
        ],
    },
    {
        "key": "llm-app",
        "name": "LLM app",
        "summary": "An application built on a large language model, with evaluation.",
        "scope": "Build an application on a large language model: prompt and retrieval design, an "
        "evaluation set with measured quality, guardrails, cost limits and a simple interface.",
        "skills": ["python", "llm", "rag", "openai"],
        "duration": "1_to_3_months",
        "milestones": [
            _m(
                "Prototype and evaluation set",
                "Working prototype and an evaluation set",
                ["Evaluation set agreed", "Baseline score measured"],
                30,
            ),
            _m(
                "Retrieval and guardrails",
                "Improved pipeline",
                ["Score improves on the baseline", "Guardrails tested", "Cost per request measured"],
                40,
            ),
            _m(
                "Interface and deployment",
                "Deployed application",
                ["Interface usable", "Monitoring in place", "Handover notes written"],
                30,
            ),
        ],
    },
    {
        "key": "mobile-app",
        "name": "Mobile app",
        "summary": "An iOS and Android app from one code base.",
        "scope": "Build a cross-platform mobile app (iOS and Android) from the provided designs, with "
        "authentication, the core screens, push notifications and store submission.",
        "skills": ["react native", "typescript", "ios", "android"],
        "duration": "3_to_6_months",
        "milestones": [
            _m(
                "Core screens",
                "Navigable app with the core screens",
                ["Runs on both platforms", "Matches designs"],
                40,
            ),
            _m(
                "Backend integration",
                "App connected to the API",
                ["Auth works", "Offline states handled", "Push notifications arrive"],
                40,
            ),
            _m(
                "Store release",
                "Apps submitted to the stores",
                ["Store listings ready", "Builds submitted", "Crash reporting on"],
                20,
            ),
        ],
    },
    {
        "key": "devops-task",
        "name": "DevOps task",
        "summary": "CI/CD, infrastructure as code or a migration to the cloud.",
        "scope": "Set up or improve infrastructure: infrastructure as code, CI/CD pipelines, "
        "monitoring and backups for the named services.",
        "skills": ["docker", "kubernetes", "terraform", "ci/cd"],
        "duration": "under_1_week",
        "milestones": [
            _m(
                "Infrastructure as code",
                "Reproducible infrastructure",
                ["Applies cleanly from scratch", "Secrets kept out of the repository"],
                50,
            ),
            _m(
                "Pipelines and monitoring",
                "CI/CD and dashboards",
                ["Deploys from the main branch", "Alerts configured", "Backups restore"],
                50,
            ),
        ],
    },
    {
        "key": "security-audit",
        "name": "Security audit",
        "summary": "A review of an application's security with a prioritised report.",
        "scope": "Audit the application's security: threat model, code review and penetration test of "
        "the agreed scope, a report with findings ranked by severity, and a retest after fixes.",
        "skills": ["security", "penetration testing", "owasp"],
        "duration": "1_to_4_weeks",
        "milestones": [
            _m(
                "Threat model and testing",
                "Findings report",
                ["Scope covered", "Each finding reproducible", "Severity ranked"],
                70,
            ),
            _m("Retest", "Retest report", ["Fixes verified", "Residual risks listed"], 30),
        ],
    },
]


def seed_job_templates(_sender, *, session, tenant, options) -> list[str]:
    """tenant_seed receiver: the brief's nine job templates."""
    for position, spec in enumerate(STARTER_TEMPLATES):
        session.add(JobTemplate(position=position, **spec))
    return []
