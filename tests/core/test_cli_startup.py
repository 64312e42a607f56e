"""``flask --app wsgi tenants ...`` runs on the lean app (``app.create_cli_app``): it does not
import the web (views, the API and its OpenAPI machinery, the console, Socket.IO, forms, Alembic,
sentry-sdk), yet it has every table and every receiver of the tenancy engine's signals that the
whole app has, and creates a tenant exactly as before (docs/design/performance.md, "CLI startup")."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.core.cli_mode import first_command
from app.events.models import OutboxEvent
from app.events.services import relay_tenant
from app.extensions import get_queue
from app.gigs.models import Category
from app.jobs.models import JobTemplate
from app.settings.models import MarketplaceSettings
from tenants.db import db, tenant_context
from tenants.migrations import tenant_head, tenant_tables, tenant_versions
from tenants.resolver import get_tenant_by_slug
from tenants.spares import create_spare, ready_spares
from tests.helpers import child_env

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).parent / "flask")

# Never imported by a tenant command: the web's libraries and our views, APIs and console.
WEB_PACKAGES = (
    "flask_smorest",
    "apispec",
    "flask_socketio",
    "engineio",
    "flask_wtf",
    "wtforms",
    "flask_migrate",
    "alembic",
    "mako",
    "sentry_sdk",
    # Loaded on first use, which a tenant command never reaches: the API's schemas (the
    # services' windows and cursors do without), Markdown rendering, user-agent parsing.
    "marshmallow",
    "markdown_it",
    "ua_parser",
    "yaml",
)
# Nor by `tenants --help` or `tenants create`: they never talk to Redis (a creation leaves the
# admin's invitation to the worker's relay); a command that does imports them on first use.
QUEUE_PACKAGES = ("redis", "rq")
SERVICES_MODULE_RE = re.compile(r"^app\.\w+\.(services|models|backends)$|^app\.storage$")
WEB_MODULE_RE = re.compile(r"^app\.(\w+\.(views|api|.*_views|.*_api)|console\.(?!models$).+|core\.api_docs)$")


def _imported(args: list[str], env: dict[str, str]) -> tuple[set[str], str]:
    """(every module the process imported, its stdout), read from ``python -X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    }
    assert "flask" in modules and "app" in modules  # the report was read
    return modules, result.stdout


def _web(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in WEB_PACKAGES or WEB_MODULE_RE.match(m))


def _queue(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in QUEUE_PACKAGES)


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["--app", "wsgi", "tenants", "create", "acme"], "tenants"),
        (["-A", "wsgi", "--debug", "tenants", "list"], "tenants"),
        (["--app=wsgi", "-e", ".env", "tenants", "--help"], "tenants"),
        (["-Awsgi", "--no-debug", "--", "tenants", "list"], "tenants"),
        (["--app", "tenants", "worker"], "worker"),  # an option's value is not the command
        (["--app", "wsgi", "--help"], None),
        ([], None),
    ],
)
def test_the_command_is_the_first_argument_after_flasks_options(args, command):
    assert first_command(args) == command


@pytest.mark.slow
def test_a_tenant_command_imports_none_of_the_web_and_the_whole_app_does(app, tmp_path):
    env = child_env(app, tmp_path)
    lean, out = _imported([FLASK, "--app", "wsgi", "tenants", "--help"], env)
    assert _web(lean) == []
    assert _queue(lean) == []
    # Nor the services behind the receivers of the engine's signals, or the tenant's models:
    # they are imported when a signal is first sent (a creation's seeds, a drop).
    assert sorted(m for m in lean if SERVICES_MODULE_RE.match(m)) == []
    for command in ("create", "migrate", "spares", "drop", "set-plan"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), out
    # The control: any other command (here the command list) builds the whole app.
    whole, out = _imported([FLASK, "--app", "wsgi", "--help"], env)
    assert {"flask_smorest", "app.gigs.views", "app.console.blueprints", "alembic"} <= set(_web(whole))
    assert {"redis", "rq"} <= set(_queue(whole))
    assert "worker" in out and "tenants" in out


