"""Test harness: real PostgreSQL and Redis (embedded unless TEST_DATABASE_URL /
TEST_REDIS_URL are given), schemas created once per session, every test
starting from the same two freshly seeded tenants (acme, globex).

Isolation between tests is by cleanup rather than rollback, so tests may use
threads, a live server, RQ workers and separate connections like production:
after each test the tenant tables are truncated (identities restarted, so the
two tenants hold equal IDs), the seeds re-run, extra tenants dropped and Redis
flushed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app import create_app
from app.accounts.services import create_user
from app.core import jobs as app_jobs
from app.core.embedded import start_postgres, start_redis
from app.core.startup import collector_paused
from app.events.worker import Worker
from app.extensions import TracedJob, redis_store
from app.home.views import forget_anonymous_pages
from config import TestingConfig
from tenants import provisioning
from tenants.db import TENANT_SCHEMA, db, tenant_context
from tenants.migrations import migrate_all, tenant_head, tenant_tables
from tenants.resolver import get_tenant_by_slug
from tenants.spares import drop_all_spares
from tests import pgbouncer
from tests.clamd import clamd, scanning  # noqa: F401  (fixtures: a real clamd for the antivirus)
from tests.helpers import LiveServer, SocketServer, wait_until

BASE_TENANTS = {
    "acme": {"name": "Acme Test Market", "options": {"primary_color": "#0f766e"}},
    "globex": {"name": "Globex Test Market", "options": {"primary_color": "#6d28d9"}},
}
ADMIN_PASSWORD = "admin-password-123"


def seed_options(slug: str) -> dict:
    options = {"admin_email": f"admin@{slug}.test", "admin_password": ADMIN_PASSWORD}
    return {**options, **BASE_TENANTS[slug]["options"]}


def _worker_id() -> str:
    """gw0, gw1... under xdist; GIGFORGE_TEST_SLOT lets parallel sessions use separate databases."""
    slot = os.environ.get("GIGFORGE_TEST_SLOT")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return f"s{slot}{worker}" if slot else worker


def _redis_db_index() -> int:
    slot = os.environ.get("GIGFORGE_TEST_SLOT")
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    if slot:
        return 1 + (2 * int(slot) + worker) % 15  # slots 0-6 with two workers each never share
    return 1 + worker % 15


def _database_url() -> str | None:
    """Per-xdist-worker database on an external server, when one is given."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    base = sa.engine.make_url(url)
    name = f"{base.database}_{_worker_id()}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _redis_url() -> str:
    """A Redis database of this worker's own (flushed between tests)."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        parsed = sa.engine.make_url(url.replace("redis://", "postgresql://", 1))  # just to split it
        host = f"{parsed.host or '127.0.0.1'}:{parsed.port or 6379}"
        return f"redis://{host}/{_redis_db_index()}"
    socket_url = start_redis(Path(TestingConfig.INSTANCE_DIR), persist=False)
    return f"{socket_url}?db={_redis_db_index()}"


def _hold_slot_lock() -> None:
    """Two pytest sessions with the same slot would reset each other's database: serialize them."""
    import fcntl

    if os.environ.get("GIGFORGE_SLOT_LOCK_PID") == str(os.getpid()):
        return  # this module imported a second time (e.g. as tests.conftest): lock already held
    path = Path(TestingConfig.INSTANCE_DIR) / f"slot-{_worker_id()}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "w")  # noqa: SIM115  (held for the whole session)
    fcntl.flock(handle, fcntl.LOCK_EX)
    globals()["_SLOT_LOCK"] = handle
    os.environ["GIGFORGE_SLOT_LOCK_PID"] = str(os.getpid())


class SuiteConfig(TestingConfig):
    SQLALCHEMY_DATABASE_URI = _database_url()
    REDIS_URL = _redis_url()
    EMBEDDED_DB_NAME = f"gigforge_test_{_worker_id()}"
    INSTANCE_DIR = str(Path(TestingConfig.INSTANCE_DIR))


def _reset_database(app) -> None:
    with db.engine.begin() as conn:
        schemas = conn.execute(
            sa.text(
                "SELECT nspname FROM pg_namespace "
                "WHERE nspname LIKE 'tenant\\_%' OR nspname LIKE 'autogen\\_%' OR nspname LIKE 'spare\\_%'"
            )
        ).scalars()
        for schema in schemas:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")