@pytest.mark.slow
def test_the_lean_app_has_every_table_and_receiver_of_the_whole_app(app, tmp_path):
    from tenants import signals

    def receivers(signal) -> list[str]:
        return sorted(f"{r.__module__}.{r.__qualname__}" for r in signal.receivers_for(None))

    def commands(group) -> list[str]:
        return sorted(group.commands)

    probe = """
import json
from app import create_cli_app
from tenants import signals
from tenants.db import db, whole_metadata

def receivers(signal):
    return sorted(f"{r.__module__}.{r.__qualname__}" for r in signal.receivers_for(None))

app = create_cli_app()
names = ("tenant_seed", "tenant_created", "tenant_dropped", "tenant_status_changed")
declared_first = sorted(db.metadata.tables)
print(json.dumps({
    "declared_first": declared_first,
    "tables": sorted(whole_metadata().tables),
    "receivers": {name: receivers(getattr(signals, name)) for name in names},
    "tenant_commands": sorted(app.cli.commands["tenants"].commands),
}))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=child_env(app, tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lean = json.loads(result.stdout)
    assert lean["tables"] == sorted(db.metadata.tables)
    assert len(lean["tables"]) > 80
    # Declared on demand: the engine's public tables at start, the receivers' models with their
    # modules at the first signal, the rest when every table is needed.
    assert "public.tenants" in lean["declared_first"]
    assert not [t for t in lean["declared_first"] if t.startswith("__tenant__.")]
    for name in ("tenant_seed", "tenant_dropped", "tenant_status_changed"):
        assert lean["receivers"][name] == receivers(getattr(signals, name)), name
    assert lean["receivers"]["tenant_seed"]  # the seeds are connected at all
    # All but the hand-over of a new tenant's outbox to the worker: a command leaves its
    # events (the admin's invitation) to the worker's relay, and never imports RQ for them.
    assert receivers(signals.tenant_created) == ["app.accounts.services.invite_admin"]
    assert lean["receivers"]["tenant_created"] == []
    assert lean["tenant_commands"] == commands(app.cli.commands["tenants"])


@pytest.mark.slow
@pytest.mark.parametrize("spare", [False, True], ids=["building-its-schema", "from-a-spare"])
def test_flask_tenants_create_on_the_lean_app_provisions_and_seeds_as_before(app, tmp_path, spare):
    if spare:
        with app.app_context():
            create_spare()
    env = child_env(app, tmp_path)
    modules, out = _imported(
        [
            FLASK,
            "--app",
            "wsgi",
            "tenants",
            "create",
            "leanco",
            "--name",
            "Lean Co",
            "--admin-email",
            "boss@lean.test",
        ],
        env,
    )
    assert _web(modules) == []
    assert _queue(modules) == []  # nothing queued: no redis-py, no RQ
    # The seeds import the models they write, not the domains' services.
    assert not {"app.settings.services", "app.gigs.services", "app.jobs.services"} & modules
    assert {"app.settings.models", "app.gigs.models", "app.jobs.models"} <= modules
    assert "Created tenant leanco" in out
    assert "admin: boss@lean.test (invited: a set-password link is emailed)" in out
    with app.app_context():
        tenant = get_tenant_by_slug("leanco")
        assert tenant is not None and tenant.name == "Lean Co"
        assert ready_spares() == 0
        assert tenant_versions(db.session.connection(), [tenant.schema]) == {tenant.schema: tenant_head()}
        db.session.rollback()
        with db.engine.connect() as conn:
            tables = conn.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": tenant.schema}
            ).scalars()
            assert set(tables) == {t.name for t in tenant_tables()} | {"alembic_version"}
        with tenant_context(tenant):
            assert db.session.scalar(sa.select(MarketplaceSettings.name)) == "Lean Co"
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Category)) > 0
            assert db.session.scalar(sa.select(sa.func.count()).select_from(JobTemplate)) == 9
            admin = db.session.execute(sa.select(User.email, User.role, User.password_hash)).one()
            assert tuple(admin) == ("boss@lean.test", "admin", None)
            # The invitation: the tenant's `tenant.created` event, committed with it, due now.
            event_id = db.session.execute(
                sa.select(OutboxEvent.id).where(
                    OutboxEvent.name == "tenant.created",
                    OutboxEvent.status == "pending",
                    OutboxEvent.next_attempt_at <= sa.func.now(),
                )
            ).scalar_one()
            db.session.rollback()

        # Left to the worker's relay: nothing of this tenant's is queued (a shared Redis may
        # hold other processes' jobs), and the relay's pass over the tenant queues its delivery.
        def queued() -> list[tuple]:
            return [
                (job.func_name, job.args)
                for job in get_queue().get_jobs()
                if job.args and job.args[0] == tenant.id
            ]

        assert queued() == []
        assert relay_tenant(tenant.id, tenant.schema) == 1
        assert queued() == [("app.events.tasks.deliver_event", (tenant.id, event_id))]