def _create_base_tenant(app, slug: str) -> None:
    ref = provisioning.create_tenant(
        slug,
        BASE_TENANTS[slug]["name"],
        base_domain=app.config["BASE_DOMAIN"],
        options=seed_options(slug),
    ).tenant
    _rows_stay_in_insertion_order(ref.schema)


def _create_base_tenants(app) -> None:
    for slug in BASE_TENANTS:
        _create_base_tenant(app, slug)


def _rows_stay_in_insertion_order(schema: str) -> None:
    """No autovacuum on the base tenants' tables. Teardowns empty them with DELETE (below): a
    vacuum in the middle of a test would let its next rows reuse the freed space before its
    earlier ones, and a read without ORDER BY would no longer see them in insertion order, as
    it does on the fresh files a TRUNCATE leaves. The periodic full TRUNCATE bounds the dead
    rows instead."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "; ".join(
                f'ALTER TABLE "{schema}"."{t.name}" SET (autovacuum_enabled = false, '
                "toast.autovacuum_enabled = false)"
                for t in tenant_tables()
            )
        )


def _through_pgbouncer(request) -> None:
    """GIGFORGE_TEST_PGBOUNCER=1: the suite talks to its database through PgBouncer (transaction
    pooling, no prepared statements); see tests/pgbouncer.py."""
    direct = SuiteConfig.SQLALCHEMY_DATABASE_URI or start_postgres(
        Path(SuiteConfig.INSTANCE_DIR), SuiteConfig.EMBEDDED_DB_NAME, fast_unsafe=True
    )
    pooled, process = pgbouncer.start(direct)
    request.addfinalizer(lambda: pgbouncer.stop(process))
    SuiteConfig.SQLALCHEMY_DATABASE_URI = pooled
    SuiteConfig.SQLALCHEMY_ENGINE_OPTIONS = {
        **SuiteConfig.SQLALCHEMY_ENGINE_OPTIONS,
        "connect_args": {"prepare_threshold": None},
    }


@pytest.fixture(scope="session")
def app(request):
    # Taken here, not at import: under xdist the controller imports this module too.
    _hold_slot_lock()
    if pgbouncer.enabled():
        _through_pgbouncer(request)
    with collector_paused():  # as wsgi.py: the session's app and the collected tests stay
        app = create_app(SuiteConfig)
    # A job called outside an app context (as RQ runs it) must use this app, not
    # build a development one against another database.
    app_jobs._worker_app = app
    with app.app_context():
        _reset_database(app)
        report = migrate_all(jobs=1)
        assert report.ok, report.failed
        _create_base_tenants(app)
        redis_store.client.flushdb()
    yield app
    with app.app_context():
        db.engine.dispose()


@functools.cache
def _head() -> str | None:
    return tenant_head()


@functools.cache
def _nonempty_tables_sql(schema: str) -> str:
    """The tenant tables holding a row, in one statement."""
    return " UNION ALL ".join(
        f'SELECT \'{t.name}\' WHERE EXISTS (SELECT 1 FROM "{schema}"."{t.name}")' for t in tenant_tables()
    )


_TRUNCATE_EVERY = 100  # teardowns between full TRUNCATEs (dead rows stay bounded without autovacuum)
_teardowns = iter(range(1, 10**9))


def _empty_touched(conn, schema: str, full: bool) -> None:
    """Empty the tables a test left rows in and set the sequences it used back to their start:
    the state TRUNCATE ... RESTART IDENTITY of every table gives, without TRUNCATE, which makes
    new files for every table and index it names, and through CASCADE names nearly all ~90
    (most reference users): that was most of each test's teardown. The foreign keys' triggers
    are off for the DELETEs (``session_replication_role``), so their order does not matter.
    ``full``: TRUNCATE them all, as before (now and then, so that a server without autovacuum
    does not pile up the DELETEs' dead rows)."""
    if full:
        names = ", ".join(f'"{schema}"."{t.name}"' for t in tenant_tables())
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        return
    touched = list(conn.exec_driver_sql(_nonempty_tables_sql(schema)).scalars())
    if touched:
        deletes = "; ".join(f'DELETE FROM "{schema}"."{name}"' for name in touched)
        conn.exec_driver_sql(f"SET LOCAL session_replication_role = replica; {deletes}")
    conn.execute(
        sa.text(
            "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
            "FROM pg_sequences WHERE schemaname = :schema AND last_value IS NOT NULL"
        ),
        {"schema": schema},
    )


def _truncate_and_reseed(app) -> None:
    full = next(_teardowns) % _TRUNCATE_EVERY == 0
    with app.app_context():
        for slug, spec in BASE_TENANTS.items():
            ref = get_tenant_by_slug(slug)
            if ref is None or ref.status != "active" or ref.name != spec["name"]:
                # A test suspended, renamed or dropped a base tenant: rebuild it.
                if ref is not None:
                    provisioning.drop_tenant(slug)
                _create_base_tenant(app, slug)
                continue
            with db.engine.begin() as conn:
                _empty_touched(conn, ref.schema, full)
                # A test may have faked an old schema version (health pages): back to head.
                conn.execute(
                    sa.text(f'UPDATE "{ref.schema}".alembic_version SET version_num = :head'),
                    {"head": _head()},
                )
                conn.execution_options(schema_translate_map={TENANT_SCHEMA: ref.schema})
                provisioning._seed(conn, ref, seed_options(slug))
        with db.engine.connect() as conn:
            extra = (
                conn.execute(
                    sa.text("SELECT slug FROM public.tenants WHERE slug <> ALL(:keep)"),
                    {"keep": list(BASE_TENANTS)},
                )
                .scalars()
                .all()
            )
        for slug in extra:
            provisioning.drop_tenant(slug)
        drop_all_spares()
        with db.engine.begin() as conn:
            # Back to the default hostname only, primary and verified (tests add and promote
            # custom domains); platform admins are created per test.
            default_host = "t.slug || '.' || :base"
            params = {"base": app.config["BASE_DOMAIN"]}
            conn.execute(
                sa.text(
                    "DELETE FROM public.tenant_domains d USING public.tenants t "
                    f"WHERE d.tenant_id = t.id AND d.hostname <> {default_host}"
                ),
                params,
            )
            conn.execute(
                sa.text(
                    "UPDATE public.tenant_domains d SET is_primary = true, status = 'verified' "
                    f"FROM public.tenants t WHERE d.tenant_id = t.id AND d.hostname = {default_host} "
                    "AND NOT (d.is_primary AND d.status = 'verified')"
                ),
                params,
            )
            conn.execute(sa.text("DELETE FROM public.platform_admins"))
            conn.execute(sa.text("UPDATE public.tenants SET plan = 'standard' WHERE plan <> 'standard'"))
        redis_store.client.flushdb()
        app.extensions["tenants"].invalidate()
        forget_anonymous_pages()  # keyed on the home generation, which the flush just reset


class _Kept:
    """The state tests marked ``keeps_state(key)`` share on this worker (``kept``): its key, and
    what built it returned. None: the state is the base tenants' as every teardown leaves it."""

    key: str | None = None
    value: object = None


def _keeps_state(request) -> str | None:
    marker = request.node.get_closest_marker("keeps_state")
    return marker.args[0] if marker is not None else None


def _forget_kept(app) -> None:
    """Back to the base state from a kept one (what the kept tests' teardowns skipped)."""
    _Kept.key, _Kept.value = None, None
    _truncate_and_reseed(app)
    _remove_files()


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Every test starts from the base tenants' state and its teardown goes back to it, except
    between tests marked ``keeps_state`` with the same key: they only read what ``kept`` built
    once (the demo's seed, ~10 s), so the first builds it, the next ones find it in place, and
    the first test of any other kind drops it before it starts."""
    key = _keeps_state(request)
    if _Kept.key is not None and _Kept.key != key:
        _forget_kept(request.getfixturevalue("app"))
    yield
    if "app" in request.fixturenames and (key is None or _Kept.key != key):
        _truncate_and_reseed(request.getfixturevalue("app"))


@pytest.fixture
def kept(request):
    """``kept(build)`` -> what ``build()`` returned for the first test of a row of tests marked
    ``keeps_state(key)`` on this worker; the next ones get it without building again. For state
    the tests only read: a test that changes it must not carry the mark."""
    key = _keeps_state(request)

    def get(build):
        assert key is not None, "kept() is for tests marked keeps_state(key)"
        if _Kept.key != key:
            value = build()
            _Kept.key, _Kept.value = key, value
        return _Kept.value

    return get


@pytest.fixture
def acme(app):
    with app.app_context():
        return get_tenant_by_slug("acme")


@pytest.fixture
def globex(app):
    with app.app_context():
        return get_tenant_by_slug("globex")


class TenantClient(FlaskClient):
    """A test client whose requests carry a fixed Host header."""

    def __init__(self, *args, host: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.host = host

    def open(self, *args, **kwargs):
        if args and isinstance(args[0], str) or "path" in kwargs:
            kwargs.setdefault("base_url", f"http://{self.host}/")
        return super().open(*args, **kwargs)


@pytest.fixture
def tenant_client(app):
    """``tenant_client("acme")`` -> a client for acme.localhost (any hostname works too)."""

    def factory(slug_or_host: str) -> TenantClient:
        host = slug_or_host if "." in slug_or_host else f"{slug_or_host}.{app.config['BASE_DOMAIN']}"
        return TenantClient(app, app.response_class, use_cookies=True, host=host)

    return factory


@pytest.fixture
def platform_client(tenant_client, app):
    return tenant_client(app.config["BASE_DOMAIN"] + ".")  # trailing dot: still the bare host


@pytest.fixture
def in_tenant(app):
    """``with in_tenant(acme): ...`` runs the block in an app context with the tenant bound."""

    @contextlib.contextmanager
    def bind(ref):
        with app.app_context(), tenant_context(ref):
            yield ref

    return bind


@pytest.fixture
def make_user(in_tenant):
    counter = iter(range(1, 10_000))

    def factory(
        tenant, email=None, password="correct-horse-battery", display_name=None, role="member", verified=True
    ):
        """A user of ``tenant``; verified by default (``verified=False`` for the email gate's tests)."""
        n = next(counter)
        with in_tenant(tenant):
            user = create_user(
                email or f"user{n}@example.com", password, display_name or f"User {n}", role=role
            )
            if verified:
                user.email_verified_at = datetime.now(UTC)
            db.session.commit()
            return user.id

    return factory


@pytest.fixture
def make_seller(make_user, in_tenant):
    """``make_seller(tenant, email=...)`` -> id of a new user with a seller profile."""
    from app.accounts.models import User
    from app.accounts.services import upsert_seller_profile

    def factory(tenant, email=None, display_name=None, **kwargs):
        user_id = make_user(tenant, email=email, display_name=display_name, **kwargs)
        with in_tenant(tenant):
            upsert_seller_profile(db.session.get(User, user_id), headline="Designer for hire")
            db.session.commit()
        return user_id

    return factory


@pytest.fixture
def access_token(in_tenant):
    """``access_token(tenant, user_id)`` -> a fresh API access token."""
    from app.accounts.models import User
    from app.accounts.tokens import issue_token_pair

    def issue(tenant, user_id: int) -> str:
        with in_tenant(tenant):
            pair = issue_token_pair(db.session.get(User, user_id))
            db.session.commit()
            return pair["access_token"]

    return issue


@pytest.fixture
def run_jobs(app):
    """Run every queued RQ job in this process until the queues are empty."""

    def run(queues=("events", "default")):
        with app.app_context():
            worker = Worker(
                list(queues), connection=redis_store.client, stop=threading.Event(), job_class=TracedJob
            )
            worker.work(burst=True, with_scheduler=False)

    return run


@pytest.fixture
def live_server(app):
    """A real HTTP server of the suite's app; absolute links (emails, app.core.urls) carry its port."""
    server = LiveServer(app).start()
    previous = app.config.get("PUBLIC_PORT", "")
    app.config["PUBLIC_PORT"] = str(server.port)
    yield server
    app.config["PUBLIC_PORT"] = previous
    server.stop()


@pytest.fixture
def socket_server(app):
    """A live server addressed by tenant slug, for Socket.IO clients (tests.helpers.ChatClient)."""
    server = SocketServer(app).start()
    yield server
    server.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("GIGFORGE_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing but GIGFORGE_REQUIRE_BROWSER is set")
        pytest.skip(f"BROWSER TESTS SKIPPED: {CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# --- Email and files --------------------------------------------------------------------
# Tenant IDs and slugs restart every session and repeat across xdist workers, so each
# worker keeps its stored files and outbox mail in folders of its own, emptied per test.
SuiteConfig.STORAGE_LOCAL_DIR = str(Path(SuiteConfig.INSTANCE_DIR) / f"files-{_worker_id()}")
SuiteConfig.MAIL_OUTBOX_DIR = str(Path(SuiteConfig.INSTANCE_DIR) / f"mail-outbox-{_worker_id()}")
SuiteConfig.SEARCH_INDEX_DIR = str(Path(SuiteConfig.INSTANCE_DIR) / f"search-{_worker_id()}")


@pytest.fixture(autouse=True)
def _metrics_files_kept():
    """Fails the test that removed this process's metric files (say, a subprocess started with
    this process's PROMETHEUS_MULTIPROC_DIR that empties it: gunicorn's master does). Its
    counters would go on writing to unlinked files and every later scrape would miss them."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    suffix = f"_{os.getpid()}.db"
    before = {p.name for p in folder.glob(f"*{suffix}")}
    yield
    gone = sorted(name for name in before if not (folder / name).exists())
    assert not gone, f"this test removed the test process's metric files {gone} from {folder}"


def _remove_files() -> None:
    import shutil

    for folder in (SuiteConfig.STORAGE_LOCAL_DIR, SuiteConfig.MAIL_OUTBOX_DIR, SuiteConfig.SEARCH_INDEX_DIR):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _clean_files(request):
    yield
    key = _keeps_state(request)
    if key is None or _Kept.key != key:  # a kept state keeps its files (the search index) too
        _remove_files()


@pytest.fixture
def search_index_dir(app):
    """This worker's own search index folder, empty at the start (and the end) of the test."""
    import shutil

    folder = Path(app.config["SEARCH_INDEX_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


class _SMTPRecorder:
    """aiosmtpd handler: keeps every message it accepts, parsed."""

    def __init__(self):
        self.messages = []
        self.envelopes = []
        self.condition = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=policy.default)
        with self.condition:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.condition.notify_all()
        return "250 Message accepted for delivery"

    def clear(self):
        with self.condition:
            self.messages.clear()
            self.envelopes.clear()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1, for the whole session."""
    from aiosmtpd.controller import Controller

    recorder = _SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=_free_port())
    controller.start()
    controller.recorder = recorder
    yield controller
    controller.stop()


class Mailbox:
    """What the test SMTP server received (messages go out when the test calls ``run_jobs()``)."""

    def __init__(self, recorder, host: str, port: int):
        self._recorder = recorder
        self.host = host
        self.port = port

    @property
    def messages(self) -> list:
        """Parsed ``email.message.EmailMessage`` objects, in arrival order."""
        with self._recorder.condition:
            return list(self._recorder.messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        with self._recorder.condition:
            return list(self._recorder.envelopes)

    def wait_for(self, n: int, timeout: float = 5) -> list:
        """Wait until at least ``n`` messages arrived; returns them or fails the test."""
        with self._recorder.condition:
            arrived = self._recorder.condition.wait_for(lambda: len(self._recorder.messages) >= n, timeout)
            if not arrived:
                pytest.fail(f"expected {n} email(s) within {timeout}s, got {len(self._recorder.messages)}")
            return list(self._recorder.messages)

    @staticmethod
    def text(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    @staticmethod
    def html(message) -> str:
        return message.get_body(preferencelist=("html",)).get_content()

    def links(self, message) -> list[str]:
        """URLs in the text part, in order."""
        import re

        return [url.rstrip(".,;:!?") for url in re.findall(r"https?://[^\s<>\"')\]]+", self.text(message))]

    def clear(self) -> None:
        self._recorder.clear()


@pytest.fixture
def mailbox(app, smtp_server, monkeypatch):
    """Point the app's mail at the loopback SMTP server for this test; starts empty."""
    host, port = smtp_server.hostname, smtp_server.port
    settings = {
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": host,
        "MAIL_PORT": port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_STARTTLS": False,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
    }
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    smtp_server.recorder.clear()
    return Mailbox(smtp_server.recorder, host, port)


SENTINEL_SUBJECT = "Sentinel: everything sent before me has arrived"


@pytest.fixture
def mail_settled(mailbox, in_tenant, run_jobs):
    """``mail_settled(tenant)`` -> the messages that arrived before a sentinel email, once it arrived.

    "Nothing more was sent", proven rather than waited for: one more email is recorded, queued
    and sent through the app's own path (``send_email``, the mail queue, SMTP), behind anything
    already queued; once it is in the mailbox, whatever was on its way came before it. The
    sentinel adds an ``EmailMessage`` row to ``tenant``.
    """
    from app.mail.services import send_email

    def settle(tenant) -> list:
        with in_tenant(tenant):
            send_email("sentinel@example.com", "notice", SENTINEL_SUBJECT, {"heading": "Sentinel"})
            db.session.commit()
        run_jobs()

        def before_sentinel():
            messages = mailbox.messages
            for index, message in enumerate(messages):
                if message["Subject"] == SENTINEL_SUBJECT:
                    return (messages[:index],)  # a tuple: true even when nothing came before
            return None

        (before,) = wait_until(before_sentinel, timeout=5, message="the sentinel email never arrived")
        return before

    return settle
